"""The live WebSocket: JPEG frames in, one JSON answer per processed frame out.

Each connection has its own face tracker and per-track aggregation, the same as
``agegender analyze VIDEO`` (:func:`agegender.video.default_tracker`,
:class:`agegender.track.TrackAggregator`): each face carries a ``track_id`` that stays
the same while the person is in view, and its age and gender are that person's
aggregated answer, which steadies as frames accumulate. Unlike video files, every
detection is estimated (``estimate_every=1``): a browser sends few frames a second. ``people`` counts the tracks
confirmed on this connection so far.

A text message ``{"threshold": 0.8, "min_face": 40}`` sets this connection's minimum
detection score (0..1, or null for the detector's own) and smallest face (shorter box
side in frame pixels); the server answers ``{"config": {"threshold", "min_face"}}``,
or ``{"config": null, "error": {...}}`` when a value is out of range. Other text
messages are ignored (keep-alives). A connection that sends nothing (no frame, no text)
for ``stream_idle_timeout`` seconds (60) gets ``{"error": {"type": "StreamIdleError", ...}}``
and is closed with code 4408; time spent waiting for an answer of ours does not count.

Latency stays bounded and nothing queues: a receive loop puts each incoming frame in a
one-frame *slot*, replacing (dropping) a frame that was not picked up yet; a worker
takes the newest frame from the slot whenever it is free, analyzes it, and answers
``{"frame": n, "width", "height", "faces": [...], "people", "ms": server_ms, "dropped": total}``
(``n`` counts frames received on this connection from 1; ``dropped`` counts frames
replaced before they were processed). A frame that fails gets
``{"frame": n, "error": {"type", "message"}, "dropped"}`` and the stream goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AgeGenderError
from .errors import (
    STREAM_IDLE_CODE,
    BadRequestError,
    PayloadTooLargeError,
    StreamIdleError,
    error_body,
)
from .filters import check_filter, keep_faces
from .uploads import check_image
from .worker import AnalysisService

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ..faces import Faces
    from ..track import FrameStep

log = logging.getLogger(__name__)

#: the frame rate assumed for the tracker's time constants (a browser sends 5-20 fps)
LIVE_FPS = 10.0


class LiveSession:
    """One connection's per-frame step (its tracker and aggregator) and detection options."""

    def __init__(self, fps: float = LIVE_FPS) -> None:
        self.fps = fps
        self.step: FrameStep | None = None  # made with the analyzer of the first frame
        self.threshold: float | None = None
        self.min_face = 0
        self.people: set[int] = set()

    def configure(self, message: dict[str, Any]) -> dict[str, Any]:
        """Set ``threshold`` and/or ``min_face``; returns the options now in force.

        Raises:
            BadRequestError: a value of the wrong type or out of range
                (:func:`~agegender.server.filters.check_filter`).
        """
        self.threshold, self.min_face = check_filter(
            message.get("threshold", self.threshold), message.get("min_face", self.min_face)
        )
        return {"threshold": self.threshold, "min_face": self.min_face}

    def _keep(self, faces: Faces) -> Faces:
        """The detections this connection's ``threshold`` and ``min_face`` allow."""
        return keep_faces(faces, self.threshold, self.min_face)

    def process(self, analyzer: Any, rgb: NDArray[np.uint8], index: int) -> Faces:
        """Detect, keep the faces the options allow, track, estimate, aggregate (model
        thread; the step is made with the analyzer of the first frame)."""
        if self.step is None:
            from ..track import FrameStep, TrackAggregator
            from ..video import default_tracker

            self.step = FrameStep(
                analyzer, default_tracker(self.fps), TrackAggregator(fps=self.fps), keep=self._keep
            )
        shown = self.step(rgb, index).shown
        if shown.track_id is not None:
            self.people.update(int(t) for t in shown.track_id if t > 0)
        return shown


