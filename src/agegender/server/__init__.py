"""The web app and REST API: upload a photo, or go live with the webcam.

>>> from agegender.server import serve
>>> serve("127.0.0.1", 8000, api_key="secret", rate_limit=60)   # blocks; Ctrl-C stops it

Needs the ``server`` extra (FastAPI, uvicorn, websockets, python-multipart). Settings are
read from ``AGEGENDER_*`` variables, then from ``serve``'s keyword arguments (see
:mod:`agegender.server.settings`). Importing this package does not import FastAPI.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .errors import MissingDependencyError
from .settings import ServerSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["ServerSettings", "create_app", "serve"]

log = logging.getLogger(__name__)

_INSTALL_HINT = "the web server needs its extra: pip install 'agegender[server]'"


def create_app(settings: ServerSettings | None = None, analyzer: Any = None) -> FastAPI:
    """The FastAPI app (see :func:`agegender.server.app.create_app`).

    Raises:
        MissingDependencyError: FastAPI is not installed.
    """
    try:
        from .app import create_app as _create
    except ImportError as e:
        raise MissingDependencyError(f"{_INSTALL_HINT} ({e})") from None
    return _create(settings, analyzer)


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    log_level: str = "info",
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    **settings: Any,
) -> None:
    """Run the server until interrupted (blocks).

    Args:
        host, port: where to listen; the default only accepts this machine. Use
            ``0.0.0.0`` to accept others (set ``api_key`` then).
        log_level: uvicorn's and the access log's level.
        ssl_certfile, ssl_keyfile: serve HTTPS (browsers only allow the webcam on
            ``https://`` pages or on ``localhost``).
        **settings: :class:`ServerSettings` fields (``api_key``, ``rate_limit``,
            ``max_upload_bytes``, ``detector``, ...), over the environment's values.
            ``preload`` defaults to True here: models load at startup.

    No log line at any level holds a key: query-string keys, credential headers and the
    configured key are masked (:mod:`agegender.server.redact`) on uvicorn's, the WebSocket
    library's and our loggers and handlers.

    Raises:
        MissingDependencyError: FastAPI or uvicorn is not installed.
        InputError: an unknown or invalid setting.
        SystemExit: the server could not start (code 3, as ``uvicorn.run``).
    """
    try:
        import uvicorn
    except ImportError as e:
        raise MissingDependencyError(f"{_INSTALL_HINT} ({e})") from None
    settings.setdefault("preload", True)
    s = ServerSettings.from_env(**settings)
    app = create_app(s)
    server_log = logging.getLogger("agegender.server")
    server_log.setLevel(log_level.upper())
    if not server_log.hasHandlers():
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s agegender: %(message)s"))
        server_log.addHandler(handler)
    if host not in ("127.0.0.1", "localhost", "::1") and s.api_key is None:
        log.warning("listening on %s without an API key: anyone who can reach it may use it", host)
    from .protocol import guarded_protocol
    from .redact import all_handlers, install

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,  # ours logs sizes and status only, never query strings
        server_header=False,
        ws_max_size=s.max_upload_bytes + 1024,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        # slow and idle clients: header and body timeouts, the connection cap (protocol.py)
        http=guarded_protocol(s.header_timeout, s.body_timeout, s.max_connections),
        timeout_keep_alive=max(1, round(s.idle_timeout)),
    )
    # uvicorn has set up its loggers: mask keys in every record they and ours write
    install([s.api_key] if s.api_key else [], handlers=all_handlers())
    server = uvicorn.Server(config)
    server.run()
    if not server.started:  # as uvicorn.run: the port is taken, or startup failed (logged)
        raise SystemExit(3)
