"""The Analyzer: detect -> align -> estimate, with models loaded once and batching.

>>> from agegender import Analyzer
>>> an = Analyzer()                       # default detector and models (profile "accurate")
>>> faces = an.analyze("photo.jpg")        # Faces: boxes, landmarks, age, gender
>>> for r in an.analyze_many(["a.jpg", "folder/"]):   # batched; errors per input
...     print(r.source, len(r.faces), r.error)
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import AgeGenderError, InputError
from .estimate import Estimator, parse_spec
from .estimate.onnx import Tta
from .faces import Faces, Result, check_min_confidence
from .io.budget import PixelBudget
from .io.images import Channels, Source, as_rgb, expand_inputs
from .io.loading import drain, load_source
from .models.profiles import DEFAULT
from .options import analyzer_options, check_values, option_names

log = logging.getLogger(__name__)

#: The Analyzer keywords that the command line and the server settings both carry (read
#: from the one schema, :data:`agegender.options.ANALYZER_OPTIONS`, at import).
OPTIONS = option_names()

__all__ = ["OPTIONS", "Analyzer", "analyze", "analyzer_options"]


class Analyzer:
    """Finds faces and estimates apparent age and perceived gender; loads models once.

    Each keyword but ``max_inflight_pixels`` is declared once in :mod:`agegender.options`
    (type, default, range or choices, help, variable), which checks it here and builds the
    command line's options and the server's settings from the same entry.

    Args:
        detector: a detector name (``auto``, ``yunet``, ``hog-mtcnn``, ``mtcnn``, ``hog``, ...)
            or a :class:`~agegender.detect.Detector` instance. ``auto`` takes the most
            accurate one whose files are present.
        age_model, gender_model: registry names, or ensembles ``"a+b"`` / ``"a:2+b:1"``;
            ``None`` skips that task; ``"default"`` takes the profile's model.
        profile: ``accurate`` (default, or ``AGEGENDER_PROFILE``): the FaceRes networks
            shipped in the package, research and non-commercial use only; ``permissive``:
            only models that allow commercial use (the CC0 Cydral pair, open detectors), and
            naming any other model is an error. See :mod:`agegender.models.profiles`.
        device: ``auto`` (GPU when onnxruntime has CUDA), ``cpu`` or ``cuda``.
        threshold: minimum detection score (0..1); ``None`` keeps the detector's default.
        detect_size: the longest side (pixels, border included) of the view the detector
            sees; larger images are downscaled for detection and the boxes and landmarks
            mapped back. ``None`` keeps the detector's default (1280; Haar 1536). 640 is
            about twice as fast on big photos of a few large faces, and loses faces under
            ~25 px.
        min_face: smallest face (shorter box side, pixels) to report.
        tta: ``none`` (fastest), ``flip`` (2 views, a little more accurate) or
            ``oversample`` (10 views as in Levi & Hassner, 10x the estimation cost).
        max_pixels: refuse larger images before decoding (decompression bombs).
        max_inflight_pixels: cap on decoded pixels held at once by :meth:`analyze_many`
            (see :class:`~agegender.io.budget.PixelBudget`; default 128 million, or
            ``AGEGENDER_MAX_INFLIGHT_PIXELS``): large images are decoded one at a time.
        mask_background: fade everything outside each face's ellipse to the chip's mean
            before estimation (``True``/``False`` for every model); ``None`` lets each
            model's card decide (off unless its card says ``crop.mask_background``).
        gender_min_confidence: 0.5..1, a display choice kept as this Analyzer's
            ``gender_min_confidence`` for what shows its results (the CLI, the server,
            :func:`~agegender.analyze_video`): a face whose more likely perceived gender has a
            probability below it is shown undetermined. The Faces returned hold what the
            models said; pass the threshold to :meth:`Faces.to_dict` or
            :func:`~agegender.annotate` yourself. ``None`` or 0.5 (default): always a label.

    Every model file is found (or fetched) here, so a model that cannot be had fails
    once, with :class:`~agegender.errors.ModelUnavailableError`, before any input is read.
    """

    def __init__(
        self,
        *,
        detector: Any = "auto",
        age_model: str | None = DEFAULT,
        gender_model: str | None = DEFAULT,
        device: str = "auto",
        threshold: float | None = None,
        min_face: int | None = None,
        tta: Tta = "none",
        max_pixels: int | None = None,
        mask_background: bool | None = None,
        max_inflight_pixels: int | None = None,
        gender_min_confidence: float | None = None,
        profile: str | None = None,
        detect_size: int | None = None,
    ) -> None:
        from .detect import Detector, create_detector
        from .models.profiles import check_allowed, get_profile

        checked = check_values({k: v for k, v in locals().items() if k != "self"})
        threshold, min_face, max_pixels = (checked[k] for k in ("threshold", "min_face",
                                                                "max_pixels"))
        detect_size, device, tta = checked["detect_size"], checked["device"], checked["tta"]
        self.profile = get_profile(profile)
        if age_model == DEFAULT:
            age_model = self.profile.age_model
        if gender_model == DEFAULT:
            gender_model = self.profile.gender_model
        named = [n for spec in (age_model, gender_model) if spec for n, _ in parse_spec(spec)]
        check_allowed(self.profile, named + ([detector] if isinstance(detector, str) else []))
        log.info("profile %s (%s): age %s, gender %s", self.profile.name, self.profile.license,
                 age_model, gender_model)

        if max_inflight_pixels is not None and int(max_inflight_pixels) <= 0:
            raise InputError(
                f"max_inflight_pixels must be a positive number of pixels, got {max_inflight_pixels}"
            )
        self.budget = (
            PixelBudget(max_inflight_pixels) if max_inflight_pixels else PixelBudget.default()
        )

        if isinstance(detector, Detector):
            self.detector = detector
        else:
            self.detector = create_detector(detector, threshold=threshold, min_face=min_face,
                                            max_side=detect_size)
        #: the model specs this Analyzer runs (``None``: that task is skipped)
        self.age_model: str | None = age_model or None
        self.gender_model: str | None = gender_model or None
        specs = {"age": self.age_model, "gender": self.gender_model}
        #: one Estimator for both tasks: a network named by both runs once per batch
        self.estimator = (
            Estimator(specs, device=device, tta=tta, mask_background=mask_background)
            if any(specs.values())
            else None
        )
        self.max_pixels = max_pixels
        try:
            self.gender_min_confidence = check_min_confidence(gender_min_confidence)
        except ValueError as e:
            raise InputError(str(e)) from None
        self._check_models()

    def _check_models(self) -> None:
        """Find (or fetch) every model file now: a missing one fails once, here."""
        from .models import get

        required = getattr(self.detector, "required_models", None)
        for name, task in (required() if required is not None else None) or []:
            get(name, task).paths(fetch=True)
        for m in self.estimator.models if self.estimator is not None else []:
            m.record.paths(fetch=True)

    def __repr__(self) -> str:
        return f"Analyzer(detector={self.detector!r}, estimator={self.estimator!r})"

    def describe(self) -> dict[str, Any]:
        """What this Analyzer runs, JSON-ready: ``detector`` (``name`` and the ``chain``
        that runs), ``age_model`` and ``gender_model`` (the specs), ``tta``, ``models``
        (each model with its ``task``, ``name``, ``license``, ``sha256`` and ``source``),
        ``profile`` (``name``, ``license``, ``commercial_use``), ``gender_min_confidence``
        and ``versions`` (agegender and the packages that change answers)."""
        from .inventory import describe

        return describe(self)

    def load(self) -> None:
        """Load every network now (a detection on a small grey image, and each estimation
        model's session) rather than on the first input: a worker's start-up."""
        self.detect([np.full((96, 96, 3), 127, np.uint8)])
        for m in self.estimator.models if self.estimator is not None else []:
            m.load()

    # ---------------------------------------------------------------- the steps
    def detect(self, images: list[NDArray[np.uint8]]) -> list[Faces]:
        """Faces (boxes, scores, landmarks) of each RGB uint8 image; no age or gender yet.
        One ``detect_batch`` call: detectors that take a batch (MTCNN, the cascade's
        fallback) run the images together."""
        return list(self.detector.detect_batch(images))

    def estimate(
        self, images: list[NDArray[np.uint8]], faces: list[Faces], *, whole: bool = False
    ) -> list[Faces]:
        """Add age and gender to already-detected faces of each image (one batch)."""
        if self.estimator is not None:
            faces = self.estimator.estimate(images, faces, whole=whole)
        return faces

    def analyze_arrays(self, images: list[NDArray[np.uint8]]) -> list[Faces]:
        """Detect and estimate on RGB uint8 arrays; estimation is batched over all faces."""
        return self.estimate(images, self.detect(images))

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
        return Faces.concatenate(self._estimate_crops(list(crops)))

    def _estimate_crops(self, crops: list[NDArray[np.uint8]]) -> list[Faces]:
        """One face per crop, the whole image, estimated (no detection, no alignment)."""
        faces = [
            Faces(
                boxes=[[0, 0, c.shape[1], c.shape[0]]],  # type: ignore[arg-type]
                scores=[1.0],  # type: ignore[arg-type]
                landmarks=np.full((1, 5, 2), np.nan, np.float32),
            )
            for c in crops
        ]
        return self.estimate(crops, faces, whole=True)

    def analyze_many(
        self,
        inputs: Iterable[str | Source],
        *,
        batch_size: int = 16,
        keep_images: bool = False,
        stdin: Any = None,
        budget: PixelBudget | None = None,
        on_step: Callable[[Result], None] | None = None,
        crops: bool = False,
        full_batches: bool = False,
    ) -> Iterator[Result]:
        """Analyze files, folders (recursive) and ``-`` (stdin), one :class:`Result` each,
        in input order.

        Images are decoded in order in a background thread while earlier ones are
        analysed. Decoded pixels in flight are capped by ``budget`` (default: this
        Analyzer's, from ``max_inflight_pixels``), so large images are decoded one at a
        time. A batch is what has been decoded when the analysis is free (up to
        ``batch_size``): a slow input never holds back the results before it. A bad
        input yields a Result with ``error`` set; the others go on.

        ``on_step(result)`` (for progress displays) is called in the consuming thread as
        each input's detection is done (a failed input: as soon as it is taken up), before
        its batch's estimation; the Result is yielded after.

        ``crops=True``: each input *is* one face (a data set of face crops), estimated
        as :meth:`analyze_crops` does, with no detection. ``full_batches=True`` waits for
        ``batch_size`` inputs before each batch, so the answers do not depend on how fast
        decoding went (onnxruntime's float kernels vary in the last digits with the
        batch's size): ``eval`` uses it to be reproducible to the last digit.
        """
        srcs: list[Source] = []
        for it in inputs:
            if isinstance(it, Source):
                srcs.append(it)
            else:
                srcs.extend(expand_inputs([it], stdin=stdin))
        budget = budget if budget is not None else self.budget
        ready: queue.Queue[tuple[Result, int] | None] = queue.Queue(maxsize=2 * batch_size)
        stop = threading.Event()
        failure: list[BaseException] = []

        def put(item: tuple[Result, int] | None) -> bool:
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def produce() -> None:
            try:
                for src in srcs:
                    loaded = load_source(src, budget, stop, self.max_pixels)
                    if loaded is None or not put(loaded):
                        if loaded is not None:
                            budget.release(loaded[1])
                        return
            except BaseException as e:  # noqa: BLE001 - handed to the consumer
                failure.append(e)
            finally:
                put(None)

        worker = threading.Thread(target=produce, name="agegender-decode", daemon=True)
        worker.start()
        try:
            finished = False
            while not finished:
                first = ready.get()
                if first is None:
                    break
                batch = [first]
                while len(batch) < batch_size:
                    try:
                        item = ready.get() if full_batches else ready.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        finished = True
                        break
                    batch.append(item)
                yield from self._run_batch(batch, budget, keep_images, on_step, crops)
            if failure:
                raise failure[0]
        finally:
            stop.set()
            drain(ready, budget)  # give back what was decoded and never analysed
            worker.join(timeout=5)
            drain(ready, budget)  # and what the worker put while it stopped

    def _run_batch(
        self,
        batch: list[tuple[Result, int]],
        budget: PixelBudget,
        keep_images: bool,
        on_step: Callable[[Result], None] | None,
        crops: bool = False,
    ) -> Iterator[Result]:
        ok = [r for r, _ in batch if r.error is None]
        step = on_step or (lambda r: None)
        for r, _ in batch:
            if r.error is not None:
                step(r)
        try:
            try:
                images: list[NDArray[np.uint8]] = [r.image for r in ok]  # type: ignore[misc]
                if crops:
                    for r in ok:
                        step(r)
                    faces = self._estimate_crops(images)
                else:
                    detected = self.detect(images)
                    for r in ok:
                        step(r)
                    faces = self.estimate(images, detected)
                for r, f in zip(ok, faces):
                    r.faces = f
            except AgeGenderError as e:  # a model problem: report on each, go on
                for r in ok:
                    r.error = e
            if not keep_images:
                for r, _ in batch:
                    r.image = None
                budget.release(sum(n for _, n in batch))
                batch = [(r, 0) for r, _ in batch]
            for i, (r, _) in enumerate(batch):
                yield r
                budget.release(batch[i][1])  # the caller is done with its image
                batch[i] = (r, 0)
        finally:
            budget.release(sum(n for _, n in batch))  # the consumer stopped early


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
