"""Part files of a batch data set: Parquet (default), JSON Lines or CSV.

Every part file is written under a temporary name and renamed when complete, so a run
killed at any point leaves only whole part files (and ``.tmp`` leftovers, which
``--resume`` deletes). All rows of one input are always in the same part file. Part files
get the permissions of any new file (``0o666`` less the umask), not the temporary's 0600.

The folder holds nothing else that a Parquet reader would open: the run manifests are in
``_run/`` and leftovers start with ``.``, both of which Arrow (pandas, ``pyarrow.dataset``)
skips, and ``read_parquet('out/*.parquet')`` (DuckDB) does not match.

A write that fails (a full disk, a read-only folder) raises :class:`BatchWriteError`: one
line naming the file and what to do; the part files already written stay complete.
"""

from __future__ import annotations

import csv
import errno
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Literal

from .._fs import atomic_path
from ..errors import AgeGenderError
from .rows import COLUMNS, arrow_schema

log = logging.getLogger(__name__)

Format = Literal["parquet", "jsonl", "csv"]
EXTENSIONS: dict[str, str] = {"parquet": ".parquet", "jsonl": ".jsonl", "csv": ".csv"}
CSV_COLUMNS = [
    *COLUMNS[: COLUMNS.index("box")],
    "x1", "y1", "x2", "y2",
    *COLUMNS[COLUMNS.index("box") + 1 :],
]
#: the folder (under ``out``) of the run manifests, ``run-<run>.json``
MANIFEST_DIR = "_run"


class BatchWriteError(AgeGenderError):
    """The data set folder cannot be written (full disk, read-only, no permission)."""


def write_error(path: Path, e: OSError) -> BatchWriteError:
    """A one-line :class:`BatchWriteError` for ``e`` on ``path``: what happened, what to do."""
    name = errno.errorcode.get(e.errno or 0, "")
    why = e.strerror or str(e) or type(e).__name__
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        todo = "free some space there (or choose another --out)"
    elif e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        todo = "choose a writable --out (or make this folder writable)"
    else:
        todo = "check the folder (or choose another --out)"
    return BatchWriteError(
        f"cannot write {path}: {why}{f' ({name})' if name else ''}; {todo}, then rerun with "
        "--resume: the part files already written are complete and are kept"
    )


def _umask() -> int:
    """This process's umask (from /proc on Linux; elsewhere set and put back)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def part_files(out: Path) -> list[Path]:
    """The complete part files under ``out`` (any format), sorted."""
    if not out.is_dir():
        return []
    exts = tuple(EXTENSIONS.values())
    return sorted(p for p in out.glob("part-*") if p.suffix in exts and p.is_file())


def write_part(path: Path, fmt: Format, rows: list[dict[str, Any]], metadata: dict[str, str]) -> None:
    """Write ``rows`` to ``path`` atomically (temporary file, then rename).

    Raises:
        BatchWriteError: the file cannot be written (the temporary is removed).
    """
    try:
        with atomic_path(path, suffix=".tmp") as tmp:  # a leftover is a .part-*.tmp (resume.py)
            _write_rows(tmp, fmt, rows, metadata)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp made it 0600
    except OSError as e:  # pyarrow's I/O errors are OSErrors too
        raise write_error(path, e) from e


def _write_rows(tmp: Path, fmt: Format, rows: list[dict[str, Any]], metadata: dict[str, str]) -> None:
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = arrow_schema(metadata)
        table = pa.Table.from_pylist(rows, schema=schema)
        pq.write_table(table, tmp, compression="zstd")
    elif fmt == "jsonl":
        with open(tmp, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            w.writeheader()
            for r in rows:
                flat = {k: v for k, v in r.items() if k not in ("box", "landmarks")}
                if r.get("box"):
                    flat.update(zip(("x1", "y1", "x2", "y2"), r["box"]))
                if r.get("landmarks"):
                    flat["landmarks"] = " ".join(repr(v) for v in r["landmarks"])
                w.writerow(flat)
    else:  # pragma: no cover - the CLI restricts the choices
        raise ValueError(f"unknown format {fmt!r}")


def write_manifest(out: Path, run_id: str, info: dict[str, Any]) -> Path:
    """``_run/run-<id>.json`` under ``out``: version, models, settings (all formats).

    Raises:
        BatchWriteError: the file cannot be written.
    """
    path = out / MANIFEST_DIR / f"run-{run_id}.json"
    data = json.dumps(info, indent=2, sort_keys=True) + "\n"
    try:
        with atomic_path(path, suffix=".tmp") as tmp:
            tmp.write_text(data, encoding="utf-8")
            os.chmod(tmp, 0o666 & ~_umask())
    except OSError as e:
        raise write_error(path, e) from e
    return path


class RollingWriter:
    """Collects rows and writes a part file every ``part_rows`` rows or ``part_seconds``.

    ``add`` takes all rows of one input at once, so an input never spans two parts. After
    a failed write (:class:`BatchWriteError`) ``flush`` writes nothing more: the rows held
    are those of inputs that ``--resume`` will analyze again.
    """

    def __init__(
        self,
        out: Path,
        fmt: Format,
        run_id: str,
        *,
        part_rows: int = 10_000,
        part_seconds: float = 60.0,
    ) -> None:
        self.out, self.fmt, self.run_id = out, fmt, run_id
        self.part_rows, self.part_seconds = max(1, part_rows), part_seconds
        self.metadata: dict[str, str] = {}
        self.paths: list[Path] = []
        self._rows: list[dict[str, Any]] = []
        self._since = time.monotonic()
        self.failed = False

    def add(self, rows: list[dict[str, Any]]) -> None:
        if not self._rows:
            self._since = time.monotonic()
        self._rows.extend(rows)
        if len(self._rows) >= self.part_rows or time.monotonic() - self._since >= self.part_seconds:
            self.flush()

    def flush(self) -> None:
        if not self._rows or self.failed:
            return
        path = self.out / f"part-{self.run_id}-{len(self.paths):06d}{EXTENSIONS[self.fmt]}"
        try:
            write_part(path, self.fmt, self._rows, self.metadata)
        except BatchWriteError:
            self.failed = True
            raise
        log.debug("wrote %s (%d rows)", path, len(self._rows))
        self.paths.append(path)
        self._rows = []
