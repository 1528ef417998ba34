"""Server settings: a frozen dataclass with safe defaults, each overridable from the
environment. Its fields are built from options: the server's own (:data:`SERVER_OPTIONS`)
and every Analyzer option of the one schema (:data:`agegender.options.ANALYZER_OPTIONS`,
with the server's own defaults in :data:`SERVER_DEFAULTS`); each option's variable is
``AGEGENDER_<NAME>`` and its value is parsed and checked as the option says.

========================  =================================  =====================================
field                     environment variable               default
========================  =================================  =====================================
``max_upload_bytes``      ``AGEGENDER_MAX_UPLOAD_BYTES``     10 MB (10,000,000 bytes)
``max_pixels``            ``AGEGENDER_MAX_PIXELS``           40,000,000 (40 MP)
``max_inflight_pixels``   ``AGEGENDER_MAX_INFLIGHT_PIXELS``  80,000,000 (two images at max_pixels)
``allowed_types``         ``AGEGENDER_ALLOWED_TYPES``        JPEG, PNG, WebP, AVIF, HEIC/HEIF,
                                                             BMP, GIF, TIFF
``rate_limit``            ``AGEGENDER_RATE_LIMIT``           120 requests/minute/IP (0: off)
``request_timeout``       ``AGEGENDER_REQUEST_TIMEOUT``      30 seconds
``max_pending``           ``AGEGENDER_MAX_PENDING``          32 analyses queued or running
``header_timeout``        ``AGEGENDER_HEADER_TIMEOUT``       10 seconds for a request's head
``body_timeout``          ``AGEGENDER_BODY_TIMEOUT``         60 seconds for a request's body
``idle_timeout``          ``AGEGENDER_IDLE_TIMEOUT``         5 seconds idle between requests
``stream_idle_timeout``   ``AGEGENDER_STREAM_IDLE_TIMEOUT``  60 seconds without a message on
                                                             a live WebSocket (closed: 4408)
``max_connections``       ``AGEGENDER_MAX_CONNECTIONS``      500 open connections
``api_key``               ``AGEGENDER_API_KEY``              none (no key needed)
``cors_origins``          ``AGEGENDER_CORS_ORIGINS``         none (CORS off)
``trust_proxy``           ``AGEGENDER_TRUST_PROXY``          off (client IP = socket peer)
gender_min_confidence     AGEGENDER_GENDER_MIN_CONFIDENCE    0.5 (always a label)
``detector`` ... ``tta``  ``AGEGENDER_DETECTOR`` ...         the CLI's defaults (every option
                                                             of :mod:`agegender.options`)
========================  =================================  =====================================
"""

from __future__ import annotations

import os
from dataclasses import field, fields, make_dataclass, replace
from typing import Any, ClassVar, TypeVar

from ..errors import InputError
from ..options import Option

#: Image media types accepted for uploads; ``application/octet-stream`` is sniffed.
DEFAULT_ALLOWED_TYPES: tuple[str, ...] = (
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/avif",
    "image/heic",  # HEIC/HEIF: read with the heic extra (pillow-heif), else refused (415)
    "image/heif",
    "image/bmp",
    "image/gif",
    "image/tiff",
    "application/octet-stream",
)

#: The server's own settings (the Analyzer's options are added to them).
SERVER_OPTIONS: list[Option] = [
    Option("max_upload_bytes", int, 10_000_000, minimum=1, help="largest upload, in bytes"),
    # decoded pixels in flight (decoding, waiting for the model, analyzed) over all requests;
    # an upload waits until its pixels fit (one larger than this runs alone). The variable
    # is the CLI's too (agegender.io.budget), with the same meaning; the defaults differ
    Option("max_inflight_pixels", int, 80_000_000, minimum=1,
           help="decoded pixels held at once over all requests"),
    Option("allowed_types", tuple, DEFAULT_ALLOWED_TYPES, help="image media types accepted"),
    Option("rate_limit", int, 120, minimum=0,
           help="requests per minute per client IP on /v1/* (token bucket; 0: off)"),
    Option("request_timeout", float, 30.0, above=0, unit=" seconds",
           help="seconds from accepting an upload to its answer"),
    Option("max_pending", int, 32, minimum=1,
           help="analyses queued or running at once; more are answered 503 at once"),
    Option("header_timeout", float, 10.0, above=0, unit=" seconds",
           help="seconds for a request's head to arrive (slow clients: 408, closed)"),
    Option("body_timeout", float, 60.0, above=0, unit=" seconds",
           help="seconds for a request's body to arrive once its head is in"),
    Option("idle_timeout", float, 5.0, above=0, unit=" seconds",
           help="seconds a connection may stay idle between requests (keep-alive)"),
    Option("stream_idle_timeout", float, 60.0, above=0, unit=" seconds",
           help="seconds a live WebSocket may send nothing (no frame, no keep-alive) "
           "before it is closed with code 4408"),
    Option("max_connections", int, 500, minimum=1,
           help="open connections; one more is closed as soon as it is accepted"),
    Option("api_key", str, None, help="the key /v1/* asks for ('' or unset: none)"),
    Option("cors_origins", tuple, (), help="origins allowed by CORS (none: CORS off)"),
    Option("trust_proxy", bool, False,
           help="take the client IP from X-Forwarded-For (only behind a proxy you control)"),
    Option("preload", bool, False, env=False,
           help="create the models at startup rather than on the first request"),
]

