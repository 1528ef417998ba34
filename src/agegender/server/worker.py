"""Running analyses off the event loop, with one shared Analyzer, a queue bound and a time limit.

Threading model: the :class:`~agegender.Analyzer` is created once and is only ever
called from **one dedicated model thread** (a single-worker executor), so its
detectors and onnxruntime sessions never run concurrently and need no lock; each call
still uses every core through onnxruntime's and OpenCV's own intra-op threads.
Decoding uploads and encoding annotated JPEGs (Pillow, thread-safe) run on a small
separate pool, so they overlap with the model work of other requests.

Memory: the image's size is read from its header first (an image above ``max_pixels``
is refused there, 413); then the upload waits for room in a :class:`PixelBudget` of
``max_inflight_pixels`` decoded pixels, held until its analysis is done. When the last
large image in flight is done, the allocator's free memory is returned to the system
(:func:`release_memory`), so the resident size falls back after a burst.

The time limit covers queueing, decoding and analysis. A request that runs out of time
is answered 504 at once; if its analysis had not started yet it is cancelled, otherwise
it finishes in the background (a running ONNX call cannot be interrupted), still
counted in the pixel budget, and its result is discarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from ..errors import ImageTooLargeError
from ..faces import Faces, Result
from ..io.budget import PixelBudget
from ..io.images import decode_image
from .errors import AnalysisTimeoutError, BusyError
from .memory import release_memory
from .settings import ServerSettings
from .uploads import Upload, header_size, too_many_pixels

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Analysis:
    """One finished analysis: the CLI's result, the annotated JPEG if asked, the time taken."""

    result: Result
    ms: float
    jpeg: bytes | None = None
    preview: bytes | None = None  # a downscaled JPEG of the decoded image, if asked


def annotated_jpeg(
    rgb: NDArray[np.uint8],
    faces: Faces,
    quality: int = 90,
    gender_min_confidence: float | None = None,
) -> bytes:
    """The annotated image (boxes, landmarks, labels) as JPEG bytes."""
    from PIL import Image

    from ..annotation import annotate

    buf = io.BytesIO()
    annotate(Image.fromarray(rgb), faces, gender_min_confidence=gender_min_confidence).save(
        buf, "JPEG", quality=quality
    )
    return buf.getvalue()


