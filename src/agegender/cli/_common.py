"""What every ``agegender`` command shares: one-line usage errors, defaults in ``--help``,
global options accepted anywhere, checked option values, the model options (built from
the one schema, :mod:`agegender.options`) and the Analyzer they ask for.

Every bad option value is a usage error (one line on stderr, exit 2, no traceback),
found while parsing, before any model loads or any input is read.
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn

from ..options import Option

VIDEO_OUT_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to an option's help when it has a real default and the
    help does not state it already."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        d = action.default
        if (
            "default" in text
            or d is None
            or d is False
            or d is argparse.SUPPRESS
            or d == []
            or not action.option_strings
        ):
            return text
        return text + " (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``agegender analyze: error: ...``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


GLOBAL_OPTIONS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("--debug",), "show tracebacks and debug logs"),
    (("-q", "--quiet"), "only errors on stderr"),
    (("-v", "--verbose"), "more on stderr: e.g. each file a folder scan skipped, and why"),
)


def add_global_options(p: argparse.ArgumentParser, *, anywhere: bool = False) -> None:
    """``--debug``, ``-q``, ``-v`` on ``p``. With ``anywhere`` (subcommands) they default
    to ``SUPPRESS``, so giving them before or after the subcommand both work."""
    for flags, text in GLOBAL_OPTIONS:
        taken = [f for f in flags if f in p._option_string_actions]
        if taken:  # the subcommand has its own meaning for it
            continue
        kw: dict[str, Any] = {"default": argparse.SUPPRESS} if anywhere else {}
        p.add_argument(*flags, action="store_true", help=text, **kw)


def spread_global_options(subparsers: Iterable[argparse.ArgumentParser]) -> None:
    seen: set[int] = set()
    for sp in subparsers:
        if id(sp) not in seen:
            seen.add(id(sp))
            add_global_options(sp, anywhere=True)


# ------------------------------------------------------------------ value types
def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def nonnegative_int(text: str) -> int:
    v = _int(text, "a whole number >= 0")
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return v


def positive_int(text: str) -> int:
    v = _int(text, "a whole number > 0")
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return v


def _nearest_existing(p: Path) -> Path:
    p = p.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def writable_file(text: str) -> str:
    """A file to write: not a folder, in a folder that exists and can be written."""
    p = Path(text)
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(
            f"cannot write {text}: the folder {parent} does not exist; create it first"
        )
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise argparse.ArgumentTypeError(f"cannot write {text}: permission denied")
    return text


def output_folder(text: str) -> str:
    """``--out``: a folder (made if missing) or, for one video, a FILE.mp4."""
    p = Path(text)
    video = p.suffix.lower() in VIDEO_OUT_SUFFIXES
    if p.exists() and not p.is_dir() and not video:
        raise argparse.ArgumentTypeError(
            f"{text} is an existing file; give a folder for the annotated images "
            f"(or FILE.mp4 for one video)"
        )
    base = _nearest_existing(p.parent if video else p)
    if not base.is_dir():
        raise argparse.ArgumentTypeError(f"cannot make the folder {text}: {base} is a file")
    if not os.access(base, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {base}: permission denied")
    return text


def _argument_type(option: Option) -> Callable[[str], Any]:
    """The argparse ``type`` of ``option``: its parse, failures as one-line usage errors."""

    def parse(text: str) -> Any:
        try:
            return option.parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = option.name  # argparse names the type in some messages
    return parse


def _help(option: Option) -> str:
    """``option``'s help with its known names first (``names_from``) and its default in
    words when the default is None (a real default is added by :class:`HelpFormatter`)."""
    text = option.help
    if option.names_from:
        module, _, func = option.names_from.partition(":")
        names = getattr(importlib.import_module(module), func)()
        text = f"{', '.join(names)} {text}"
    if option.default is None and option.default_text:
        text += f" (default: {option.default_text})"
    return text.replace("%", "%%")


def add_model_options(p: argparse.ArgumentParser) -> None:
    """One command-line option per entry of :data:`agegender.options.ANALYZER_OPTIONS`:
    ``--detect-size`` for ``detect_size``, its type, range or choices, help and default."""
    from .. import options

    add_option_flags(p, options.ANALYZER_OPTIONS)


def add_option_flags(p: Any, opts: Any, *, env_default: bool = False) -> None:
    """One flag per option of ``opts`` (``--detect-size`` for ``detect_size``) with its
    type, range or choices and help. ``env_default``: the flag's default is None, so that
    a flag not given leaves the option's ``AGEGENDER_*`` variable (or default) in force; a
    tuple option takes comma-separated values."""
    for o in opts:
        text = _help(o)
        if env_default:
            shown = ",".join(o.default) if o.kind is tuple else o.default
            shown = "none" if shown in ("", None) else shown
            text += f" (default: {o.env_var} or {shown})".replace("%", "%%")
        kw: dict[str, Any] = {"default": None if env_default else o.default, "help": text}
        if o.kind is bool:
            kw["action"] = argparse.BooleanOptionalAction
        elif o.choices:
            kw["choices"] = list(o.choices)
        elif o.kind is not str:
            kw["type"] = _argument_type(o)
        if o.metavar and o.kind is not bool:
            kw["metavar"] = o.metavar
        p.add_argument(o.flag, **kw)


def model_kwargs(a: argparse.Namespace) -> dict[str, Any]:
    """The options of :func:`add_model_options`, as Analyzer keyword arguments."""
    from ..options import analyzer_options

    return analyzer_options(a)


def make_analyzer(a: argparse.Namespace) -> Any:
    """The Analyzer the command's model options ask for."""
    from ..analyzer import Analyzer

    inflight = getattr(a, "max_inflight_pixels", None)
    return Analyzer(**model_kwargs(a), **({"max_inflight_pixels": inflight} if inflight else {}))


def log_above(progress: Any, items: Any) -> Any:
    """``items``, with log lines printed above the progress line while they are consumed."""
    with progress.logging_above():
        yield from items
