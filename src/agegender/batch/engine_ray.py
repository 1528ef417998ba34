"""The Ray engine: Ray Data ``map_batches`` into a pool of actors that each hold an Analyzer.

The only module of agegender that imports ray. The list of inputs becomes a data set of
blocks of ``batch_size`` inputs; each actor analyzes a block and writes its rows as one part
file (named from the block's inputs, so a retried block rewrites the same file), and returns
one small summary row per input to the driver, which shows progress.

Faults: an actor that dies is restarted and its block retried once (Ray task retries).
The inputs of a block that failed twice are run again one per block, one block at a time per
actor (an actor that dies then takes no queued input with it); one that kills actors twice
on its own becomes an error row (``WorkerDiedError``), written by the driver.
"""

from __future__ import annotations

import hashlib
import logging
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from ..errors import AgeGenderError, InputError
from .inputs import Item
from .resume import prepare_out
from .rows import error_rows, file_metadata
from .sinks import EXTENSIONS, Format, write_part
from .work import WorkerSpec, analyze_items, worker_models

log = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "agegender[distributed]"  (or: pip install "ray[data]")'


def require_ray() -> None:
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        raise InputError(f"--engine ray needs Ray Data, which is not installed: {INSTALL_HINT}") from None


def part_name(run_id: str, sources: list[str], fmt: Format) -> str:
    digest = hashlib.sha1("\n".join(sources).encode("utf-8")).hexdigest()[:16]
    return f"part-{run_id}-{digest}{EXTENSIONS[fmt]}"


class AnalyzerActor:
    """A Ray Data actor: one Analyzer, loaded once; writes one part file per block."""

    def __init__(self, spec: WorkerSpec, out: str, fmt: Format, run: dict[str, Any]) -> None:
        logging.basicConfig(level=logging.WARNING, format="agegender (ray actor): %(message)s")
        self.spec, self.out, self.fmt, self.run = spec, Path(out), fmt, run
        self.analyzer = spec.build()
        self.models = worker_models(self.analyzer)
        self.metadata = file_metadata(self.models, run)

    def __call__(self, batch: Any) -> Any:
        import json
        import time

        import pyarrow as pa

        cpu0 = time.process_time()
        cols = batch.to_pydict()
        items = [Item(*t) for t in zip(cols["source"], cols["size"], cols["mtime_ns"], cols["error"])]
        rows: list[dict[str, Any]] = []
        summary: dict[str, list[Any]] = {
            "source": [], "rows": [], "faces": [], "error": [], "models": [], "cpu": []}
        for it, r in analyze_items(self.analyzer, items, self.spec.batch_size):
            rows.extend(r)
            summary["source"].append(it.source)
            summary["rows"].append(len(r))
            summary["faces"].append(sum(x["face"] is not None for x in r))
            summary["error"].append(r[0]["error_message"])
            summary["models"].append(None)
            summary["cpu"].append(0.0)
        if rows:
            name = part_name(self.run["run_id"], [it.source for it in items], self.fmt)
            write_part(self.out / name, self.fmt, rows, self.metadata)
        if summary["models"]:
            summary["models"][0] = json.dumps(self.models)
            summary["cpu"][0] = time.process_time() - cpu0  # this block's CPU seconds
        return pa.table(summary, schema=pa.schema([
            ("source", pa.string()), ("rows", pa.int64()), ("faces", pa.int64()),
            ("error", pa.string()), ("models", pa.string()), ("cpu", pa.float64())]))


