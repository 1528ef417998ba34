"""``agegender batch``: analyze archives of images on all cores or a Ray cluster, into a
Parquet (or JSON Lines / CSV) data set, resumable. See ``docs/batch.md``.

>>> import agegender
>>> summary = agegender.batch(["photos/"], "out/", workers=4)   # doctest: +SKIP
>>> summary.done, summary.faces, summary.errors, summary.paths   # doctest: +SKIP

Modules: ``inputs`` (listing), ``rows`` (columns, metadata), ``sinks`` (part files),
``resume``, ``work`` (what a worker does), ``engine_local``, ``engine_ray`` (the only
module that imports ray), ``api``. Nothing heavy is imported until a run starts.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import BatchSummary, batch

__all__ = ["BatchSummary", "batch"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _CallableModule(types.ModuleType):
    """``agegender.batch`` is this package once it is imported; calling it runs a batch, so
    ``agegender.batch(inputs, out, ...)`` works whether or not the package was imported."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from .api import batch

        return batch(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
