"""What a batch run reads: files, folders, globs, URIs (fsspec), or a list file.

Each input becomes an :class:`Item`: its ``source`` (the path or URI as rows will show it),
its size in bytes and its modification time in nanoseconds, which ``--resume`` uses to
recognise inputs already done. Missing inputs become items with an ``error``, so that they
get an error row like any other failed input.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, SourceNotFoundError
from ..io.images import IMAGE_EXTENSIONS

log = logging.getLogger(__name__)

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Item:
    """One input of a batch run (picklable: it travels to worker processes)."""

    source: str
    size: int | None = None
    mtime_ns: int | None = None
    error: str | None = None  # the message of a SourceNotFoundError found while listing

    @property
    def key(self) -> tuple[str, int | None, int | None]:
        """What ``--resume`` compares: source, size and mtime."""
        return (self.source, self.size, self.mtime_ns)


def is_uri(s: str) -> bool:
    return "://" in s and not s.startswith("<")


def _filesystem(uri: str) -> tuple[Any, str]:
    """(fsspec filesystem, path in it) for a URI; says which package is missing."""
    try:
        import fsspec
    except ImportError:
        raise InputError(f'{uri}: reading URIs needs fsspec: pip install "agegender[batch]"') from None
    try:
        return fsspec.core.url_to_fs(uri)
    except ImportError as e:
        raise InputError(f"{uri}: {e}".rstrip(".") + " (pip install the filesystem package)") from None
    except ValueError as e:
        raise InputError(f"{uri}: unknown protocol ({e}); use file://, s3://, gs://, ...") from None


def _mtime_ns(info: dict[str, Any]) -> int | None:
    """Modification time in ns from an fsspec info dict (local: float s; S3/GCS: datetime)."""
    for k in ("mtime", "LastModified", "updated", "last_modified", "modified"):
        v = info.get(k)
        if v is None:
            continue
        if isinstance(v, (int, float)):
            return int(round(float(v) * 1e9))
        if hasattr(v, "timestamp"):
            return int(round(v.timestamp() * 1e9))
        try:
            from datetime import datetime

            return int(round(datetime.fromisoformat(str(v).replace("Z", "+00:00")).timestamp() * 1e9))
        except ValueError:
            return None
    return None


def _uri_items(uri: str) -> Iterator[Item]:
    fs, path = _filesystem(uri)
    protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
    prefix = f"{'file' if protocol == 'local' else protocol}://"

    def name(p: str) -> str:
        return p if "://" in p else f"{prefix}{p}"

    if any(c in path for c in _GLOB_CHARS):
        infos = fs.glob(path, detail=True)
        found = [(p, i) for p, i in sorted(infos.items()) if i.get("type") != "directory"]
    elif fs.isdir(path):
        from ..io.scan import image_extensions  # what a local folder scan takes

        exts = image_extensions()
        infos = fs.find(path, detail=True)
        found = [(p, i) for p, i in sorted(infos.items()) if Path(p).suffix.lower() in exts]
        if not found:
            yield Item(uri, error=f"{uri}: folder holds no images (looked for {_exts()}, recursively)")
            return
    elif fs.exists(path):
        found = [(path, fs.info(path))]
    else:
        yield Item(uri, error=f"{uri}: no such file or folder")
        return
    for p, info in found:
        yield Item(name(p), info.get("size"), _mtime_ns(info))


def _exts() -> str:
    return ", ".join(sorted(IMAGE_EXTENSIONS))


def _stat_item(path: str) -> Item:
    try:
        st = os.stat(path)
    except OSError:
        return Item(path, error=f"{path}: no such file or folder")
    return Item(path, st.st_size, st.st_mtime_ns)


def _local_items(arg: str) -> Iterator[Item]:
    """Files and folders exactly as ``agegender analyze`` expands them (same folder scan);
    a pattern that names no existing path is expanded as a glob first."""
    from ..io.images import expand_inputs

    if not os.path.lexists(arg) and any(c in arg for c in _GLOB_CHARS):
        matches = sorted(glob.glob(arg, recursive=True))
        if not matches:
            yield Item(arg, error=f"{arg}: the pattern matches no file")
        for m in matches:
            yield from _local_items(m)
        return
    for src in expand_inputs([arg]):
        if src.error is not None:
            yield Item(src.name, error=str(src.error))
        else:
            yield _stat_item(src.name)


def list_inputs(inputs: Iterable[str], list_file: str | None = None) -> list[Item]:
    """Every input, in order, each once (the first occurrence wins)."""
    args = [str(a) for a in inputs]
    if list_file:
        args += read_list(list_file)
    if not args:
        raise InputError("nothing to analyze: give files, folders, globs or URIs, or --list FILE")
    if "-" in args:
        raise InputError("agegender batch reads no stdin ('-'); use agegender analyze for that")
    seen: set[str] = set()
    items: list[Item] = []
    for a in args:
        for it in (_uri_items(a) if is_uri(a) else _local_items(a)):
            if it.source not in seen:
                seen.add(it.source)
                items.append(it)
    return items


def read_list(list_file: str) -> list[str]:
    """Paths from a text file (one a line), a CSV (column ``path``/``source``, or the first)
    or a Parquet file (same columns); local or a URI."""
    suffix = Path(list_file.split("?")[0]).suffix.lower()
    try:
        if suffix == ".parquet":
            return _parquet_list(list_file)
        text = _read_bytes(list_file).decode("utf-8-sig")
    except FileNotFoundError:
        raise SourceNotFoundError(f"--list {list_file}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"--list {list_file}: not UTF-8 text; give a .txt, .csv or .parquet list") from None
    if suffix == ".csv":
        import csv
        import io

        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            return []
        header = [h.strip().lower() for h in rows[0]]
        col = next((header.index(c) for c in ("path", "source", "file") if c in header), None)
        body = rows[1:] if col is not None else rows
        return [r[col or 0].strip() for r in body if r and r[col or 0].strip()]
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def _read_bytes(path: str) -> bytes:
    if is_uri(path):
        fs, p = _filesystem(path)
        with fs.open(p, "rb") as f:
            return f.read()
    return Path(path).read_bytes()


def _parquet_list(list_file: str) -> list[str]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f'{list_file}: reading a Parquet list needs pyarrow: pip install "agegender[batch]"') from None

    if is_uri(list_file):
        fs, p = _filesystem(list_file)
        with fs.open(p, "rb") as f:
            table = pq.read_table(f)
    else:
        table = pq.read_table(list_file)
    names = [n.lower() for n in table.column_names]
    col = next((names.index(c) for c in ("path", "source", "file") if c in names), 0)
    return [str(v) for v in table.column(col).to_pylist() if v]


def read_source(source: str) -> bytes:
    """The bytes of a URI input (workers call this; local paths are decoded from the path)."""
    return _read_bytes(source)
