"""uvicorn's h11 HTTP protocol with the time limits and the connection cap it lacks.

uvicorn closes a keep-alive connection that stays idle after a response
(``timeout_keep_alive``), but waits forever for a request head that never completes (a
client that connects and sends nothing, or a header at 1 byte/s) and for a body that
never ends, and it accepts any number of connections. :func:`guarded_protocol` returns an
``H11Protocol`` subclass (passed to uvicorn as ``http=``) that adds, per connection:

- **header timeout**: the request head (request line and headers) must be complete
  within ``header_timeout`` seconds of the connection opening, or of its first byte
  after an earlier response; else ``408 Request Timeout`` and the connection is closed;
- **body timeout**: the body must be complete within ``body_timeout`` seconds of the
  head; else ``408`` (when no answer has started) and the connection is closed, and the
  app's next ``receive()`` says the client disconnected;
- **connection cap**: a connection beyond ``max_connections`` open ones (HTTP and
  WebSocket together) is closed as soon as it is accepted (logged at most every 10 s).

Imports uvicorn and h11 (the ``server`` extra): imported by :func:`agegender.server.serve` only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("agegender.server.protocol")

_BODY = b"request not received in time\n"
RESPONSE_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY
)


class GuardedH11Protocol(H11Protocol):
    """``H11Protocol`` with a header timeout, a body timeout and a connection cap (set as
    class attributes by :func:`guarded_protocol`)."""

    header_timeout: float = 10.0
    body_timeout: float = 60.0
    max_connections: int = 500
    _last_cap_log = 0.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard: asyncio.TimerHandle | None = None
        self._phase: str | None = None

    # -- connection life ------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            now = time.monotonic()
            if now - GuardedH11Protocol._last_cap_log > 10.0:
                GuardedH11Protocol._last_cap_log = now
                log.warning(
                    "refusing connections: %d open, the cap is max_connections=%d "
                    "(AGEGENDER_MAX_CONNECTIONS)", len(self.connections) - 1, self.max_connections)
            transport.close()
            return
        self._arm("head", self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._disarm()  # the WebSocket protocol takes over (its own pings and limits)
        super().handle_websocket_upgrade(event)

    # -- the timer --------------------------------------------------------------------
    def _follow(self) -> None:
        """Arm the timer that fits where the request is: head, body, or none."""
        if self.transport is None or self.transport.is_closing():
            self._disarm()
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            if self.timeout_keep_alive_task is not None:
                self._disarm()  # idle after a response: uvicorn's keep-alive timeout
            else:
                self._arm("head", self.header_timeout)  # a head has begun
        elif state is h11.SEND_BODY:
            self._arm("body", self.body_timeout)
        else:
            self._disarm()

    def _arm(self, phase: str, seconds: float) -> None:
        if self._phase == phase and self._guard is not None:
            return  # the deadline runs from the start of the phase, not from each byte
        self._disarm()
        self._phase = phase
        self._guard = self.loop.call_later(seconds, self._expire, phase)

    def _disarm(self) -> None:
        if self._guard is not None:
            self._guard.cancel()
        self._guard, self._phase = None, None

    def _expire(self, phase: str) -> None:
        self._guard, self._phase = None, None
        if self.transport.is_closing():
            return
        seconds = self.header_timeout if phase == "head" else self.body_timeout
        log.debug("closing a connection: request %s not complete within %g s", phase, seconds)
        cycle = self.cycle if phase == "body" else None
        if cycle is None or not cycle.response_started:
            self.transport.write(RESPONSE_408)
        if cycle is not None:
            cycle.disconnected = True  # the app's answer, if any, is dropped
            cycle.message_event.set()
        self.transport.close()


def guarded_protocol(header_timeout: float, body_timeout: float, max_connections: int) -> type[GuardedH11Protocol]:
    """A :class:`GuardedH11Protocol` subclass with these limits (uvicorn's ``http=``)."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout,
         "max_connections": max_connections},
    )