def _connect(address: str | None) -> bool:
    """Connect to a cluster (``address``, or ``auto``), else start a local Ray; True if we
    started it (and must shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    level = logging.WARNING if log.isEnabledFor(logging.DEBUG) else logging.ERROR
    kw: dict[str, Any] = {"include_dashboard": False, "logging_level": level}
    if address:
        ray.init(address=address, **kw)
        return True
    try:
        ray.init(address="auto", **kw)
    except (ConnectionError, RuntimeError, ValueError):
        log.info("batch: no Ray cluster found; starting a local Ray instance")
        ray.init(**kw)
    return True


def _pass(items: list[Item], spec: WorkerSpec, out: Path, fmt: Format, run: dict[str, Any],
          workers: int, gpus: float, per_block: int,
          on_summary: Callable[[dict[str, Any]], None]) -> None:
    import ray.data

    ctx = ray.data.DataContext.get_current()
    old = (ctx.max_errored_blocks, ctx.enable_progress_bars)
    ctx.max_errored_blocks, ctx.enable_progress_bars = -1, False  # a dead block is retried below
    try:
        records = [{"source": it.source, "size": it.size, "mtime_ns": it.mtime_ns, "error": it.error}
                   for it in items]
        source = ray.data.from_items(records, override_num_blocks=math.ceil(len(items) / per_block))
        with warnings.catch_warnings():  # actor retries have no named parameter yet
            warnings.simplefilter("ignore", DeprecationWarning)
            ds = source.map_batches(
                AnalyzerActor,
                fn_constructor_kwargs={"spec": spec, "out": str(out), "fmt": fmt, "run": run},
                batch_size=None,  # one block = one batch = one part file
                batch_format="pyarrow",
                # one block at a time per actor when blocks are single inputs: an input that
                # kills its actor must not take the inputs queued behind it down too
                compute=ray.data.ActorPoolStrategy(
                    size=workers, max_tasks_in_flight_per_actor=1 if per_block == 1 else None),
                num_cpus=spec.threads or 1,
                max_restarts=-1,  # a dead actor is restarted ...
                max_task_retries=1,  # ... and its block retried once
                num_gpus=gpus or None,
            )
        for b in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            for row in cast(Any, b).to_pylist():
                on_summary(row)
    finally:
        ctx.max_errored_blocks, ctx.enable_progress_bars = old


def run_ray(
    items: list[Item],
    spec: WorkerSpec,
    *,
    out: Path,
    fmt: Format,
    run: dict[str, Any],
    workers: int,
    address: str | None,
    gpus_per_worker: float,
    batch_size: int,
    on_count: Callable[[int, int, str | None], None],
    on_models: Callable[[list[dict[str, Any]]], None],
    write_rows: Callable[[str, list[dict[str, Any]]], None],
) -> float:
    """Run the two passes; the actors' CPU seconds spent on blocks (not their start)."""
    import json

    import ray

    try:
        started = _connect(address)
    except Exception as e:  # noqa: BLE001 - Ray's own errors, said in one line
        where = f"connect to the Ray cluster at {address}" if address else "start or find Ray"
        raise AgeGenderError(
            f"batch --engine ray: could not {where}: {type(e).__name__}: {e}. On a busy "
            "machine rerun it (with --resume), or use --engine local"
        ) from e
    seen: set[str] = set()
    got_models = False
    cpu = 0.0

    def on_summary(row: dict[str, Any]) -> None:
        nonlocal got_models, cpu
        cpu += row["cpu"] or 0.0
        if row["models"] and not got_models:
            on_models(json.loads(row["models"]))
            got_models = True
        if row["source"] not in seen:
            seen.add(row["source"])
            on_count(row["rows"], row["faces"], row["error"])

    per_block = max(1, min(batch_size, math.ceil(len(items) / (2 * workers))))  # >= 2 per actor
    data_log = logging.getLogger("ray.data")
    quiet = not log.isEnabledFor(logging.DEBUG)
    old_level = data_log.level
    if quiet:
        data_log.setLevel(logging.ERROR)  # our own progress line replaces Ray Data's
    try:
        _pass(items, spec, out, fmt, run, workers, gpus_per_worker, per_block, on_summary)
        missing = _missing(items, seen, out, fmt)
        if missing:
            log.warning("batch: %d inputs were in blocks whose actors died twice; "
                        "running them again one by one", len(missing))
            _pass(missing, spec, out, fmt, run, workers, gpus_per_worker, 1, on_summary)
        for it in _missing(items, seen, out, fmt):
            rows = error_rows(it, "WorkerDiedError", (
                f"{it.source}: a Ray actor died while analyzing this input, twice on its own; "
                "it may crash the decoder or need more memory than an actor has"))
            write_rows(part_name(run["run_id"] + "-failed", [it.source], fmt), rows)
            seen.add(it.source)
            on_count(1, 0, rows[0]["error_message"])
    finally:
        data_log.setLevel(old_level)
        if started:
            ray.shutdown()
    return cpu


def _missing(items: list[Item], seen: set[str], out: Path, fmt: Format) -> list[Item]:
    """Inputs with no summary yet and no rows on disk (a part can outlive its actor)."""
    left = [it for it in items if it.source not in seen]
    if not left:
        return []
    on_disk = prepare_out(out, fmt, resume=True)
    for it in left:
        if it.key in on_disk:
            seen.add(it.source)
    return [it for it in left if it.key not in on_disk]
