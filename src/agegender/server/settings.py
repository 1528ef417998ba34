"""Server settings: a dataclass with safe defaults, each overridable from the environment.

========================  =================================  =====================================
field                     environment variable               default
========================  =================================  =====================================
``max_upload_bytes``      ``AGEGENDER_MAX_UPLOAD_BYTES``     10 MB (10,000,000 bytes)
``max_pixels``            ``AGEGENDER_MAX_PIXELS``           40,000,000 (40 MP)
``max_inflight_pixels``   ``AGEGENDER_MAX_INFLIGHT_PIXELS``  80,000,000 (two images at max_pixels)
``allowed_types``         ``AGEGENDER_ALLOWED_TYPES``        JPEG, PNG, WebP, AVIF, BMP, GIF, TIFF
``rate_limit``            ``AGEGENDER_RATE_LIMIT``           120 requests/minute/IP (0: off)
``request_timeout``       ``AGEGENDER_REQUEST_TIMEOUT``      30 seconds
``max_pending``           ``AGEGENDER_MAX_PENDING``          32 analyses queued or running
``header_timeout``        ``AGEGENDER_HEADER_TIMEOUT``       10 seconds for a request's head
``body_timeout``          ``AGEGENDER_BODY_TIMEOUT``         60 seconds for a request's body
``idle_timeout``          ``AGEGENDER_IDLE_TIMEOUT``         5 seconds idle between requests
``max_connections``       ``AGEGENDER_MAX_CONNECTIONS``      500 open connections
``api_key``               ``AGEGENDER_API_KEY``              none (no key needed)
``cors_origins``          ``AGEGENDER_CORS_ORIGINS``         none (CORS off)
``trust_proxy``           ``AGEGENDER_TRUST_PROXY``          off (client IP = socket peer)
gender_min_confidence     AGEGENDER_GENDER_MIN_CONFIDENCE    0.5 (always a label)
``detector`` ... ``tta``  ``AGEGENDER_DETECTOR`` ...         the CLI's defaults
========================  =================================  =====================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

from ..errors import InputError
from ..faces import check_min_confidence
from ..models.profiles import DEFAULT

#: Image media types accepted for uploads; ``application/octet-stream`` is sniffed.
DEFAULT_ALLOWED_TYPES: tuple[str, ...] = (
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/avif",
    "image/bmp",
    "image/gif",
    "image/tiff",
    "application/octet-stream",
)

_ENV: dict[str, str] = {
    "max_upload_bytes": "AGEGENDER_MAX_UPLOAD_BYTES",
    "max_pixels": "AGEGENDER_MAX_PIXELS",
    "max_inflight_pixels": "AGEGENDER_MAX_INFLIGHT_PIXELS",
    "allowed_types": "AGEGENDER_ALLOWED_TYPES",
    "rate_limit": "AGEGENDER_RATE_LIMIT",
    "request_timeout": "AGEGENDER_REQUEST_TIMEOUT",
    "max_pending": "AGEGENDER_MAX_PENDING",
    "header_timeout": "AGEGENDER_HEADER_TIMEOUT",
    "body_timeout": "AGEGENDER_BODY_TIMEOUT",
    "idle_timeout": "AGEGENDER_IDLE_TIMEOUT",
    "max_connections": "AGEGENDER_MAX_CONNECTIONS",
    "api_key": "AGEGENDER_API_KEY",
    "cors_origins": "AGEGENDER_CORS_ORIGINS",
    "trust_proxy": "AGEGENDER_TRUST_PROXY",
    "detector": "AGEGENDER_DETECTOR",
    "age_model": "AGEGENDER_AGE_MODEL",
    "gender_model": "AGEGENDER_GENDER_MODEL",
    "device": "AGEGENDER_DEVICE",
    "tta": "AGEGENDER_TTA",
    "gender_min_confidence": "AGEGENDER_GENDER_MIN_CONFIDENCE",
    "profile": "AGEGENDER_PROFILE",
    "detect_size": "AGEGENDER_DETECT_SIZE",
}


@dataclass(frozen=True)
class ServerSettings:
    """What the web app and REST API accept and how they protect themselves.

    Build one with :meth:`from_env` (environment, then keyword overrides) or directly
    (defaults only, the environment is not read).
    """

    max_upload_bytes: int = 10_000_000
    max_pixels: int = 40_000_000
    #: decoded pixels in flight (decoding, waiting for the model, analyzed) over all requests;
    #: an upload waits until its pixels fit (one larger than this runs alone). The variable
    #: is the CLI's too (agegender.io.budget), with the same meaning; the defaults differ
    max_inflight_pixels: int = 80_000_000
    allowed_types: tuple[str, ...] = DEFAULT_ALLOWED_TYPES
    #: requests per minute per client IP on ``/v1/*`` (token bucket, burst = a minute's worth)
    rate_limit: int = 120
    #: seconds from accepting an upload to its answer (queueing, decoding, analysis)
    request_timeout: float = 30.0
    #: analyses queued or running at once; more are answered 503 (busy) at once
    max_pending: int = 32
    #: seconds for a request's head (request line and headers) to arrive, from the
    #: connection's start or its first byte after a response (slow clients: 408, closed)
    header_timeout: float = 10.0
    #: seconds for a request's body to arrive once its head is in (408, closed)
    body_timeout: float = 60.0
    #: seconds a connection may stay idle between requests (uvicorn's keep-alive timeout)
    idle_timeout: float = 5.0
    #: open connections (HTTP and WebSocket); one more is closed as soon as it is accepted
    max_connections: int = 500
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    #: take the client IP from ``X-Forwarded-For`` (only behind a proxy you control)
    trust_proxy: bool = False
    #: create the models at startup rather than on the first request
    preload: bool = False
    detector: str = "auto"
    age_model: str | None = DEFAULT  # the profile's (agegender.models.profiles)
    gender_model: str | None = DEFAULT
    profile: str | None = None  # accurate (default, or AGEGENDER_PROFILE) or permissive
    device: str = "auto"
    tta: str = "none"
    threshold: float | None = None
    min_face: int | None = None
    #: the detector's view size (longest side, pixels); None: the detector's default
    detect_size: int | None = None
    #: None: as each model's card says (see Analyzer)
    mask_background: bool | None = None
    #: 0.5..1: perceived gender below it is undetermined ("label": null); a request's
    #: ``?gender_min_confidence=P`` overrides it for that request
    gender_min_confidence: float = 0.5

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> ServerSettings:
        """Settings from ``AGEGENDER_*`` variables, then ``overrides`` (field names).

        An override of ``None`` is ignored; ``api_key=""`` turns off a key set in the
        environment.

        Raises:
            InputError: an unknown setting name, or a value that cannot be parsed.
        """
        env = dict(os.environ) if env is None else env
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise InputError(
                f"unknown server setting(s) {', '.join(unknown)}; known: {', '.join(known)}"
            )
        values: dict[str, Any] = {}
        for name, var in _ENV.items():
            raw = env.get(var)
            if raw is not None and raw.strip() != "":
                values[name] = _parse(name, raw.strip(), var)
        # None means "not given" (e.g. an unset CLI option): the environment's value stays
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls().with_(**values)

    def with_(self, **changes: Any) -> ServerSettings:
        """A copy with some fields changed (values normalised and checked)."""
        s = replace(self, **changes)
        if isinstance(s.cors_origins, str):
            object.__setattr__(s, "cors_origins", _split(s.cors_origins))
        if isinstance(s.allowed_types, str):
            object.__setattr__(s, "allowed_types", _split(s.allowed_types))
        object.__setattr__(s, "allowed_types", tuple(t.lower() for t in s.allowed_types))
        if s.api_key == "":
            object.__setattr__(s, "api_key", None)
        for name in ("max_upload_bytes", "max_pixels", "max_inflight_pixels", "max_pending",
                     "max_connections"):
            if int(getattr(s, name)) < 1:
                raise InputError(f"server setting {name} must be at least 1")
        try:
            object.__setattr__(
                s, "gender_min_confidence", check_min_confidence(s.gender_min_confidence)
            )
        except ValueError as e:
            raise InputError(f"server setting {e}") from None
        if s.request_timeout <= 0 or s.rate_limit < 0:
            raise InputError("request_timeout must be > 0 seconds and rate_limit >= 0")
        for name in ("header_timeout", "body_timeout", "idle_timeout"):
            if not float(getattr(s, name)) > 0:
                raise InputError(f"server setting {name} must be > 0 seconds")
        return s

    def analyzer_options(self) -> dict[str, Any]:
        """Keyword arguments for :class:`agegender.Analyzer`."""
        from ..analyzer import analyzer_options

        return analyzer_options(self)


def _split(raw: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def _parse(name: str, raw: str, var: str) -> Any:
    try:
        if name in (
            "max_upload_bytes",
            "max_pixels",
            "max_inflight_pixels",
            "rate_limit",
            "max_pending",
            "detect_size",
            "max_connections",
        ):
            return int(float(raw))
        if name in ("request_timeout", "gender_min_confidence", "header_timeout",
                    "body_timeout", "idle_timeout"):
            return float(raw)
        if name == "trust_proxy":
            return raw.lower() in ("1", "true", "yes", "on")
        if name in ("cors_origins", "allowed_types"):
            return _split(raw)
    except ValueError:
        raise InputError(f"{var}={raw!r}: not a number") from None
    return raw
