"""``agegender.batch(...)``: analyze many inputs into a data set folder; returns a summary."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import InputError
from .inputs import Item, list_inputs
from .resume import prepare_out
from .rows import file_metadata
from .sinks import Format, RollingWriter, part_files, write_manifest, write_part
from .work import Rows, WorkerSpec, build_analyzer

log = logging.getLogger(__name__)

Engine = Literal["local", "ray"]


class BatchTerminated(KeyboardInterrupt):
    """SIGTERM stopped a batch run; raised like Ctrl-C's KeyboardInterrupt, after the rows of
    the inputs already finished were written."""


@contextlib.contextmanager
def _sigterm_stops_like_sigint() -> Iterator[None]:
    """While the run lasts, SIGTERM raises :class:`BatchTerminated` in the main thread (so
    the finished rows are flushed and temporary folders removed, as on Ctrl-C); further
    SIGTERMs during that clean-up are ignored. Only where SIGTERM has its default action
    (an application's own handler is left alone) and in the main thread."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def on_term(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise BatchTerminated("SIGTERM")

    signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@dataclass
class BatchSummary:
    """What a batch run did. ``errors`` counts inputs that failed (one error row each)."""

    out: str
    engine: str
    workers: int
    total: int = 0  # inputs listed
    skipped: int = 0  # already in ``out`` (--resume)
    done: int = 0  # analyzed in this run, errors included
    errors: int = 0
    faces: int = 0
    rows: int = 0
    seconds: float = 0.0
    #: CPU seconds of the workers (local: whole processes, model loading included;
    #: ray: the actors' blocks); the main process not included
    worker_cpu_seconds: float = 0.0
    paths: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic, repr=False)

    @property
    def images_per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def faces_per_second(self) -> float:
        return self.faces / self.seconds if self.seconds > 0 else 0.0

    def count(self, rows: int, faces: int, error: str | None) -> None:
        """Count one input: its number of rows and faces, and its error message if it failed."""
        self.done += 1
        self.rows += rows
        self.faces += faces
        if error:
            self.errors += 1
            log.warning("%s", error)
        self.seconds = time.monotonic() - self.started

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("started")
        d.update(images_per_second=self.images_per_second, faces_per_second=self.faces_per_second)
        return d


