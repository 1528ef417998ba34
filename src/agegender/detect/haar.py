"""Viola-Jones Haar cascades (OpenCV's frontal and profile face cascades), with dlib's
5-point landmark model on each box so that faces can be aligned.

The cascades are evaluated by :mod:`.haar_cascade` (numpy; OpenCV 5's main wheels have no
``CascadeClassifier``, and the contrib build that has one would replace our ``cv2``).
Their XML files ship inside agegender (``models/haar/``, Intel License Agreement, a BSD-3
style license whose text each file carries), taken unchanged from the PyPI wheel
``opencv-python==4.10.0.84`` (``cv2/data/``).

Steps: the frontal cascade (``haarcascade_frontalface_alt2``) on the gray image; where
it finds nothing, the profile cascade on the image and on its mirror (it was trained on
faces turned one way only). Boxes are OpenCV's ``groupRectangles`` groups, the score is
``n / (n + 4)`` for a group of ``n`` raw windows (so the default threshold 0.5 keeps
OpenCV's ``minNeighbors=3``). Landmarks come from dlib's 5-point model run on the box,
moved and scaled to where dlib's HOG detector would have put it (fitted on UTKFace val by
``tools/calibrate_haar_box.py``), and mapped to our five points like the ``hog`` detector's.

Slower than HOG and less accurate than every other detector here (docs/detectors.md):
it is offered for comparison with the classic literature and is never chosen by ``auto``.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .base import BaseDetector, RawDetections, View, nms

FRONTAL = "haar-frontalface-alt2"
PROFILE = "haar-profileface"

#: dlib's HOG box relative to a Haar box (x, y, side): centre shift in Haar box sides and
#: the ratio of the sides (medians over the 390 of the first 400 UTKFace val faces that
#: both found once:
#: tools/calibrate_haar_box.py).
HOG_FROM_HAAR = (0.041, 0.085, 0.978)


def hog_like_boxes(boxes: NDArray[np.floating]) -> NDArray[np.float64]:
    """Haar boxes (N, 4) x1y1x2y2 moved and scaled to where dlib's HOG detector puts them."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    side = b[:, 2] - b[:, 0]
    cx = (b[:, 0] + b[:, 2]) / 2 + HOG_FROM_HAAR[0] * side
    cy = (b[:, 1] + b[:, 3]) / 2 + HOG_FROM_HAAR[1] * side
    half = side * HOG_FROM_HAAR[2] / 2
    return np.stack([cx - half, cy - half, cx + half, cy + half], axis=1)


class HaarDetector(BaseDetector):
    """OpenCV's Haar face cascades (frontal, then profile where frontal finds nothing).

    Args:
        profile: run the profile cascade (image and mirror) on images where the frontal
            cascade finds no face.
        scale_factor: the step between scales (OpenCV's ``scaleFactor``).
        max_side: 1536, so that a 1280 px photo with its border is seen unresampled: the
            cascades' votes are brittle, and on the group photo a resampled 1280 px view
            trades one of its six faces for a false one.
    """

    name = "haar"

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        min_face: int = 20,
        pad: float = 0.1,
        max_side: int | None = 1536,
        profile: bool = True,
        scale_factor: float = 1.1,
    ) -> None:
        super().__init__(threshold=threshold, min_face=min_face, pad=pad, max_side=max_side)
        if not scale_factor > 1.0:
            raise ValueError(f"scale_factor must be > 1, got {scale_factor}")
        self.profile = bool(profile)
        self.scale_factor = float(scale_factor)
        self._cascades: dict[str, Any] = {}
        self._sp: Any = None
        self._lock = threading.Lock()

    def required_models(self) -> list[tuple[str, str]]:
        return [("haar", "detect"), ("dlib-landmarks5", "landmarks")]

    def _load(self) -> None:
        if not self._cascades:
            import dlib

            from ..models import get
            from .haar_cascade import load_cascade

            paths = {p.name: p for p in get("haar", "detect").paths()}
            self._cascades = {
                FRONTAL: load_cascade(paths["haarcascade_frontalface_alt2.xml"]),
                PROFILE: load_cascade(paths["haarcascade_profileface.xml"]),
            }
            self._sp = dlib.shape_predictor(str(get("dlib-landmarks5", "landmarks").path()))

    def _run(self, name: str, gray: NDArray[np.uint8]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        from .haar_cascade import detect_raw, group_rectangles

        raw = detect_raw(self._cascades[name], gray, scale_factor=self.scale_factor,
                         min_size=self.min_face)
        rects, counts = group_rectangles(raw)
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
        return boxes.astype(np.float32), (counts / (counts + 4.0)).astype(np.float32)

    def _detect_raw(self, view: View) -> RawDetections:
        import cv2
        import dlib

        from .dlib_hog import dlib5_to_standard

        image = view.image
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        with self._lock:
            self._load()
            boxes, scores = self._run(FRONTAL, gray)  # type: ignore[arg-type]
            if self.profile and len(boxes) == 0:
                b1, s1 = self._run(PROFILE, gray)  # type: ignore[arg-type]
                b2, s2 = self._run(PROFILE, np.ascontiguousarray(gray[:, ::-1]))
                w = gray.shape[1]
                b2 = np.stack([w - b2[:, 2], b2[:, 1], w - b2[:, 0], b2[:, 3]], axis=1)
                boxes = np.concatenate([b1, b2.reshape(-1, 4)])
                scores = np.concatenate([s1, s2])
                keep = nms(boxes, scores, 0.3)
                boxes, scores = boxes[keep], scores[keep]
            lms = []
            for x1, y1, x2, y2 in hog_like_boxes(boxes):
                r = dlib.rectangle(int(round(x1)), int(round(y1)), int(round(x2)) - 1,
                                   int(round(y2)) - 1)
                shape = self._sp(image, r)
                pts = np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], np.float64)
                lms.append(dlib5_to_standard(pts))
        return (
            boxes.reshape(-1, 4).astype(np.float32),
            scores.reshape(-1).astype(np.float32),
            np.asarray(lms, np.float32).reshape(-1, 5, 2),
        )
