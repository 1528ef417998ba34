"""The live WebSocket: JPEG frames in, one JSON answer per processed frame out.

Latency stays bounded and nothing queues: a receive loop puts each incoming frame in a
one-frame *slot*, replacing (dropping) a frame that was not picked up yet; a worker
takes the newest frame from the slot whenever it is free, analyzes it, and answers
``{"frame": n, "width", "height", "faces": [...], "ms": server_ms, "dropped": total}``
(``n`` counts frames received on this connection from 1; ``dropped`` counts frames
replaced before they were processed). A frame that fails gets
``{"frame": n, "error": {"type", "message"}, "dropped"}`` and the stream goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ..errors import AgeGenderError
from .errors import PayloadTooLargeError, error_body
from .uploads import check_image
from .worker import AnalysisService

log = logging.getLogger(__name__)


class FrameSlot:
    """Holds only the newest unprocessed frame."""

    def __init__(self) -> None:
        self.frame: tuple[int, bytes] | None = None
        self.received = 0
        self.dropped = 0
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


async def _work(ws: Any, service: AnalysisService, slot: FrameSlot) -> None:
    settings = service.settings
    while True:
        n, data = await slot.take()
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
            done = await service.analyze(upload)
            r = done.result
            reply.update(
                width=r.width, height=r.height, faces=r.faces.to_dict(), ms=round(done.ms, 1)
            )
        except AgeGenderError as e:
            reply.update(error_body(e))
        reply["dropped"] = slot.dropped
        await ws.send_json(reply)


async def run_stream(ws: Any, service: AnalysisService) -> None:
    """Serve an accepted WebSocket until the client goes away."""
    slot = FrameSlot()
    worker = asyncio.create_task(_work(ws, service, slot))
    try:
        while not worker.done():
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            if msg.get("bytes") is not None:
                slot.put(msg["bytes"])
            # text messages are ignored (clients may send keep-alives)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await worker
            except Exception as e:  # noqa: BLE001 - a send to a closed socket, or a bug
                log.warning("stream worker stopped: %s", type(e).__name__)
        log.info("stream: %d frames received, %d dropped", slot.received, slot.dropped)
