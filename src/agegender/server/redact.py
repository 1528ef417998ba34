"""Keep secrets out of every log line: API keys in query strings and headers.

The live page sends its key as ``/v1/stream?key=KEY`` (browsers cannot set headers on a
WebSocket), and at DEBUG the WebSocket library logs each handshake's request line and
headers. :class:`RedactSecrets` rewrites a record's message before any handler formats
it: ``key=...`` (and ``api_key``, ``token``, ``access_token``) in a query string, the
values of the ``Authorization``, ``X-API-Key``, ``Cookie`` and ``Sec-WebSocket-Protocol``
headers, and every occurrence of the configured key itself (raw or URL-encoded) become
``***``. Nothing here imports uvicorn.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"

_QUERY = re.compile(r"(?i)([?&;](?:key|api_key|apikey|token|access_token)=)[^&\s\"'#;]*")
_HEADER = re.compile(
    r"(?i)\b(authorization|x-api-key|cookie|sec-websocket-protocol)(['\"]?\s*[:=,]\s*['\"]?)"
    r"([^\r\n'\"]*)"
)

#: the loggers that write request lines and headers: uvicorn's, the WebSocket libraries'
#: and ours (filters on a logger only see the records created on that logger)
LOGGERS = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "uvicorn.asgi",
    "websockets",
    "websockets.server",
    "websockets.protocol",
    "wsproto",
    "agegender.server",
    "agegender.server.access",
    "agegender.server.app",
    "agegender.server.stream",
    "agegender.server.uploads",
    "agegender.server.worker",
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with query-string keys, credential headers and each of ``secrets`` masked."""
    for s in secrets:
        if s:
            for form in {s, quote(s), quote(s, safe=""), quote_plus(s)}:
                text = text.replace(form, MASK)
    text = _QUERY.sub(lambda m: m.group(1) + MASK, text)
    return _HEADER.sub(lambda m: m.group(1) + m.group(2) + MASK, text)


class RedactSecrets(logging.Filter):
    """A filter (for loggers and handlers) that masks secrets in each record's message."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record: leave it to the handler
            return True
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install(secrets: Iterable[str] = (), handlers: Iterable[logging.Handler] = ()) -> RedactSecrets:
    """Put one :class:`RedactSecrets` on :data:`LOGGERS` and on ``handlers`` (replacing one
    put there before, so that a new key replaces the old). Returns the filter."""
    f = RedactSecrets(secrets)
    for target in [*(logging.getLogger(n) for n in LOGGERS), *handlers]:
        for old in [x for x in target.filters if isinstance(x, RedactSecrets)]:
            target.removeFilter(old)
        target.addFilter(f)
    return f


def all_handlers() -> list[logging.Handler]:
    """The handlers of the root logger and of :data:`LOGGERS` (where records are written)."""
    seen: list[logging.Handler] = []
    for lg in [logging.getLogger(), *(logging.getLogger(n) for n in LOGGERS)]:
        seen.extend(h for h in lg.handlers if h not in seen)
    return seen
