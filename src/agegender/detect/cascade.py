"""A fast detector with a robust fallback: run ``first``; where it finds no face, ``then``.

``hog+mtcnn`` (the default with pip alone) runs dlib's HOG detector, which is quick and
whose dlib landmarks suit the default models, and falls back to MTCNN only on images
where HOG finds nothing (small, turned or tightly cropped faces). The cost of MTCNN is
paid only there. A face HOG misses in an image where it finds another face is not
looked for again: use ``mtcnn`` or ``yunet`` when every face of a crowd matters.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..faces import Faces
from .base import Detector, RawDetections


class CascadeDetector(Detector):
    """``first``, then ``then`` on the images where ``first`` found no face."""

    def __init__(self, first: Detector, then: Detector) -> None:
        super().__init__(threshold=first.threshold, min_face=first.min_face, pad=0.0, max_side=None)
        self.first, self.then = first, then
        self.name = f"{first.name}+{then.name}"

    def _detect_raw(self, image: NDArray[np.uint8]) -> RawDetections:  # pragma: no cover
        raise NotImplementedError("CascadeDetector delegates detect()")

    def required_models(self) -> list[tuple[str, str]]:
        return [*self.first.required_models(), *self.then.required_models()]

    def detect(self, image: NDArray[np.uint8]) -> Faces:
        faces = self.first.detect(image)
        return faces if len(faces) else self.then.detect(image)

    def __repr__(self) -> str:
        return f"CascadeDetector({self.first!r}, {self.then!r})"
