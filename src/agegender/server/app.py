"""The FastAPI application: the web page, the REST API and the live WebSocket.

Routes: ``/`` (the page), ``/static/*``, ``/healthz``, ``/docs`` (a plain reference page,
no CDN), ``/openapi.json``, ``GET /v1/models``, ``POST /v1/analyze``, ``POST /v1/annotate``
and the WebSocket ``/v1/stream``. ``/v1/*`` is rate limited per client IP and, when an
API key is configured, needs it (``X-API-Key: KEY`` or ``Authorization: Bearer KEY``;
the WebSocket also takes ``?key=KEY``, as browsers cannot set its headers; no log line
shows it: :mod:`agegender.server.redact`).
"""

from __future__ import annotations

import base64
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection

from .._version import __version__
from ..errors import AgeGenderError
from ..faces import check_min_confidence
from .docs_page import render_docs
from .errors import (
    BadRequestError,
    PayloadTooLargeError,
    RateLimitedError,
    UnauthorizedError,
    error_body,
    status_of,
)
from .filters import MAX_MIN_FACE, face_filter
from .middleware import AccessLogMiddleware
from .ratelimit import RateLimiter
from .redact import install as install_redaction
from .settings import ServerSettings
from .stream import run_stream
from .uploads import (
    MULTIPART_OVERHEAD,
    SMALLER,
    Upload,
    check_image,
    check_type,
    media_type,
    parse_multipart,
    read_limited,
    route_multipart_logs,
)
from .worker import AnalysisService

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"

_BINARY = {"schema": {"type": "string", "format": "binary"}}
IMAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"image": {"type": "string", "format": "binary"}},
                    "required": ["image"],
                }
            },
            **{
                t: _BINARY
                for t in (
                    "image/jpeg",
                    "image/png",
                    "image/webp",
                    "image/avif",
                    "image/heic",
                    "image/heif",
                    "application/octet-stream",
                )
            },
        },
    }
}
GUARD_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or wrong API key"},
    429: {"description": "rate limited; see Retry-After"},
}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "not a decodable image, no 'image' field, more than one file, bad query"},
    **GUARD_ERRORS,
    413: {"description": "body above max_upload_bytes, or image above max_pixels (header)"},
    415: {"description": "content type not accepted"},
    503: {"description": "too many analyses waiting; see Retry-After"},
    504: {"description": "analysis over the time limit"},
}


#: ``?gender_min_confidence=P`` on /v1/analyze and /v1/annotate
MIN_CONFIDENCE = Query(
    None,
    description="0.5..1: perceived gender below it is undetermined (label null, '?' drawn); "
    "default: the server's gender_min_confidence (0.5: always a label)",
)
#: ``?preview=SIDE`` on /v1/analyze: the answer carries the decoded image as a small JPEG
PREVIEW = Query(
    0,
    ge=0,
    le=2048,
    description="0 (default): no preview; 1..2048: the answer's 'preview' is a data: URL of "
    "the decoded image as a JPEG at most this many px on its long side (for clients that "
    "cannot decode the format, e.g. TIFF or HEIC in a browser)",
)
#: ``?threshold=T&min_face=PX`` on /v1/analyze and /v1/annotate (:mod:`.filters`)
THRESHOLD = Query(
    None,
    description="0..1: report only the faces detected with at least this score; empty (default): "
    "the detector's own. It filters the server's detector's faces, so a value below that "
    "detector's own threshold (GET /healthz: detector.threshold) changes nothing",
)
MIN_FACE = Query(
    None,
    description=f"0..{MAX_MIN_FACE}: report only the faces whose shorter box side is at least "
    "this many pixels of the uploaded image; empty or 0 (default): the detector's own "
    "(GET /healthz: detector.min_face), which applies in any case",
)


def _threshold(raw: str | None, default: float) -> float:
    """A request's ``gender_min_confidence`` (checked), else the server's ``default``."""
    if raw is None or raw.strip() == "":
        return default
    try:
        return check_min_confidence(raw.strip())
    except ValueError as e:
        raise BadRequestError(f"query parameter {e}") from None


