"""Running analyses off the event loop, with one shared Analyzer, a queue bound and a time limit.

Threading model: the :class:`~agegender.Analyzer` is created once and is only ever
called from **one dedicated model thread** (a single-worker executor), so its
detectors and onnxruntime sessions never run concurrently and need no lock; each call
still uses every core through onnxruntime's and OpenCV's own intra-op threads.
Decoding uploads and encoding annotated JPEGs (Pillow, thread-safe) run on a small
separate pool, so they overlap with the model work of other requests.

The time limit covers queueing, decoding and analysis. A request that runs out of time
is answered 504 at once; if its analysis had not started yet it is cancelled, otherwise
it finishes in the background (a running ONNX call cannot be interrupted) and its
result is discarded.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..io.images import decode_image
from ..pipeline import Result
from ..types import Faces
from .errors import AnalysisTimeoutError, BusyError
from .settings import ServerSettings
from .uploads import Upload

log = logging.getLogger(__name__)


@dataclass
class Analysis:
    """One finished analysis: the CLI's result, the annotated JPEG if asked, the time taken."""

    result: Result
    ms: float
    jpeg: bytes | None = None


def annotated_jpeg(rgb: NDArray[np.uint8], faces: Faces, quality: int = 90) -> bytes:
    """The annotated image (boxes, landmarks, labels) as JPEG bytes."""
    from PIL import Image

    from ..annotation import annotate

    buf = io.BytesIO()
    Image.fromarray(annotate(rgb, faces, channels="RGB")).save(buf, "JPEG", quality=quality)
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

    @property
    def loaded(self) -> bool:
        """Whether the models are loaded."""
        return self._analyzer is not None

    def analyzer(self) -> Any:
        """The shared Analyzer, created on first use (normally on the model thread)."""
        if self._analyzer is None:
            with self._create_lock:
                if self._analyzer is None:
                    from ..pipeline import Analyzer

                    t0 = time.perf_counter()
                    self._analyzer = Analyzer(**self.settings.analyzer_options())
                    log.info(
                        "models loaded in %.1f s: %r", time.perf_counter() - t0, self._analyzer
                    )
        return self._analyzer

    def preload(self) -> None:
        """Start loading the models on the model thread (returns at once)."""
        self._model.submit(self.analyzer)

    def _analyze(self, rgb: NDArray[np.uint8]) -> Faces:
        return self.analyzer().analyze(rgb, channels="RGB")

    async def analyze(self, upload: Upload, *, annotate: bool = False) -> Analysis:
        """Decode and analyze an upload within the time limit.

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
        try:
            return await asyncio.wait_for(
                self._run(upload, annotate), timeout=self.settings.request_timeout
            )
        except TimeoutError:
            raise AnalysisTimeoutError(
                f"the analysis took longer than {self.settings.request_timeout:g} s; "
                "send a smaller image or retry when the server is less busy"
            ) from None
        finally:
            self.pending -= 1

    async def _run(self, upload: Upload, annotate: bool) -> Analysis:
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        decode = partial(
            decode_image, upload.data, max_pixels=self.settings.max_pixels, name=upload.name
        )
        rgb = await loop.run_in_executor(self._io, decode)
        faces = await loop.run_in_executor(self._model, self._analyze, rgb)
        jpeg = None
        if annotate:
            jpeg = await loop.run_in_executor(self._io, annotated_jpeg, rgb, faces)
        h, w = rgb.shape[:2]
        result = Result(upload.name, faces, width=w, height=h)
        return Analysis(result=result, ms=(time.perf_counter() - t0) * 1000.0, jpeg=jpeg)

    def close(self) -> None:
        """Stop the threads; queued work is cancelled, a running analysis finishes."""
        self._model.shutdown(wait=False, cancel_futures=True)
        self._io.shutdown(wait=False, cancel_futures=True)
