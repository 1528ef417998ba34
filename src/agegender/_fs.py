"""File helpers shared by every layer: atomic writes and sha256 (one copy of each)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(dest: Path, *, suffix: str | None = None) -> Iterator[Path]:
    """A temporary file beside ``dest`` (its folder is created) that replaces ``dest`` in one
    ``os.replace`` when the block succeeds, and is removed when it raises: readers never see
    a half-written ``dest``. ``suffix`` defaults to ``dest``'s (some writers need it)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=".part-",
                                suffix=dest.suffix if suffix is None else suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(dest: Path, data: bytes) -> Path:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
    return dest


def copy_atomic(src: Path, dest: Path) -> Path:
    with atomic_path(dest) as tmp, open(src, "rb") as inp, open(tmp, "wb") as out:
        shutil.copyfileobj(inp, out)
    return dest


def sha256_file(path: Path) -> str:
    """The file's sha256, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fresh(out: Path, *sources: Path) -> bool:
    """True when ``out`` exists and is at least as new as every source."""
    if not out.is_file():
        return False
    t = out.stat().st_mtime_ns
    return all(t >= s.stat().st_mtime_ns for s in sources)
