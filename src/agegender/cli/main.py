"""The ``agegender`` command: one parser, one module per command (``analyze``, ``models``,
``serve``, ``eval``, ``train``, ``batch``); each parses, calls the library, reports.

Exit codes: 0 every input processed; 1 some input failed (after all the others
were processed); 2 usage error (bad option, unknown model).
"""

from __future__ import annotations

import argparse
import logging
import sys

from ._common import Parser, add_global_options, spread_global_options
from .analyze import add_analyze_parser
from .batch import add_batch_parser
from .evaluate import add_eval_parser
from .models import add_models_parser
from .serve import add_serve_parser
from .train import add_train_parser

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    p = Parser(
        prog="agegender",
        description="Find faces; estimate apparent age and perceived gender, offline.",
    )
    p.add_argument("--version", action="version", version=f"agegender {__version__}")
    add_global_options(p)
    sub = p.add_subparsers(dest="command", required=True)

    add_analyze_parser(sub)
    add_models_parser(sub)
    add_serve_parser(sub)
    add_eval_parser(sub)
    add_train_parser(sub)  # imports no torch: the command checks when it runs
    add_batch_parser(sub)
    spread_global_options(sub.choices.values())  # -q, -v, --debug after the subcommand too
    return p


def main(argv: list[str] | None = None) -> int:
    from ..errors import AgeGenderError, InputError, UnknownModelError

    parser = build_parser()
    a = parser.parse_args(argv)
    a.argv = list(sys.argv[1:] if argv is None else argv)  # how it was called (train cards)
    level = logging.INFO if a.verbose else logging.WARNING
    logging.basicConfig(
        level=logging.DEBUG if a.debug else (logging.ERROR if a.quiet else level),
        format="agegender: %(message)s" if not a.debug else "%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(a.func(a))
    except (UnknownModelError, InputError) as e:
        if a.debug:
            raise
        print(f"agegender: error: {e}", file=sys.stderr)
        return 2
    except AgeGenderError as e:
        if a.debug:
            raise
        print(f"agegender: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
