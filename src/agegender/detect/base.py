"""The detector interface and what every detector shares (border padding, filters)."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ..faces import Faces

log = logging.getLogger(__name__)

RawDetections = tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]
"""``(boxes (N,4) x1y1x2y2, scores (N,), landmarks (N,5,2) or NaN)`` in the input's pixels."""


class Detector(ABC):
    """Finds faces in RGB images.

    Subclasses implement :meth:`_detect_raw` on one ``(H, W, 3)`` uint8 RGB
    array. The base class adds what every detector needs:

    * **border padding** (``pad``): the image is padded by this fraction of its
      longer side on every side before detection, so a face that fills the whole
      frame (a tight crop) still has the context detectors are trained on; boxes
      are shifted back and clipped to the image. Each detector's default was chosen
      on the 1,884 UTKFace test crops (docs/detectors.md): the smallest padding that
      keeps its recall, since padding costs time (0.25 would cost YuNet 2x).
    * **max_side**: images whose longer side (after padding) is above this are
      downscaled for detection (faster on large photos); boxes come back in the
      original pixels. ``None`` disables it.
    * **min_face** (pixels, shorter box side) and **threshold** (score) filters.

    Landmarks are five points: left eye, right eye, nose tip, left and right
    mouth corner, left/right as seen in the picture.
    """

    #: Registry name, set by subclasses.
    name: str = "detector"

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
        self.threshold = float(threshold)
        self.min_face = int(min_face)
        self.pad = float(pad)
        if max_side is not None and max_side < 64:
            raise ValueError(f"max_side must be >= 64 pixels or None, got {max_side}")
        self.max_side = max_side

    @abstractmethod
    def _detect_raw(self, image: NDArray[np.uint8]) -> RawDetections:
        """Detect faces in one RGB uint8 image; return raw, unfiltered detections."""

    def detect(self, image: NDArray[np.uint8]) -> Faces:
        """Faces in one ``(H, W, 3)`` uint8 RGB image, best score first."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"{self.name}: expected an (H, W, 3) uint8 RGB array, got "
                f"{image.dtype} of shape {image.shape}"
            )
        h, w = image.shape[:2]
        p = int(round(self.pad * max(h, w)))
        src = image
        if p > 0:
            src = np.pad(image, ((p, p), (p, p), (0, 0)), mode="constant", constant_values=0)
        scale = 1.0
        if self.max_side is not None and max(src.shape[:2]) > self.max_side:
            import cv2

            scale = self.max_side / max(src.shape[:2])
            size = (max(1, round(src.shape[1] * scale)), max(1, round(src.shape[0] * scale)))
            src = cv2.resize(src, size, interpolation=cv2.INTER_AREA)  # type: ignore[assignment]
        boxes, scores, lms = self._detect_raw(np.ascontiguousarray(src))
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4) / scale
        scores = np.asarray(scores, np.float32).reshape(-1)
        lms = np.asarray(lms, np.float32).reshape(-1, 5, 2) / scale
        if p > 0 and len(boxes):
            boxes = boxes - p
            lms = lms - p
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

        :class:`~agegender.Analyzer` finds (or fetches) them all before any input is read.
        By default the record named like the detector, if the registry has one.
        """
        from ..models import records

        return [(self.name, "detect")] if self.name in {r.name for r in records("detect")} else []

    def detect_batch(self, images: Sequence[NDArray[np.uint8]]) -> list[Faces]:
        """Faces of each image. Detectors that can batch override this."""
        return [self.detect(im) for im in images]

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


def nms(boxes: NDArray[np.floating], scores: NDArray[np.floating], iou: float) -> NDArray[np.int64]:
    """Greedy non-maximum suppression; returns kept indices, best score first."""
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
        xx1 = np.maximum(x1[i], x1[rest])
        yy1 = np.maximum(y1[i], y1[rest])
        xx2 = np.minimum(x2[i], x2[rest])
        yy2 = np.minimum(y2[i], y2[rest])
        inter = np.maximum(xx2 - xx1, 0) * np.maximum(yy2 - yy1, 0)
        ov = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        order = rest[ov <= iou]
    return np.asarray(keep, np.int64)
