"""ASGI middleware: security headers on every HTTP response, and a privacy-safe access log.

The log line holds the method, the path *without* its query string (a WebSocket API
key may travel there), the status, the byte counts and the time taken: never a file
name, never image content, never a client's key.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("agegender.server.access")

#: Content Security Policy of the page: every script, style and image from this server.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(self), microphone=(), geolocation=()"),
    (b"cache-control", b"no-store"),
)


class AccessLogMiddleware:
    """Adds :data:`SECURITY_HEADERS` and logs one line per request (sizes and status only)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            t0 = time.perf_counter()
            try:
                await self.app(scope, receive, send)
            finally:
                log.info("WS %s closed after %.1f s", scope["path"], time.perf_counter() - t0)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        seen = {"status": 0, "out": 0}
        length = next(
            (v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"content-length"),
            "0",
        )

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                headers = [h for h in message.get("headers", []) if h[0] != b"cache-control"]
                message["headers"] = headers + list(SECURITY_HEADERS)
            elif message["type"] == "http.response.body":
                seen["out"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            log.info(
                "%s %s %d in=%sB out=%dB %.0fms",
                scope["method"],
                scope["path"],
                seen["status"],
                length,
                seen["out"],
                (time.perf_counter() - t0) * 1000.0,
            )
