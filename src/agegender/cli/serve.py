"""``agegender serve``: the web app and REST API (``pip install 'agegender[server]'``).

The server's settings come from ``AGEGENDER_*`` variables (see
:class:`agegender.server.settings.ServerSettings`); a flag given here overrides its
variable, and a flag not given leaves the variable (or the built-in default) in force.
Every setting has its flag: the Analyzer's options (``--detector``) and the server's own
limits (``--max-upload-bytes``, ``--request-timeout``, ``--stream-idle-timeout``, ...).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..options import option_names
from ._common import add_model_options, add_option_flags


def _server_flags() -> list[Any]:
    """The server's own settings that get a flag: all read from a variable but the key
    (``--api-key`` above) and the model options (already flags)."""
    from ..server.settings import SERVER_OPTIONS

    return [o for o in SERVER_OPTIONS if o.env and o.name != "api_key"]


def add_serve_parser(sub: Any) -> None:
    sv = sub.add_parser("serve", help="the web app and REST API (pip install 'agegender[server]')")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--api-key", default=None, help="require this key on /v1/* (or AGEGENDER_API_KEY)")
    sv.add_argument("--certfile", default=None, help="serve HTTPS with this certificate")
    sv.add_argument("--keyfile", default=None, help="... and this private key")
    sv.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                    help="uvicorn's log level")
    add_model_options(sv)
    limits = sv.add_argument_group("server limits and settings (each also an AGEGENDER_* variable)")
    add_option_flags(limits, _server_flags(), env_default=True)
    # not given: the AGEGENDER_* variable (or the server's default) stays in force
    sv.set_defaults(func=cmd_serve, **dict.fromkeys(option_names()))


def cmd_serve(a: argparse.Namespace) -> int:
    from ..server import serve

    serve(
        a.host,
        a.port,
        log_level=a.log_level,
        ssl_certfile=a.certfile,
        ssl_keyfile=a.keyfile,
        api_key=a.api_key,
        **{name: getattr(a, name) for name in option_names()},  # "none" stays: the settings skip it
        **{o.name: getattr(a, o.name) for o in _server_flags()},  # None: the variable's
    )
    return 0
