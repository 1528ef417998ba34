"""``python -m agegender.server [--host H] [--port P]``: run the server (settings from env)."""

from __future__ import annotations

import argparse
import logging
import sys

from ..errors import AgeGenderError
from . import serve


def main(argv: list[str] | None = None) -> int:
    """Parse ``--host``, ``--port``, ``--log-level`` and serve until interrupted."""
    p = argparse.ArgumentParser(prog="python -m agegender.server", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="agegender: %(message)s")
    try:
        serve(a.host, a.port, log_level=a.log_level)
    except AgeGenderError as e:
        logging.getLogger("agegender").error("%s", e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
