"""The detector interface, and what the single-pass detectors share.

* :class:`Detector` is the interface the rest of agegender uses: ``name``,
  :meth:`~Detector.detect`, :meth:`~Detector.detect_batch` and
  :meth:`~Detector.required_models`. Anything that has them is a detector (the
  ``hog-mtcnn`` cascade is one without being a :class:`BaseDetector`).
* :class:`BaseDetector` is what YuNet, MTCNN, HOG, the SSD and the Haar cascades are
  built on: :meth:`~BaseDetector.prepare` makes the one view a network sees (border
  padding, ``max_side`` downscale, colour order), the subclass finds faces in it
  (:meth:`~BaseDetector._detect_raw`), and the base maps them back to the input's
  pixels and filters them.
* :func:`nms`: the one greedy non-maximum suppression (over the union, or over the
  smaller box as MTCNN's last stage wants).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from ..faces import Faces

log = logging.getLogger(__name__)

RawDetections = tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]
"""``(boxes (N,4) x1y1x2y2, scores (N,), landmarks (N,5,2) or NaN)`` in the view's pixels."""

Color = Literal["RGB", "BGR"]


@runtime_checkable
class Detector(Protocol):
    """Finds faces in ``(H, W, 3)`` uint8 RGB images."""

    #: The detector's name (``yunet``, ``hog-mtcnn``, ...), as results report it.
    name: str

    def detect(self, image: NDArray[np.uint8]) -> Faces:
        """Faces in one image, best score first, in the image's pixels."""
        ...

    def detect_batch(self, images: Sequence[NDArray[np.uint8]]) -> list[Faces]:
        """Faces of each image (a detector that can batch same-size images overrides this)."""
        return [self.detect(im) for im in images]

    def required_models(self) -> list[tuple[str, str]]:
        """The registry ``(name, task)`` of each model this detector loads.

        :class:`~agegender.Analyzer` finds (or fetches) them before any input is read.
        None by default.
        """
        return []


@dataclass(frozen=True)
class View:
    """What a detector network sees of one input image.

    ``image`` is the input downscaled by ``scale`` (view pixels per input pixel; 1.0 when
    not), then padded by ``pad`` view pixels of black on every side, in the detector's
    colour order. :meth:`to_input` maps points back.
    """

    image: NDArray[np.uint8]
    scale: float
    pad: int

    def to_input(self, points: NDArray[np.float32]) -> NDArray[np.float32]:
        """View pixels -> input pixels (any array whose last axis is x, y pairs)."""
        out = points - self.pad if self.pad > 0 else points
        return out / self.scale if self.scale != 1.0 else out