class FrameSlot:
    """Holds only the newest unprocessed frame."""

    def __init__(self) -> None:
        self.frame: tuple[int, bytes] | None = None
        self.received = 0
        self.dropped = 0
        self.working = False  # a frame taken is being analyzed and answered
        self._ready = asyncio.Event()

    def put(self, data: bytes) -> None:
        """Store a new frame, dropping the one waiting (if any)."""
        self.received += 1
        if self.frame is not None:
            self.dropped += 1
        self.frame = (self.received, data)
        self._ready.set()

    async def take(self) -> tuple[int, bytes]:
        """Wait for a frame and take it out of the slot."""
        while self.frame is None:
            self._ready.clear()
            await self._ready.wait()
        frame, self.frame = self.frame, None
        return frame


async def _work(ws: Any, service: AnalysisService, slot: FrameSlot, session: LiveSession) -> None:
    settings = service.settings
    while True:
        n, data = await slot.take()
        slot.working = True
        reply: dict[str, Any] = {"frame": n}
        try:
            if len(data) > settings.max_upload_bytes:
                raise PayloadTooLargeError(
                    f"frame of {len(data):,} bytes is above the limit of "
                    f"{settings.max_upload_bytes:,}"
                )
            upload = check_image(
                data, "application/octet-stream", f"frame {n}", settings.allowed_types
            )
            done = await service.analyze(
                upload, process=functools.partial(session.process, index=n)
            )
            r = done.result
            reply.update(
                width=r.width,
                height=r.height,
                faces=r.faces.to_dict(gender_min_confidence=settings.gender_min_confidence),
                people=len(session.people),
                ms=round(done.ms, 1),
            )
        except AgeGenderError as e:
            reply.update(error_body(e))
        reply["dropped"] = slot.dropped
        await ws.send_json(reply)
        slot.working = False


async def _configure(ws: Any, session: LiveSession, text: str) -> None:
    """Apply a ``{"threshold", "min_face"}`` message; other text is a keep-alive."""
    try:
        message = json.loads(text)
    except ValueError:
        return
    if not isinstance(message, dict) or not {"threshold", "min_face"} & set(message):
        return
    try:
        await ws.send_json({"config": session.configure(message)})
    except BadRequestError as e:
        await ws.send_json({"config": None, **error_body(e)})


async def _close_idle(ws: Any, seconds: float) -> None:
    """Tell an idle client why, then close with :data:`STREAM_IDLE_CODE`."""
    e = StreamIdleError(
        f"no frame or message for {seconds:g} s: the stream was closed; reconnect to go on "
        "(a client that pauses sends a text keep-alive)"
    )
    with contextlib.suppress(Exception):  # the client may be gone already
        await ws.send_json(error_body(e))
        await ws.close(code=STREAM_IDLE_CODE)


async def run_stream(ws: Any, service: AnalysisService) -> None:
    """Serve an accepted WebSocket until the client goes away or sends nothing for
    ``stream_idle_timeout`` seconds."""
    slot = FrameSlot()
    session = LiveSession()
    worker = asyncio.create_task(_work(ws, service, slot, session))
    idle = service.settings.stream_idle_timeout
    try:
        while not worker.done():
            try:
                msg = await asyncio.wait_for(ws.receive(), timeout=idle)
            except TimeoutError:
                if slot.working or slot.frame is not None:
                    continue  # the client waits for our answer: it is not idle
                log.info("stream: idle for %g s, closed", idle)
                await _close_idle(ws, idle)
                break
            if msg["type"] == "websocket.disconnect":
                break
            if msg.get("bytes") is not None:
                slot.put(msg["bytes"])
            elif msg.get("text"):
                await _configure(ws, session, msg["text"])
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await worker
            except Exception as e:  # noqa: BLE001 - a send to a closed socket, or a bug
                log.warning("stream worker stopped: %s", type(e).__name__)
        log.info("stream: %d frames received, %d dropped", slot.received, slot.dropped)