def preview_jpeg(rgb: NDArray[np.uint8], side: int, quality: int = 85) -> bytes:
    """The decoded image as a JPEG at most ``side`` px on its long side (for a page that
    cannot decode the upload itself, e.g. TIFF)."""
    from PIL import Image

    img = Image.fromarray(rgb)
    img.thumbnail((side, side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


class AnalysisService:
    """Owns the shared Analyzer and the threads that run it; see the module docstring."""

    def __init__(self, settings: ServerSettings, analyzer: Any = None) -> None:
        self.settings = settings
        self._analyzer = analyzer
        self._create_lock = threading.Lock()
        self._model = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agegender-model")
        self._io = ThreadPoolExecutor(
            max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="agegender-io"
        )
        self.pending = 0  # analyses accepted and not answered yet (event loop only)
        self.budget = PixelBudget(settings.max_inflight_pixels, on_idle=self._release_memory)
        self._background: set[asyncio.Task[Analysis]] = set()

    @property
    def loaded(self) -> bool:
        """Whether the models are loaded."""
        return self._analyzer is not None

    def describe(self) -> dict[str, Any] | None:
        """What the loaded Analyzer runs (:meth:`agegender.Analyzer.describe`), or None
        while the models are not loaded."""
        an = self._analyzer
        return None if an is None else an.describe()  # type: ignore[no-any-return]

    def in_use(self) -> dict[str, Any]:
        """The models this server runs (``/v1/models``' ``in_use``): from the loaded
        Analyzer, else (before the first analysis) as the settings resolve them."""
        from ..models.profiles import DEFAULT, get_profile

        running = self.describe()
        if running is not None:
            return {
                "detector": running["detector"]["name"],
                "detector_chain": running["detector"]["chain"],
                "age": running["age_model"],
                "gender": running["gender_model"],
                "profile": running["profile"]["name"],
                "license": running["profile"]["license"],
                "models": running["models"],
                "versions": running["versions"],
            }
        s = self.settings
        prof = get_profile(s.profile)

        def resolved(spec: str | None, default: str) -> str | None:
            return default if spec == DEFAULT else spec

        return {
            "detector": s.detector,
            "age": resolved(s.age_model, prof.age_model),
            "gender": resolved(s.gender_model, prof.gender_model),
            "profile": prof.name,
            "license": prof.license,
        }

    def detector_options(self) -> dict[str, Any] | None:
        """The running detector's ``name`` and the ``threshold`` and ``min_face`` it was
        created with (a cascade's: its first stage's; None where a detector has none), or
        None while the models are not loaded (or a stand-in analyzer has no detector)."""
        detector = getattr(self._analyzer, "detector", None)
        if detector is None:
            return None
        from ..inventory import detector_chain

        first = detector_chain(detector)[0]
        return {
            "name": getattr(detector, "name", None),
            "threshold": getattr(first, "threshold", None),
            "min_face": getattr(first, "min_face", None),
        }

    def analyzer(self) -> Any:
        """The shared Analyzer, created on first use (normally on the model thread)."""
        if self._analyzer is None:
            with self._create_lock:
                if self._analyzer is None:
                    from ..analyzer import Analyzer

                    t0 = time.perf_counter()
                    self._analyzer = Analyzer(**self.settings.analyzer_options())
                    log.info(
                        "models loaded in %.1f s: %r", time.perf_counter() - t0, self._analyzer
                    )
        return self._analyzer

    def preload(self) -> None:
        """Start loading the models on the model thread (returns at once).

        A failure is logged (the first request then raises it again, as a 500).
        """

        def failed(job: Any) -> None:
            if not job.cancelled() and job.exception() is not None:
                log.error("the models could not be loaded: %s", job.exception())

        self._model.submit(self.analyzer).add_done_callback(failed)

    def _analyze(
        self, rgb: NDArray[np.uint8], keep: Callable[[Faces], Faces] | None = None
    ) -> Faces:
        """The analysis of ``rgb``; with ``keep``: detect, keep the faces it picks, and
        estimate only those."""
        an = self.analyzer()
        if keep is None:
            return an.analyze(rgb, channels="RGB")  # type: ignore[no-any-return]
        return an.estimate([rgb], [keep(f) for f in an.detect([rgb])])[0]  # type: ignore[no-any-return]

    def _process(
        self, process: Callable[[Any, NDArray[np.uint8]], Faces], rgb: NDArray[np.uint8]
    ) -> Faces:
        return process(self.analyzer(), rgb)

    async def analyze(
        self,
        upload: Upload,
        *,
        annotate: bool = False,
        process: Callable[[Any, NDArray[np.uint8]], Faces] | None = None,
        preview: int = 0,
        gender_min_confidence: float | None = None,
        keep: Callable[[Faces], Faces] | None = None,
    ) -> Analysis:
        """Decode and analyze an upload within the time limit.

        ``process(analyzer, rgb)``, when given, runs on the model thread instead of
        ``analyzer.analyze`` (the live stream's per-connection tracking).
        ``gender_min_confidence``: the annotated image's threshold (default: the settings').
        ``keep(faces)``, when given, picks the faces the result holds and the image shows
        (a request's :func:`~agegender.server.filters.keep_faces`), from the detections,
        before estimation.

        Raises:
            BusyError: ``max_pending`` analyses are already waiting.
            AnalysisTimeoutError: not done within ``request_timeout`` seconds.
            ImageDecodeError, ImageTooLargeError: the bytes are not a usable image.
        """
        if self.pending >= self.settings.max_pending:
            raise BusyError(
                f"the server is busy ({self.pending} analyses waiting); retry in a moment"
            )
        self.pending += 1
        # the work runs as its own task, so that a time-out answers at once while work
        # that has started finishes (and gives back its pixels) in the background
        threshold = (
            self.settings.gender_min_confidence
            if gender_min_confidence is None
            else gender_min_confidence
        )
        task = asyncio.ensure_future(self._run(upload, annotate, process, preview, threshold, keep))
        try:
            return await asyncio.wait_for(
                asyncio.shield(task), timeout=self.settings.request_timeout
            )
        except TimeoutError:
            raise AnalysisTimeoutError(
                f"the analysis took longer than {self.settings.request_timeout:g} s; "
                "send a smaller image or retry when the server is less busy"
            ) from None
        finally:
            self.pending -= 1
            if not task.done():  # timed out, or the request itself was cancelled
                task.cancel()
                self._background.add(task)
                task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Analysis]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("abandoned analysis ended with %s", type(task.exception()).__name__)

    async def _call(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on ``pool``. When cancelled, a job that has started is waited for:
        it cannot be interrupted, and the pixels it holds must stay counted."""
        job = pool.submit(fn, *args)
        try:
            return await asyncio.wrap_future(job)
        except asyncio.CancelledError:
            if not job.cancel():
                await asyncio.wait([asyncio.wrap_future(job)])
            raise

    async def _run(
        self,
        upload: Upload,
        annotate: bool,
        process: Callable[[Any, NDArray[np.uint8]], Faces] | None = None,
        preview: int = 0,
        gender_min_confidence: float = 0.5,
        keep: Callable[[Faces], Faces] | None = None,
    ) -> Analysis:
        t0 = time.perf_counter()
        limit = self.settings.max_pixels
        size = await self._call(self._io, header_size, upload.data, upload.media_type)
        if size is not None and size[0] * size[1] > limit:
            raise too_many_pixels(upload.name, size[0], size[1], limit)
        # unknown size (unreadable header): count the most that decoding lets through
        pixels = size[0] * size[1] if size is not None else limit
        await self.budget.acquire_async(pixels)
        try:
            rgb = await self._decode(upload, limit)
            if process is None:  # the faces keep drops are never estimated
                faces = await self._call(self._model, self._analyze, rgb, keep)
            else:
                faces = await self._call(self._model, self._process, process, rgb)
                if keep is not None:
                    faces = keep(faces)
            jpeg = None
            if annotate:
                jpeg = await self._call(
                    self._io, annotated_jpeg, rgb, faces, 90, gender_min_confidence
                )
            small = await self._call(self._io, preview_jpeg, rgb, preview) if preview else None
            h, w = rgb.shape[:2]
            del rgb  # before its pixels are given back
        finally:
            self.budget.release(pixels)
        result = Result(upload.name, faces, width=w, height=h)
        return Analysis(
            result=result, ms=(time.perf_counter() - t0) * 1000.0, jpeg=jpeg, preview=small
        )

    async def _decode(self, upload: Upload, limit: int) -> NDArray[np.uint8]:
        decode = partial(decode_image, upload.data, max_pixels=limit, name=upload.name)
        try:
            return await self._call(self._io, decode)
        except ImageTooLargeError:  # the header was not readable by header_size()
            log.info("refused an image above max_pixels=%d (raise AGEGENDER_MAX_PIXELS)", limit)
            raise ImageTooLargeError(
                f"{upload.name}: the image has more pixels than this server's limit of "
                f"{limit:,}; downscale it so that width x height is at most {limit:,} and "
                "send it again"
            ) from None

    def _release_memory(self) -> None:
        """The budget's ``on_idle``: a burst is over; trim the allocator off the loop."""
        with contextlib.suppress(RuntimeError):  # shutting down
            self._io.submit(release_memory)

    def close(self) -> None:
        """Stop the threads; queued work is cancelled, a running analysis finishes."""
        self._model.shutdown(wait=False, cancel_futures=True)
        self._io.shutdown(wait=False, cancel_futures=True)