#: Where the server's default differs from the Analyzer's.
SERVER_DEFAULTS: dict[str, Any] = {"max_pixels": 40_000_000, "gender_min_confidence": 0.5}

_S = TypeVar("_S", bound="_Settings")


def settings_options() -> dict[str, Option]:
    """Every server setting's option by name: the server's own, then the Analyzer's (read
    from :data:`agegender.options.ANALYZER_OPTIONS` now) with :data:`SERVER_DEFAULTS`."""
    from .. import options

    out = {o.name: o for o in SERVER_OPTIONS}
    for o in options.ANALYZER_OPTIONS:
        out.setdefault(o.name, replace(o, default=SERVER_DEFAULTS.get(o.name, o.default)))
    return out


class _Settings:
    """The methods of :class:`ServerSettings`; its fields come from :func:`settings_options`."""

    _options: ClassVar[dict[str, Option]]

    @classmethod
    def from_env(cls: type[_S], env: dict[str, str] | None = None, **overrides: Any) -> _S:
        """Settings from ``AGEGENDER_*`` variables, then ``overrides`` (field names).

        An override of ``None`` is ignored; ``api_key=""`` turns off a key set in the
        environment.

        Raises:
            InputError: an unknown setting name, or a value that cannot be parsed.
        """
        env = dict(os.environ) if env is None else env
        known = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise InputError(
                f"unknown server setting(s) {', '.join(unknown)}; known: {', '.join(known)}"
            )
        values: dict[str, Any] = {}
        for name, o in cls._options.items():
            raw = env.get(o.env_var) if o.env_var else None
            if raw is not None and raw.strip() != "":
                try:
                    values[name] = o.convert(raw.strip())
                except ValueError as e:
                    raise InputError(f"{o.env_var}={raw.strip()!r}: {e}") from None
        # None means "not given" (e.g. an unset CLI option): the environment's value stays
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls().with_(**values)

    def with_(self: _S, **changes: Any) -> _S:
        """A copy with some fields changed (values converted and checked as each option
        says; ``None`` for a setting with a default takes the default)."""
        s = replace(self, **changes)  # type: ignore[type-var]
        for name, o in type(self)._options.items():
            value = getattr(s, name)
            if value is None and o.default is not None and not o.none_word:
                value = o.default
            object.__setattr__(s, name, o.check(value, "server setting "))
        object.__setattr__(s, "allowed_types", tuple(t.lower() for t in s.allowed_types))
        if s.api_key == "":
            object.__setattr__(s, "api_key", None)
        return s

    def analyzer_options(self) -> dict[str, Any]:
        """Keyword arguments for :class:`agegender.Analyzer`."""
        from ..options import analyzer_options

        return analyzer_options(self)

    def __getattr__(self, name: str) -> Any:  # for type checkers: fields are built
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def build_settings_class(name: str = "ServerSettings") -> type[_Settings]:
    """A frozen dataclass with one field per :func:`settings_options` entry (its type and
    default) and :class:`_Settings`' methods: built once below as :class:`ServerSettings`,
    and again by tests that add an option."""
    opts = settings_options()
    spec = [(o.name, o.annotation, field(default=o.default)) for o in opts.values()]
    cls = make_dataclass(name, spec, bases=(_Settings,), frozen=True,
                         namespace={"_options": opts})
    cls.__module__ = __name__
    return cls


_Fields = build_settings_class("_Fields")


class ServerSettings(_Fields):  # type: ignore[valid-type,misc]
    """What the web app and REST API accept and how they protect themselves: one field per
    option of :func:`settings_options` (the server's own and the Analyzer's).

    Build one with :meth:`from_env` (environment, then keyword overrides) or directly
    (defaults only, the environment is not read).
    """
