"""The server's exceptions, each with the HTTP status it is answered with.

Every error reaches the client as JSON ``{"error": {"type", "message"}}``; ``type`` is
the exception's class name (ours, or the library's such as ``ImageDecodeError``).
"""

from __future__ import annotations

from ..errors import AgeGenderError, ImageTooLargeError, InputError


class ServerError(AgeGenderError):
    """Base of the server's own errors; ``status`` is the HTTP status code."""

    status = 500
    headers: dict[str, str] | None = None


class MissingDependencyError(ServerError):
    """The server extra is not installed (FastAPI, uvicorn)."""


class PayloadTooLargeError(ServerError, InputError):
    """The request body is above ``max_upload_bytes``."""

    status = 413


class UnsupportedMediaTypeError(ServerError, InputError):
    """A content type that is not an accepted image type (or multipart form)."""

    status = 415


class BadRequestError(ServerError, InputError):
    """A malformed request: no image field, a broken multipart body."""

    status = 400


class UnauthorizedError(ServerError):
    """A missing or wrong API key."""

    status = 401
    headers = {"WWW-Authenticate": 'Bearer realm="agegender"'}


class RateLimitedError(ServerError):
    """Too many requests from one client IP; retry after ``retry_after`` seconds."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class BusyError(ServerError):
    """Too many analyses queued; retry in a moment."""

    status = 503
    headers = {"Retry-After": "1"}


class AnalysisTimeoutError(ServerError):
    """The analysis did not finish within ``request_timeout`` seconds."""

    status = 504


class StreamIdleError(ServerError):
    """A live WebSocket sent nothing for ``stream_idle_timeout`` seconds; it is closed
    with code :data:`STREAM_IDLE_CODE`."""

    status = 408


#: The WebSocket close code of an idle stream (4000 + the HTTP status, as 4401 and 4403).
STREAM_IDLE_CODE = 4408


def status_of(exc: BaseException) -> int:
    """The HTTP status for one of our exceptions (500 for anything unexpected)."""
    if isinstance(exc, ServerError):
        return exc.status
    if isinstance(exc, ImageTooLargeError):
        return 413
    if isinstance(exc, InputError):
        return 400
    return 500


def error_body(exc: BaseException) -> dict[str, dict[str, str]]:
    """The JSON error object for an exception; unexpected ones say nothing internal."""
    if isinstance(exc, AgeGenderError):
        return {"error": {"type": type(exc).__name__, "message": str(exc)}}
    return {"error": {"type": "InternalError", "message": "internal server error"}}
