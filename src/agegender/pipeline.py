"""The Analyzer: detect -> align -> estimate, with models loaded once and batching.

>>> from agegender import Analyzer
>>> an = Analyzer()                       # default detector and the Cydral models
>>> faces = an.analyze("photo.jpg")        # Faces: boxes, landmarks, age, gender
>>> for r in an.analyze_many(["a.jpg", "folder/"]):   # batched; errors per input
...     print(r.source, len(r.faces), r.error)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import AgeGenderError
from .estimate import Estimator, Tta
from .io.images import Channels, Source, as_rgb, decode_image, expand_inputs
from .types import Faces

log = logging.getLogger(__name__)

DEFAULT_AGE_MODEL = "cydral-age"
DEFAULT_GENDER_MODEL = "cydral-gender"


@dataclass
class Result:
    """What :meth:`Analyzer.analyze_many` yields for each input."""

    source: str
    faces: Faces
    width: int = 0
    height: int = 0
    error: Exception | None = None
    image: NDArray[np.uint8] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON object for this input."""
        err = None
        if self.error is not None:
            err = {"type": type(self.error).__name__, "message": str(self.error)}
        return {
            "source": self.source,
            "width": int(self.width),
            "height": int(self.height),
            "faces": self.faces.to_dict(),
            "error": err,
        }


class Analyzer:
    """Finds faces and estimates apparent age and perceived gender; loads models once.

    Args:
        detector: a detector name (``auto``, ``yunet``, ``mtcnn``, ``hog``, ``opencv-ssd``)
            or a :class:`~agegender.detect.Detector` instance. ``auto`` takes the most
            accurate one whose files are present.
        age_model, gender_model: registry names, or ensembles ``"a+b"`` / ``"a:2+b:1"``;
            ``None`` skips that task.
        device: ``auto`` (GPU when onnxruntime has CUDA), ``cpu`` or ``cuda``.
        threshold: minimum detection score (0..1); ``None`` keeps the detector's default.
        min_face: smallest face (shorter box side, pixels) to report.
        tta: ``none`` (fastest), ``flip`` (2 views, a little more accurate) or
            ``oversample`` (10 views as in Levi & Hassner, 10x the estimation cost).
        max_pixels: refuse larger images before decoding (decompression bombs).
        mask_background: fade everything outside each face's ellipse to the chip's mean
            before estimation (``True``/``False`` for every model); ``None`` lets each
            model's card decide (off unless its card says ``crop.mask_background``).
    """

    def __init__(
        self,
        *,
        detector: Any = "auto",
        age_model: str | None = DEFAULT_AGE_MODEL,
        gender_model: str | None = DEFAULT_GENDER_MODEL,
        device: str = "auto",
        threshold: float | None = None,
        min_face: int | None = None,
        tta: Tta = "none",
        max_pixels: int | None = None,
        mask_background: bool | None = None,
    ) -> None:
        from .detect import Detector, create_detector

        if isinstance(detector, Detector):
            self.detector = detector
        else:
            self.detector = create_detector(detector, threshold=threshold, min_face=min_face)
        mask = mask_background
        self.age = (
            Estimator("age", age_model, device=device, tta=tta, mask_background=mask)
            if age_model
            else None
        )
        self.gender = (
            Estimator("gender", gender_model, device=device, tta=tta, mask_background=mask)
            if gender_model
            else None
        )
        self.max_pixels = max_pixels

    def __repr__(self) -> str:
        return f"Analyzer(detector={self.detector!r}, age={self.age!r}, gender={self.gender!r})"

    # ---------------------------------------------------------------- core
    def estimate(
        self, images: list[NDArray[np.uint8]], faces: list[Faces], *, whole: bool = False
    ) -> list[Faces]:
        """Add age and gender to already-detected faces of each image (one batch)."""
        if self.age is not None:
            faces = self.age.estimate(images, faces, whole=whole)
        if self.gender is not None:
            faces = self.gender.estimate(images, faces, whole=whole)
        return faces

    def analyze_arrays(self, images: list[NDArray[np.uint8]]) -> list[Faces]:
        """Detect and estimate on RGB uint8 arrays; estimation is batched over all faces."""
        detected = [self.detector.detect(im) for im in images]
        return self.estimate(images, detected)

    def analyze(self, image: Any, *, channels: Channels | None = None) -> Faces:
        """Faces of one image: a path, bytes, a PIL image, or a numpy array (state
        ``channels='RGB'`` or ``'BGR'``)."""
        rgb = as_rgb(image, channels=channels, max_pixels=self.max_pixels)
        return self.analyze_arrays([rgb])[0]

    def analyze_crops(self, crops: list[NDArray[np.uint8]]) -> Faces:
        """Age and gender of images that are each one face already cropped (no detection).

        Each whole image is resized to each model's input as it is (no detection, no
        alignment): use this for data sets of tight, centred face crops.
        """
        faces = [
            Faces(
                boxes=[[0, 0, c.shape[1], c.shape[0]]],
                scores=[1.0],
                landmarks=np.full((1, 5, 2), np.nan, np.float32),
            )
            for c in crops
        ]
        return Faces.concatenate(self.estimate(list(crops), faces, whole=True))

    def analyze_many(
        self,
        inputs: Iterable[str | Source],
        *,
        batch_size: int = 16,
        keep_images: bool = False,
        stdin: Any = None,
    ) -> Iterator[Result]:
        """Analyze files, folders (recursive) and ``-`` (stdin), one :class:`Result` each.

        Images are decoded in a background thread while the previous batch runs.
        A bad input yields a Result with ``error`` set; the others go on.
        """
        items = list(inputs)
        srcs: list[Source] = []
        for it in items:
            if isinstance(it, Source):
                srcs.append(it)
            else:
                srcs.extend(expand_inputs([it], stdin=stdin))

        def load(src: Source) -> Result:
            if src.error is not None:
                return Result(src.name, Faces.empty(), error=src.error)
            try:
                data = src.data if src.data is not None else src.path
                rgb = decode_image(data, max_pixels=self.max_pixels, name=src.name)  # type: ignore[arg-type]
            except AgeGenderError as e:
                return Result(src.name, Faces.empty(), error=e)
            h, w = rgb.shape[:2]
            return Result(src.name, Faces.empty(), width=w, height=h, image=rgb)

        batches = [srcs[i : i + batch_size] for i in range(0, len(srcs), batch_size)]
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(lambda b: [load(s) for s in b], batches[0]) if batches else None
            for k in range(len(batches)):
                loaded = pending.result()  # type: ignore[union-attr]
                if k + 1 < len(batches):
                    pending = pool.submit(lambda b: [load(s) for s in b], batches[k + 1])
                ok = [r for r in loaded if r.error is None]
                try:
                    faces = self.analyze_arrays([r.image for r in ok])  # type: ignore[misc]
                    for r, f in zip(ok, faces):
                        r.faces = f
                except AgeGenderError as e:  # a model problem: report on each, go on
                    for r in ok:
                        r.error = e
                for r in loaded:
                    if not keep_images:
                        r.image = None
                    yield r


_default: Analyzer | None = None


def analyze(image: Any, *, channels: Channels | None = None) -> Faces:
    """Faces of one image with the default models (loaded once, then reused).

    ``image`` is a path, bytes, a PIL image, or a numpy array with its channel
    order stated (``channels='RGB'`` or ``'BGR'``). For other models or settings,
    build an :class:`Analyzer`.
    """
    global _default
    if _default is None:
        _default = Analyzer()
    return _default.analyze(image, channels=channels)
