"""What every batch worker does (a local worker process or a Ray actor): hold one Analyzer,
turn a list of :class:`Item` into rows."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .inputs import Item, is_uri, read_source
from .rows import error_rows, models_info, rows_from_result

log = logging.getLogger(__name__)

Rows = list[dict[str, Any]]


def build_analyzer(model_kwargs: dict[str, Any]) -> Any:
    """The default factory: ``Analyzer(**model_kwargs)``."""
    from ..analyzer import Analyzer

    return Analyzer(**model_kwargs)


@dataclass(frozen=True)
class WorkerSpec:
    """How to build a worker's Analyzer (picklable: it is sent to every worker)."""

    model_kwargs: dict[str, Any] = field(default_factory=dict)
    #: onnxruntime intra-op threads (and OpenCV threads) per worker; None: library defaults
    threads: int | None = None
    #: a module-level function model_kwargs -> Analyzer-like object (tests swap it)
    factory: Callable[[dict[str, Any]], Any] = build_analyzer
    batch_size: int = 16

    def build(self) -> Any:
        if self.threads is not None:
            from ..runtime import set_session_threads

            set_session_threads(self.threads)
            try:
                import cv2

                cv2.setNumThreads(self.threads)
            except ImportError:  # pragma: no cover - opencv is a dependency
                pass
        analyzer = self.factory(dict(self.model_kwargs))
        _warm_up(analyzer)
        return analyzer


def _warm_up(analyzer: Any) -> None:
    """Load every model now: a missing model fails the worker's start, not every input."""
    analyzer.load()


def _source(item: Item) -> Any:
    from ..errors import InputError, SourceNotFoundError
    from ..io.images import Source

    if item.error is not None:
        return Source(name=item.source, error=SourceNotFoundError(item.error))
    if is_uri(item.source):
        try:
            return Source(name=item.source, data=read_source(item.source))
        except Exception as e:  # noqa: BLE001 - any read failure is this input's error
            return Source(name=item.source, error=InputError(f"{item.source}: cannot be read ({e})"))
    return Source(name=item.source, path=Path(item.source))


def analyze_items(analyzer: Any, items: list[Item], batch_size: int = 16) -> Iterator[tuple[Item, Rows]]:
    """(item, rows) for each item, in order. An unexpected exception on an input becomes
    that input's error row; the others are still analyzed."""
    done = 0
    threshold = analyzer.gender_min_confidence
    try:
        results = analyzer.analyze_many([_source(it) for it in items], batch_size=batch_size)
        for it, r in zip(items, results):
            done += 1
            yield it, rows_from_result(it, r.to_dict(gender_min_confidence=threshold))
        return
    except Exception as e:  # noqa: BLE001 - isolate the input that raised
        log.debug("batch of %d raised %r; retrying its inputs one by one", len(items), e)
    for it in items[done:]:
        try:
            (r,) = list(analyzer.analyze_many([_source(it)], batch_size=1))
            yield it, rows_from_result(it, r.to_dict(gender_min_confidence=threshold))
        except Exception as e:  # noqa: BLE001
            yield it, error_rows(it, type(e).__name__, f"{it.source}: analysis failed ({e})")


def worker_models(analyzer: Any) -> list[dict[str, Any]]:
    return models_info(analyzer)