def _error_response(exc: BaseException) -> JSONResponse:
    headers = getattr(exc, "headers", None)
    return JSONResponse(error_body(exc), status_code=status_of(exc), headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    async def ours(request: Request, exc: Exception) -> JSONResponse:
        if status_of(exc) >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, type(exc).__name__)
        return _error_response(exc)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        phrase = HTTPStatus(exc.status_code).phrase.replace(" ", "").replace("-", "")
        body = {"error": {"type": phrase, "message": str(exc.detail)}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        body = {"error": {"type": "ValidationError", "message": str(exc)}}
        return JSONResponse(body, status_code=422)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s: unexpected %s", request.method, request.url.path, type(exc).__name__)
        return _error_response(exc)

    app.add_exception_handler(AgeGenderError, ours)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, unexpected)


async def read_upload(request: Request, settings: ServerSettings) -> Upload:
    """The uploaded image, from a multipart form or a raw body, held in memory only."""
    kind, params = media_type(request.headers.get("content-type"))
    length = request.headers.get("content-length")
    limit = settings.max_upload_bytes
    if kind == "multipart/form-data":
        boundary = params.get("boundary")
        if not boundary:
            raise BadRequestError("multipart/form-data without a boundary")
        body = await read_limited(request.stream(), limit + MULTIPART_OVERHEAD, length)
        upload = parse_multipart(body, boundary, settings.allowed_types)
        if len(upload.data) > limit:
            raise PayloadTooLargeError(
                f"the image is {len(upload.data):,} bytes, above this server's limit of "
                f"{limit:,} bytes; {SMALLER}"
            )
        return upload
    check_type(kind, settings.allowed_types)  # refused before the body is read
    body = await read_limited(request.stream(), limit, length)
    return check_image(body, kind, "upload", settings.allowed_types)


def _set_up_logs(settings: ServerSettings) -> None:
    """python-multipart's records through ours, and no key in any log line (also under a
    uvicorn that :func:`agegender.server.serve` did not start)."""
    route_multipart_logs()
    install_redaction([settings.api_key] if settings.api_key else [])


