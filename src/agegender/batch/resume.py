"""``--resume``: which inputs a data set already holds, by source, size and mtime."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

from ..errors import InputError
from .sinks import EXTENSIONS, Format, part_files, write_error

log = logging.getLogger(__name__)

Key = tuple[str, "int | None", "int | None"]
_KEY_COLUMNS = ["source", "source_size", "source_mtime_ns"]


def _int(v: object) -> int | None:
    if v is None or v == "":
        return None
    return int(v)  # type: ignore[call-overload]


def _keys_of(path: Path) -> set[Key]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        t = pq.read_table(path, columns=_KEY_COLUMNS)
        cols = [t.column(c).to_pylist() for c in _KEY_COLUMNS]
        return set(zip(*cols))  # type: ignore[arg-type]
    keys: set[Key] = set()
    with open(path, encoding="utf-8", newline="") as f:
        if path.suffix == ".jsonl":
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    keys.add((r["source"], r.get("source_size"), r.get("source_mtime_ns")))
        else:
            for r in csv.DictReader(f):
                keys.add((r["source"], _int(r.get("source_size")), _int(r.get("source_mtime_ns"))))
    return keys


def prepare_out(out: Path, fmt: Format, resume: bool) -> set[Key]:
    """Make ``out`` ready; with ``resume``, the keys of the inputs it already holds.

    Without ``resume`` a folder that already holds part files is refused (rows would be
    mixed with another run's); with it, parts of another format are refused. A folder that
    cannot be written (read-only, full) is refused before any input is analyzed.

    Raises:
        InputError: ``out`` is a file, holds parts of an earlier run (without ``resume``)
            or of another format, or holds a part file that cannot be read.
        BatchWriteError: ``out`` cannot be created or written.
    """
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file; give a folder for the data set")
    try:
        out.mkdir(parents=True, exist_ok=True)
        _probe(out)
    except OSError as e:
        raise write_error(out, e) from e
    parts = part_files(out)
    if parts and not resume:
        raise InputError(
            f"--out {out}: already holds {len(parts)} part file(s) of an earlier run; "
            "add --resume to continue it, or choose an empty folder"
        )
    for tmp in out.glob(".part-*.tmp"):
        log.info("removing %s (an incomplete part file of a run that was stopped)", tmp)
        try:
            tmp.unlink(missing_ok=True)
        except OSError as e:
            raise write_error(tmp, e) from e
    other = [p for p in parts if p.suffix != EXTENSIONS[fmt]]
    if other:
        raise InputError(
            f"--out {out}: holds {other[0].suffix[1:]} part files, but --format is {fmt}; "
            "resume with the same --format"
        )
    done: set[Key] = set()
    for p in parts:
        try:
            done |= _keys_of(p)
        except Exception as e:  # noqa: BLE001 - say which file, what to do
            raise InputError(
                f"--out {out}: cannot read {p.name} ({e}); move it away and rerun with --resume "
                "(its inputs will be analyzed again)"
            ) from e
    if parts:
        log.info("resume: %d inputs already in %d part files under %s", len(done), len(parts), out)
    return done


def _probe(out: Path) -> None:
    """Create and remove one empty file in ``out`` (OSError when it cannot be written)."""
    import os
    import tempfile

    fd, name = tempfile.mkstemp(dir=out, prefix=".part-probe-", suffix=".tmp")
    os.close(fd)
    os.unlink(name)
