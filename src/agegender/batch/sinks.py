"""Part files of a batch data set: Parquet (default), JSON Lines or CSV.

Every part file is written under a temporary name and renamed when complete, so a run
killed at any point leaves only whole part files (and ``.tmp`` leftovers, which
``--resume`` deletes). All rows of one input are always in the same part file.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from pathlib import Path
from typing import Any, Literal

from .._fs import atomic_path
from .rows import COLUMNS, arrow_schema

log = logging.getLogger(__name__)

Format = Literal["parquet", "jsonl", "csv"]
EXTENSIONS: dict[str, str] = {"parquet": ".parquet", "jsonl": ".jsonl", "csv": ".csv"}
CSV_COLUMNS = [
    *COLUMNS[: COLUMNS.index("box")],
    "x1", "y1", "x2", "y2",
    *COLUMNS[COLUMNS.index("box") + 1 :],
]


def part_files(out: Path) -> list[Path]:
    """The complete part files under ``out`` (any format), sorted."""
    if not out.is_dir():
        return []
    exts = tuple(EXTENSIONS.values())
    return sorted(p for p in out.glob("part-*") if p.suffix in exts and p.is_file())


def write_part(path: Path, fmt: Format, rows: list[dict[str, Any]], metadata: dict[str, str]) -> None:
    """Write ``rows`` to ``path`` atomically (temporary file, then rename)."""
    with atomic_path(path, suffix=".tmp") as tmp:  # a leftover is a .part-*.tmp (resume.py)
        _write_rows(tmp, fmt, rows, metadata)


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
    """``run-<id>.json`` beside the part files: version, models, settings (all formats)."""
    path = out / f"run-{run_id}.json"
    data = json.dumps(info, indent=2, sort_keys=True) + "\n"
    with atomic_path(path, suffix=".tmp") as tmp:
        tmp.write_text(data, encoding="utf-8")
    return path


class RollingWriter:
    """Collects rows and writes a part file every ``part_rows`` rows or ``part_seconds``.

    ``add`` takes all rows of one input at once, so an input never spans two parts.
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

    def add(self, rows: list[dict[str, Any]]) -> None:
        if not self._rows:
            self._since = time.monotonic()
        self._rows.extend(rows)
        if len(self._rows) >= self.part_rows or time.monotonic() - self._since >= self.part_seconds:
            self.flush()

    def flush(self) -> None:
        if not self._rows:
            return
        path = self.out / f"part-{self.run_id}-{len(self.paths):06d}{EXTENSIONS[self.fmt]}"
        write_part(path, self.fmt, self._rows, self.metadata)
        log.debug("wrote %s (%d rows)", path, len(self._rows))
        self.paths.append(path)
        self._rows = []