class BaseDetector(ABC):
    """A detector that looks at one view of each image (see :meth:`prepare`).

    Subclasses implement :meth:`_detect_raw` on a :class:`View`. The base adds what
    every detector needs:

    * **border padding** (``pad``): the image is padded by this fraction of its longer
      side on every side, so a face that fills the whole frame (a tight crop) still has
      the context detectors are trained on; boxes are shifted back and clipped to the
      image. Each detector's default was chosen on the 1,884 UTKFace test crops
      (docs/detectors.md): the smallest padding that keeps its recall.
    * **max_side**: the longest side of the view (padding included) the network sees:
      a larger image is downscaled before it is padded, and boxes and landmarks come
      back in the original pixels. ``None`` never downscales. Each detector's default
      is what keeps its recall (docs/detectors.md): a CNN like YuNet finds the faces
      of a photo at 640 px for a quarter of the cost of 1280.
    * **min_face** (pixels, shorter box side) and **threshold** (score) filters.

    Landmarks are five points: left eye, right eye, nose tip, left and right mouth
    corner, left/right as seen in the picture.
    """

    #: Registry name, set by subclasses.
    name: str = "detector"
    #: Colour order of the view the network wants.
    color: ClassVar[Color] = "RGB"

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        min_face: int = 20,
        pad: float = 0.1,
        max_side: int | None = 1280,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within 0..1, got {threshold}")
        if min_face < 0:
            raise ValueError(f"min_face must be >= 0 pixels, got {min_face}")
        if pad < 0:
            raise ValueError(f"pad must be >= 0, got {pad}")
        if max_side is not None and max_side < 64:
            raise ValueError(f"max_side must be >= 64 pixels or None, got {max_side}")
        self.threshold = float(threshold)
        self.min_face = int(min_face)
        self.pad = float(pad)
        self.max_side = max_side

    # ------------------------------------------------------------------ the view
    def prepare(self, image: NDArray[np.uint8]) -> View:
        """The view of ``image`` the network sees: downscaled, padded, in its colours.

        The image is downscaled first (``INTER_AREA``) when the padded view would be
        longer than ``max_side``, then padded, so padding never costs a resize.
        """
        return self.view(image, self.max_side)

    def view(self, image: NDArray[np.uint8], max_side: int | None) -> View:
        """:meth:`prepare` at another longest side (a detector that looks twice: YuNet)."""
        import cv2

        h, w = image.shape[:2]
        side = max(h, w)
        src, scale = image, 1.0
        if max_side is not None and side + 2 * int(round(self.pad * side)) > max_side:
            long = int(max_side / (1 + 2 * self.pad))
            while long > 1 and long + 2 * int(round(self.pad * long)) > max_side:
                long -= 1
            scale = long / side
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            src = cv2.resize(image, size, interpolation=cv2.INTER_AREA)  # type: ignore[assignment]
        p = int(round(self.pad * max(src.shape[:2])))
        if p > 0:
            src = cv2.copyMakeBorder(src, p, p, p, p, cv2.BORDER_CONSTANT, value=(0, 0, 0))  # type: ignore[assignment]
        if self.color == "BGR":
            src = cv2.cvtColor(src, cv2.COLOR_RGB2BGR)  # type: ignore[assignment]
        return View(np.ascontiguousarray(src), scale, p)

    @abstractmethod
    def _detect_raw(self, view: View) -> RawDetections:
        """Raw, unfiltered detections in the view's pixels."""

    # ----------------------------------------------------------------- detecting
    def _check(self, image: NDArray[np.uint8]) -> None:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"{self.name}: expected an (H, W, 3) uint8 RGB array, got "
                f"{image.dtype} of shape {image.shape}"
            )

    def detect(self, image: NDArray[np.uint8]) -> Faces:
        """Faces in one ``(H, W, 3)`` uint8 RGB image, best score first."""
        self._check(image)
        view = self.prepare(image)
        return self._finish(self._detect_raw(view), view, image.shape[0], image.shape[1])

    def detect_batch(self, images: Sequence[NDArray[np.uint8]]) -> list[Faces]:
        """Faces of each image; detectors that can batch same-size views override this."""
        return [self.detect(im) for im in images]

    def _finish(self, raw: RawDetections, view: View, h: int, w: int) -> Faces:
        """Raw detections of ``view`` -> filtered faces in the input's ``h x w`` pixels."""
        boxes, scores, lms = raw
        boxes = view.to_input(np.asarray(boxes, np.float32).reshape(-1, 4))
        scores = np.asarray(scores, np.float32).reshape(-1)
        lms = view.to_input(np.asarray(lms, np.float32).reshape(-1, 5, 2))
        if len(boxes):
            # keep faces whose centre lies inside the real image, then clip
            cx = (boxes[:, 0] + boxes[:, 2]) / 2
            cy = (boxes[:, 1] + boxes[:, 3]) / 2
            keep = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h) & (scores >= self.threshold)
            boxes, scores, lms = boxes[keep], scores[keep], lms[keep]
            boxes = np.stack(
                [
                    np.clip(boxes[:, 0], 0, w),
                    np.clip(boxes[:, 1], 0, h),
                    np.clip(boxes[:, 2], 0, w),
                    np.clip(boxes[:, 3], 0, h),
                ],
                axis=1,
            )
            side = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
            keep = side >= max(self.min_face, 1)
            boxes, scores, lms = boxes[keep], scores[keep], lms[keep]
            order = np.argsort(-scores, kind="stable")
            boxes, scores, lms = boxes[order], scores[order], lms[order]
        return Faces(boxes=boxes, scores=scores, landmarks=lms)

    def required_models(self) -> list[tuple[str, str]]:
        """The registry ``(name, task)`` of each model this detector loads.

        By default the record named like the detector, if the registry has one.
        """
        from ..models import records

        return [(self.name, "detect")] if self.name in {r.name for r in records("detect")} else []

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(threshold={self.threshold}, min_face={self.min_face}, "
            f"pad={self.pad})"
        )


def quiet_opencv() -> None:
    """Keep OpenCV's own warnings (e.g. its DNN engine's notes) off the user's stderr."""
    import contextlib

    import cv2

    with contextlib.suppress(AttributeError):  # builds without the logging utilities
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def nms(
    boxes: NDArray[np.floating],
    scores: NDArray[np.floating],
    iou: float,
    *,
    over: Literal["union", "min"] = "union",
) -> NDArray[np.int64]:
    """Greedy non-maximum suppression; returns kept indices, best score first.

    A box is dropped when its overlap with a better kept box is above ``iou``: the
    intersection over the union (``over="union"``), or over the smaller of the two
    areas (``over="min"``, so that a box nested in a better one goes even when their
    IoU is small; MTCNN's last stage).
    """
    if len(boxes) == 0:
        return np.zeros((0,), np.int64)
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    area = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.maximum(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0)
        ih = np.maximum(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0)
        inter = iw * ih
        if over == "min":
            ov = inter / np.maximum(np.minimum(area[i], area[rest]), 1e-9)
        else:
            ov = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        order = rest[ov <= iou]
    return np.asarray(keep, np.int64)
