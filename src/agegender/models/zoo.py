"""The model zoo: every registered record by name, with "did you mean" for unknown names.

The built-in records (:mod:`.builtin` and the family modules it calls) and the user's cards
(:mod:`.user`) are registered on first use, not at import time.
"""

from __future__ import annotations

import difflib
import fnmatch
import logging

from ..errors import UnknownModelError
from .record import ModelRecord, Task

log = logging.getLogger(__name__)

_REGISTRY: dict[str, ModelRecord] = {}
_ALIASES: dict[str, str] = {}
#: old name -> current name; resolved with a warning, once per name (kept one release)
_DEPRECATED: dict[str, str] = {}
#: a name that stands for one output of a multi-output record -> that output's task
#: (``faceres-age`` -> ``age`` of ``faceres``)
_OUTPUT_OF: dict[str, str] = {}
_warned: set[str] = set()
_loaded = False


def register(record: ModelRecord, *, aliases: tuple[str, ...] = (), replace: bool = False,
             deprecated: tuple[str, ...] = (), outputs: dict[str, str] | None = None) -> None:
    """Add ``record`` under its name and ``aliases``; ``deprecated`` names still resolve,
    with a warning that names the new one. ``outputs`` maps names that stand for one output
    of a multi-output record to that output's task (``{"faceres-age": "age"}``): they
    resolve to the record, as a model of that task only."""
    if record.name in _REGISTRY and not replace:
        raise ValueError(f"a model named {record.name!r} is already registered")
    for a, task in (outputs or {}).items():
        if task not in record.tasks:
            raise ValueError(f"model {record.name!r} has no {task!r} output for the name {a!r}")
    _REGISTRY[record.name] = record
    for a in aliases:
        _ALIASES[a] = record.name
    for a, task in (outputs or {}).items():
        _ALIASES[a] = record.name
        _OUTPUT_OF[a] = task
    for a in deprecated:
        _ALIASES[a] = record.name
        _DEPRECATED[a] = record.name


def canonical_name(name: str) -> str:
    """The registered name that ``name`` (a name, an alias or a deprecated name) stands
    for; a deprecated name logs a warning once."""
    _ensure_loaded()
    if name in _DEPRECATED and name not in _warned:
        _warned.add(name)
        log.warning("model name %r is deprecated and goes in the next release; use %r",
                    name, _DEPRECATED[name])
    return _ALIASES.get(name, name)


def _ensure_loaded() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from . import builtin, user

        builtin.register_all(register)
        user.load_user_cards(register)


def reload_user_cards() -> None:
    """Register the cards under AGEGENDER_HOME again (after ``models add``: usable at once)."""
    from . import user

    _ensure_loaded()
    user.load_user_cards(register)


def records(task: Task | None = None) -> list[ModelRecord]:
    _ensure_loaded()
    return [r for r in _REGISTRY.values() if task is None or r.task == task or task in r.tasks]


def names(task: Task | None = None) -> list[str]:
    return [r.name for r in records(task)]


def get(name: str, task: Task | None = None) -> ModelRecord:
    """The record called ``name``; the error lists the closest names when it is unknown."""
    rec = _REGISTRY.get(canonical_name(name))
    bound = _OUTPUT_OF.get(name)
    if rec is not None and task is not None and bound is not None and bound != task:
        raise UnknownModelError(
            f"{name!r} names the {bound} output of model {rec.name!r}, not a {task} model; "
            f"name {rec.name!r} (it gives {', '.join(rec.tasks)}) or a {task} model"
        )
    if rec is None or (task is not None and rec.task != task and task not in rec.tasks):
        pool = names(task)
        close = difflib.get_close_matches(name, pool, n=3, cutoff=0.4)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        kind = f"{task} " if task else ""
        raise UnknownModelError(
            f"no {kind}model named {name!r}.{hint} Known: {', '.join(pool)}. "
            "`agegender models list` shows them all."
        )
    return rec


def list_models(pattern: str = "*", *, task: Task | None = None,
                available: bool | None = None) -> list[str]:
    """Names of the registered models matching the shell-style ``pattern`` (``"cydral-*"``),
    optionally only one ``task`` and only those whose files are here (``available=True``:
    shipped, cached or in the mirror; nothing is downloaded to find out) or not here."""
    out = []
    for r in records(task):
        if not fnmatch.fnmatchcase(r.name, pattern):
            continue
        if available is not None and r.available() != available:
            continue
        out.append(r.name)
    return out


def output_task(name: str) -> str | None:
    """The task a name stands for when it names one output of a multi-output record
    (``faceres-age`` -> ``age``), else None."""
    _ensure_loaded()
    return _OUTPUT_OF.get(name)


def get_model(name: str, task: Task | None = None) -> ModelRecord:
    """The record called ``name`` (or one of its aliases); :class:`UnknownModelError`
    names the closest known names when there is none."""
    return get(name, task)
