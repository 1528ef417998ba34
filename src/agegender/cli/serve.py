"""``agegender serve``: the web app and REST API (``pip install 'agegender[server]'``)."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_model_options, model_kwargs


def add_serve_parser(sub: Any) -> None:
    sv = sub.add_parser("serve", help="the web app and REST API (pip install 'agegender[server]')")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--api-key", default=None, help="require this key on /v1/* (or AGEGENDER_API_KEY)")
    sv.add_argument("--certfile", default=None, help="serve HTTPS with this certificate")
    sv.add_argument("--keyfile", default=None, help="... and this private key")
    add_model_options(sv)
    sv.set_defaults(func=cmd_serve)


def cmd_serve(a: argparse.Namespace) -> int:
    from ..server import serve

    serve(
        a.host,
        a.port,
        ssl_certfile=a.certfile,
        ssl_keyfile=a.keyfile,
        api_key=a.api_key,
        **model_kwargs(a),
    )
    return 0
