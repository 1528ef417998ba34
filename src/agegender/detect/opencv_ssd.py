"""OpenCV's ResNet-10 SSD face detector (the classic OpenCV age/gender demos' detector).

No landmarks: faces it finds are aligned by their box. 300x300 input, BGR with
the mean (104, 177, 123) subtracted.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .base import BaseDetector, RawDetections, View, quiet_opencv


class OpenCVSSDDetector(BaseDetector):
    """SSD ResNet-10 (8-bit): quick, good on frontal faces, weaker on small ones.

    The whole image is squeezed to 300x300, so padding shrinks every face; the
    default ``pad`` is therefore smaller (0.1) than the other detectors' 0.25.
    """

    name = "opencv-ssd"
    color = "BGR"

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        min_face: int = 20,
        pad: float = 0.1,
        max_side: int | None = 1280,
    ) -> None:
        super().__init__(threshold=threshold, min_face=min_face, pad=pad, max_side=max_side)
        self._net: Any = None  # cv2.dnn.Net, loaded on first use
        self._lock = threading.Lock()

    def _detect_raw(self, view: View) -> RawDetections:
        import cv2

        with self._lock:
            if self._net is None:
                from ..models import get

                pb, pbtxt = get("opencv-ssd", "detect").paths()
                quiet_opencv()
                self._net = cv2.dnn.readNetFromTensorflow(str(pb), str(pbtxt))
            h, w = view.image.shape[:2]
            blob = cv2.dnn.blobFromImage(view.image, 1.0, (300, 300), (104, 177, 123), False)
            self._net.setInput(blob)
            out = np.asarray(self._net.forward(), np.float32).reshape(-1, 7)
        out = out[out[:, 2] >= min(self.threshold, 0.3)]
        boxes = out[:, 3:7] * np.array([w, h, w, h], np.float32)
        lms = np.full((len(out), 5, 2), np.nan, np.float32)
        return boxes, out[:, 2], lms
