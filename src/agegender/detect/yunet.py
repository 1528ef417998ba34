"""YuNet (libfacedetection, 2023mar): a fast, accurate CNN detector with 5 landmarks.

Run through OpenCV's ``cv2.FaceDetectorYN``, which decodes YuNet's anchor-free
outputs and applies NMS. Files come from the registry (cache, mirror, network).
"""

from __future__ import annotations

import threading

import numpy as np

from .base import BaseDetector, RawDetections, View, quiet_opencv


class YuNetDetector(BaseDetector):
    """YuNet: robust to pose and small faces; about 10 ms on a 640x480 image on one core.

    ``max_side`` defaults to 1280: a larger image is detected on a view whose longest
    side (padding included) is 1280 px, then boxes and landmarks are mapped back. A face
    smaller than about 10 px in the view is lost, so the view size is a recall trade-off:
    640 finds the same faces as full resolution on the shared photos, 500 UTKFace test
    crops and the 640x480 test clip at about half the cost of a 1280 px photo
    (benchmarks/detectors.py --max-side), but loses a third of the 96 faces of a 4x4
    mosaic of the group photo (~25 px faces at 640; tests/server/test_browser_labels.py).
    Pass ``max_side=640`` (``--detect-size 640``) for photos of a few large faces;
    ``None`` never downscales.
    """

    name = "yunet"
    color = "BGR"

    def __init__(
        self,
        *,
        model: str = "yunet",
        threshold: float = 0.6,
        min_face: int = 20,
        pad: float = 0.1,
        max_side: int | None = 1280,
        nms: float = 0.3,
    ) -> None:
        super().__init__(threshold=threshold, min_face=min_face, pad=pad, max_side=max_side)
        self.model = model
        self.nms = nms
        self._det = None
        self._size: tuple[int, int] | None = None  # the input size the network is set to
        self._lock = threading.Lock()

    def required_models(self) -> list[tuple[str, str]]:
        return [(self.model, "detect")]

    def _detector(self):  # type: ignore[no-untyped-def]
        if self._det is None:
            import cv2

            from ..models import get

            path = get(self.model, "detect").path()
            quiet_opencv()
            # score threshold low here: the base class applies self.threshold
            self._det = cv2.FaceDetectorYN.create(
                str(path), "", (320, 320), min(self.threshold, 0.3), self.nms, 5000
            )
        return self._det

    def _detect_raw(self, view: View) -> RawDetections:
        bgr = view.image
        size = (bgr.shape[1], bgr.shape[0])
        with self._lock:  # FaceDetectorYN holds per-call state (input size)
            det = self._detector()
            if size != self._size:  # resizing the network costs ~20% of a small image's detection
                det.setInputSize(size)
                self._size = size
            _, out = det.detect(bgr)
        if out is None or len(out) == 0:
            z = np.zeros((0,), np.float32)
            return np.zeros((0, 4), np.float32), z, np.zeros((0, 5, 2), np.float32)
        out = np.asarray(out, np.float32)
        x, y, w, h = out[:, 0], out[:, 1], out[:, 2], out[:, 3]
        boxes = np.stack([x, y, x + w, y + h], axis=1)
        lms = out[:, 4:14].reshape(-1, 5, 2)  # re, le, nose, rmouth, lmouth = image left first
        return boxes, out[:, 14], lms
