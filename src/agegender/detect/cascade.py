"""A fast detector with a robust fallback: run ``first``; where it finds no face, ``then``.

``hog-mtcnn`` (the default with pip alone) runs dlib's HOG detector, which is quick and
whose dlib landmarks suit the default models, and falls back to MTCNN only on images
where HOG finds nothing (small, turned or tightly cropped faces). The cost of MTCNN is
paid only there, and so are its files: they are checked when it first runs. A face HOG
misses in an image where it finds another face is not looked for again: use ``mtcnn``
or ``yunet`` when every face of a crowd matters.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ..faces import Faces
from .base import Detector


class CascadeDetector:
    """``first``, then ``then`` on the images where ``first`` found no face.

    It is a :class:`~agegender.detect.Detector` of its own; it has no view of its own
    (each detector pads and scales the image its own way).
    """

    def __init__(self, first: Detector, then: Detector, *, name: str | None = None) -> None:
        self.first, self.then = first, then
        self.name = name or f"{first.name}-{then.name}"

    def required_models(self) -> list[tuple[str, str]]:
        """What ``first`` loads; ``then``'s files are found when it first runs."""
        return self.first.required_models()

    def detect(self, image: NDArray[np.uint8]) -> Faces:
        faces = self.first.detect(image)
        return faces if len(faces) else self.then.detect(image)

    def detect_batch(self, images: Sequence[NDArray[np.uint8]]) -> list[Faces]:
        out = self.first.detect_batch(images)
        missed = [i for i, f in enumerate(out) if not len(f)]
        if missed:
            for i, faces in zip(missed, self.then.detect_batch([images[i] for i in missed]),
                                strict=True):
                out[i] = faces
        return out

    def __repr__(self) -> str:
        return f"CascadeDetector({self.first!r}, {self.then!r}, name={self.name!r})"