def _local_out(out: str | os.PathLike[str]) -> Path:
    """``--out`` as a local path (``file://`` accepted); buckets are refused with what to do."""
    s = str(out)
    if s.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(s).path))
    if "://" in s:
        raise InputError(
            f"--out {s}: the data set is written to a folder (on a cluster, shared storage that "
            "every node mounts); copy it to a bucket afterwards"
        )
    return Path(s)


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def batch(
    inputs: Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    engine: Engine = "local",
    workers: int | None = None,
    *,
    list_file: str | None = None,
    format: Format = "parquet",  # noqa: A002 - the CLI's --format
    resume: bool = False,
    address: str | None = None,
    gpus_per_worker: float = 0.0,
    batch_size: int | None = None,
    part_rows: int = 10_000,
    part_seconds: float = 60.0,
    progress: Callable[[BatchSummary], None] | None = None,
    factory: Callable[[dict[str, Any]], Any] = build_analyzer,
    **model_kwargs: Any,
) -> BatchSummary:
    """Analyze files, folders, globs or URIs (and the paths in ``list_file``) into ``out``.

    Writes part files (Parquet by default, one row per face; see ``docs/batch.md``) and
    returns a :class:`BatchSummary`. ``model_kwargs`` are :class:`~agegender.Analyzer`
    options (``detector``, ``age_model``, ``gender_model``, ``device``, ``tta``, ...).
    ``resume=True`` skips inputs already in ``out`` (same source, size and mtime).
    Scripts that call this with the local engine need ``if __name__ == "__main__":``
    (worker processes are spawned, not forked). Ctrl-C (KeyboardInterrupt) and, in the
    main thread, SIGTERM (:class:`BatchTerminated`) stop the run after writing the rows of
    the inputs already finished.

    Raises:
        InputError: a bad option, or an ``out`` that holds another run's parts.
        BatchWriteError: ``out`` cannot be written (full disk, read-only): one line that
            names the file; what was written before stays complete.
    """
    import inspect

    from ..analyzer import Analyzer

    unknown = set(model_kwargs) - set(inspect.signature(Analyzer.__init__).parameters)
    if unknown:
        raise InputError(f"batch: unknown option(s) {', '.join(sorted(unknown))}")
    if engine not in ("local", "ray"):
        raise InputError(f"batch: engine must be 'local' or 'ray', got {engine!r}")
    if format not in ("parquet", "jsonl", "csv"):
        raise InputError(f"batch: format must be parquet, jsonl or csv, got {format!r}")
    if workers is not None and workers < 1:
        raise InputError(f"batch: workers must be 1 or more, got {workers}")
    for name, v in (("batch_size", batch_size), ("part_rows", part_rows)):
        if v is not None and v < 1:
            raise InputError(f"batch: {name.replace('_', '-')} must be 1 or more, got {v}")
    out = _local_out(out)
    if gpus_per_worker and "device" not in model_kwargs:
        model_kwargs["device"] = "cuda"
    if engine == "ray":
        from .engine_ray import require_ray

        require_ray()
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    items = list_inputs([str(i) for i in inputs], list_file)
    outp = Path(out)
    done_keys = prepare_out(outp, format, resume)
    todo = [it for it in items if it.key not in done_keys]
    n_workers = workers or default_workers()
    cores = default_workers()
    summary = BatchSummary(str(outp), engine, n_workers, total=len(items), skipped=len(items) - len(todo))
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    run = {"run_id": run_id, "engine": engine, "workers": n_workers, "format": format,
           "model_options": {k: v for k, v in model_kwargs.items() if v is not None}}
    before = set(part_files(outp))

    def on_models(models: list[dict[str, Any]]) -> None:
        meta = file_metadata(models, run)
        writer.metadata = meta
        write_manifest(outp, run_id, {"version": meta["agegender.version"], "models": models, **run})

    def count(rows: int, faces: int, error: str | None) -> None:
        summary.count(rows, faces, error)
        if progress is not None:
            progress(summary)

    def on_rows(item: Item, rows: Rows) -> None:
        writer.add(rows)
        count(len(rows), sum(r["face"] is not None for r in rows), rows[0]["error_message"])

    writer = RollingWriter(outp, format, run_id, part_rows=part_rows, part_seconds=part_seconds)
    with _sigterm_stops_like_sigint():
        try:
            if not todo:
                log.info("batch: nothing to do; all %d inputs are already in %s", len(items), outp)
            elif engine == "local":
                from .engine_local import run_local

                threads = max(1, cores // n_workers)
                spec = WorkerSpec(model_kwargs, threads, factory, batch_size or 16)
                summary.worker_cpu_seconds = run_local(
                    todo, spec, workers=n_workers, on_rows=on_rows, on_models=on_models)
            else:
                from .engine_ray import run_ray

                spec = WorkerSpec(model_kwargs, 1, factory, 16)
                summary.worker_cpu_seconds = run_ray(
                    todo, spec, out=outp, fmt=format, run=run, workers=n_workers, address=address,
                    gpus_per_worker=gpus_per_worker, batch_size=batch_size or 64, on_count=count,
                    on_models=on_models,
                    write_rows=lambda name, rows: write_part(outp / name, format, rows, writer.metadata),
                )
        except KeyboardInterrupt as e:
            why = "SIGTERM" if isinstance(e, BatchTerminated) else "an interrupt (Ctrl-C)"
            _flush(writer, summary, outp, before)
            log.warning(
                "batch: stopped by %s after %d inputs; their rows are in %d part files under %s "
                "(rerun with --resume to continue)", why, summary.done, len(summary.paths), outp)
            raise
        finally:
            _flush(writer, summary, outp, before)
        return summary


def _flush(writer: RollingWriter, summary: BatchSummary, outp: Path, before: set[Path]) -> None:
    writer.flush()
    summary.seconds = time.monotonic() - summary.started
    summary.paths = [str(p) for p in part_files(outp) if p not in before]