def create_app(settings: ServerSettings | None = None, analyzer: Any = None) -> FastAPI:
    """The web app and API. ``settings`` default to :meth:`ServerSettings.from_env`;
    ``analyzer`` (an :class:`~agegender.Analyzer`) defaults to one built from the settings
    on first use."""
    settings = settings or ServerSettings.from_env()
    _set_up_logs(settings)
    service = AnalysisService(settings, analyzer)
    limiter = RateLimiter(settings.rate_limit)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.preload:
            service.preload()
        yield
        service.close()

    app = FastAPI(
        title="agegender",
        version=__version__,
        summary="Apparent age and perceived gender of the faces in a photo.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = service
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key"],
        )
    app.add_middleware(AccessLogMiddleware)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_error_handlers(app)

    def client_ip(conn: HTTPConnection) -> str:
        if settings.trust_proxy and conn.headers.get("x-forwarded-for"):
            return conn.headers["x-forwarded-for"].split(",")[0].strip()
        return conn.client.host if conn.client else "unknown"

    def key_ok(conn: HTTPConnection, *, allow_query: bool = False) -> bool:
        if settings.api_key is None:
            return True
        given = conn.headers.get("x-api-key")
        auth = conn.headers.get("authorization", "")
        if given is None and auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        if given is None and allow_query:
            given = conn.query_params.get("key")
        return given is not None and hmac.compare_digest(
            given.encode("utf-8"), settings.api_key.encode("utf-8")
        )

    def check(conn: HTTPConnection, *, allow_query: bool = False) -> None:
        wait = limiter.acquire(client_ip(conn))
        if wait:
            raise RateLimitedError(
                f"rate limit of {settings.rate_limit} requests per minute reached; "
                f"retry in {wait} s",
                retry_after=wait,
            )
        if not key_ok(conn, allow_query=allow_query):
            raise UnauthorizedError(
                "missing or wrong API key: send it as 'X-API-Key: KEY' or "
                "'Authorization: Bearer KEY' (in the web page: About > API key)"
            )

    async def guard(request: Request) -> None:
        check(request)

    def origin_ok(ws: WebSocket) -> bool:
        origin = ws.headers.get("origin")
        if origin is None or "*" in settings.cors_origins or origin in settings.cors_origins:
            return True
        return urlsplit(origin).netloc == ws.headers.get("host")

    v1 = [Depends(guard)]

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(render_docs(app.openapi()))

    @app.get("/healthz", summary="Liveness: the server answers; says whether models are loaded")
    async def healthz() -> dict[str, Any]:
        # limits: what the web page reduces photos to before it sends them
        limits = {"max_upload_bytes": settings.max_upload_bytes, "max_pixels": settings.max_pixels}
        return {
            "status": "ok",
            "version": __version__,
            "models_loaded": service.loaded,
            "limits": limits,
            "detector": service.detector_options(),  # its threshold/min_face: the page's floor
        }

    @app.get(
        "/v1/models",
        dependencies=v1,
        responses=GUARD_ERRORS,
        summary="The models, their licenses and availability",
    )
    def models() -> dict[str, Any]:
        from ..models import records as all_records

        rows = [
            {
                "name": r.name,
                "task": r.task,
                "tasks": list(r.tasks),
                "license": r.license,
                "source": r.source,
                "available": r.available(),
                "description": r.description,
            }
            for r in all_records()
        ]
        return {"models": rows, "in_use": service.in_use()}

    @app.post(
        "/v1/analyze",
        dependencies=v1,
        openapi_extra=IMAGE_BODY,
        responses=ERRORS,
        summary="Faces, apparent age and perceived gender of one image (the CLI's JSON)",
        description="multipart field 'image' (or 'file'), or the raw image as the body",
    )
    async def analyze(
        request: Request,
        gender_min_confidence: str | None = MIN_CONFIDENCE,
        preview: int = PREVIEW,
        threshold: str | None = THRESHOLD,
        min_face: str | None = MIN_FACE,
    ) -> JSONResponse:
        gender = _threshold(gender_min_confidence, settings.gender_min_confidence)
        keep = face_filter(threshold, min_face)
        upload = await read_upload(request, settings)
        done = await service.analyze(upload, preview=preview, keep=keep)
        body = done.result.to_dict(gender_min_confidence=gender)
        if done.preview is not None:
            body["preview"] = "data:image/jpeg;base64," + base64.b64encode(done.preview).decode()
        return JSONResponse(body)

    @app.post(
        "/v1/annotate",
        dependencies=v1,
        openapi_extra=IMAGE_BODY,
        responses={**ERRORS, 200: {"content": {"image/jpeg": {}}, "description": "JPEG"}},
        response_class=Response,
        summary="The image with boxes, landmarks and labels drawn, as a JPEG",
    )
    async def annotate(
        request: Request,
        gender_min_confidence: str | None = MIN_CONFIDENCE,
        threshold: str | None = THRESHOLD,
        min_face: str | None = MIN_FACE,
    ) -> Response:
        gender = _threshold(gender_min_confidence, settings.gender_min_confidence)
        keep = face_filter(threshold, min_face)
        upload = await read_upload(request, settings)
        done = await service.analyze(upload, annotate=True, gender_min_confidence=gender, keep=keep)
        headers = {"X-Faces": str(len(done.result.faces))}
        return Response(done.jpeg, media_type="image/jpeg", headers=headers)

    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket) -> None:
        await ws.accept()
        code = 0
        try:
            if not origin_ok(ws):
                code = 4403
                raise UnauthorizedError("this page's origin may not open the stream")
            code = 4401
            check(ws, allow_query=True)
        except (RateLimitedError, UnauthorizedError) as e:
            code = 4429 if isinstance(e, RateLimitedError) else code
            await ws.send_json(error_body(e))
            await ws.close(code=code)
            return
        await run_stream(ws, service)

    return app
