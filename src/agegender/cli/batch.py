"""``agegender batch``: the command line of :mod:`agegender.batch` (thin)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ._common import add_model_options, model_kwargs


class BatchProgress:
    """One line on stderr (terminals only): inputs done/total, images/s, faces/s, errors, ETA."""

    def __init__(self, enabled: bool, every: float = 0.5) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.every, self.last, self.shown = every, 0.0, False

    def __call__(self, s: Any) -> None:
        now = time.monotonic()
        todo = s.total - s.skipped
        if not self.enabled or (now - self.last < self.every and s.done < todo):
            return
        self.last = now
        rate = s.images_per_second
        eta = (todo - s.done) / rate if rate > 0 else 0.0
        sys.stderr.write(
            f"\rbatch {s.done}/{todo} inputs  {rate:6.1f} img/s  {s.faces_per_second:6.1f} faces/s"
            f"  {s.errors} errors  ETA {_hms(eta)} "
        )
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


def _hms(seconds: float) -> str:
    m, sec = divmod(int(seconds + 0.5), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def summary_line(s: Any) -> str:
    skipped = f", {s.skipped} already there (--resume)" if s.skipped else ""
    return (
        f"batch: {s.done} inputs analyzed ({s.errors} failed){skipped}, {s.faces} faces, "
        f"{s.rows} rows in {s.seconds:.1f} s ({s.images_per_second:.1f} img/s, "
        f"{s.faces_per_second:.1f} faces/s, {s.engine} engine, {s.workers} workers, "
        f"{s.worker_cpu_seconds:.1f} CPU s in workers); "
        f"{len(s.paths)} part files written under {s.out}"
    )


def cmd_batch(a: argparse.Namespace) -> int:
    """Exit codes: 0 all inputs analyzed, 1 some failed or the folder cannot be written
    (one line naming the file), 2 usage, 130 Ctrl-C, 143 SIGTERM (finished rows kept)."""
    from ..batch.api import BatchTerminated, batch

    progress = BatchProgress(enabled=not a.quiet)
    try:
        s = batch(
            a.inputs, a.out, a.engine, a.workers,
            list_file=a.list, format=a.format, resume=a.resume, address=a.address,
            gpus_per_worker=a.gpus_per_worker, batch_size=a.batch_size,
            part_rows=a.part_rows, progress=progress, **model_kwargs(a),
        )
    except BatchTerminated:
        return 143  # 128 + SIGTERM, as a shell reports a process it ended
    finally:
        progress.close()
    if not a.quiet:
        print(summary_line(s), file=sys.stderr)
    return 1 if s.errors else 0


def add_batch_parser(sub: Any) -> None:
    b = sub.add_parser(
        "batch",
        help="analyze many images on all cores or a Ray cluster into a Parquet data set (resumable)",
    )
    b.add_argument("inputs", nargs="*", help="files, folders (recursive), globs, or URIs (file://, s3://, gs://)")
    b.add_argument("--out", required=True, metavar="DIR", help="folder of the data set (part files)")
    b.add_argument("--list", metavar="FILE", help="also the paths listed in FILE (.txt, .csv or .parquet; local or a URI)")
    b.add_argument("--format", default="parquet", choices=["parquet", "jsonl", "csv"], help="part file format")
    b.add_argument("--engine", default="local", choices=["local", "ray"],
                   help="local: worker processes here (default); ray: Ray Data (pip install 'agegender[distributed]')")
    b.add_argument("--workers", type=int, default=None, help="worker processes or Ray actors (default: the number of cores)")
    b.add_argument("--resume", action="store_true", help="skip inputs already in DIR (same path, size and mtime)")
    b.add_argument("--address", default=None, help="ray: the cluster address (default: auto, else a local Ray)")
    b.add_argument("--gpus-per-worker", type=float, default=0.0, help="ray: GPUs per actor (onnxruntime CUDA)")
    b.add_argument("--batch-size", type=int, default=None,
                   help="inputs per chunk (local, default 16) or per Ray block and part file (ray, default 64)")
    b.add_argument("--part-rows", type=int, default=10_000, help="local: rows per part file (at most)")
    add_model_options(b)
    b.set_defaults(func=cmd_batch)
