"""Which inputs to analyze: files, folders (scanned recursively), and ``-`` (stdin).

A folder scan takes every file whose extension a decoder here accepts
(:func:`image_extensions`: what Pillow has registered, AVIF included when Pillow has it,
and HEIC/HEIF, which without the ``heic`` extra each get an error that names it),
follows symlinked folders once (a folder reached twice, e.g. through a symlink loop, is
scanned once), and records what it leaves out and why (:class:`Skipped`): other files,
videos, FIFOs and devices, unreadable folders, loops. Each skip is logged at INFO
(``agegender -v`` lists them); the CLI's summary counts them.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from ..errors import SourceNotFoundError

log = logging.getLogger(__name__)

#: The common image extensions (a fixed set, for callers that need one without Pillow);
#: folder scans use :func:`image_extensions`, which adds every format Pillow reads here.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".bmp", ".gif", ".tif", ".tiff",
     ".webp", ".avif", ".heic", ".heif", ".ppm", ".pgm", ".pbm", ".pnm"}
)
# Pillow formats that it registers for opening but cannot decode by itself (stubs that
# need an external handler, EPS needs Ghostscript, MPEG has no decoder and is a video).
_UNDECODABLE = frozenset({"BUFR", "GRIB", "HDF5", "WMF", "EPS", "MPEG"})


@lru_cache(maxsize=1)
def image_extensions() -> frozenset[str]:
    """Every file extension whose format Pillow can decode here (lower case, with the dot).

    Read from Pillow's registry once (so ``.avif`` is in when this Pillow has AVIF),
    minus stub formats and video extensions. HEIC/HEIF's are in whether or not pillow-heif
    is installed: without it, each such file is an error that says how to install it, not
    a photo left out in silence.
    """
    from PIL import Image

    from .heif import HEIF_EXTENSIONS
    from .video_inputs import VIDEO_EXTENSIONS

    Image.init()
    exts = {
        ext.lower()
        for ext, fmt in Image.registered_extensions().items()
        if (fmt in Image.OPEN or fmt == "MPO") and fmt not in _UNDECODABLE
    }
    exts |= IMAGE_EXTENSIONS | HEIF_EXTENSIONS
    return frozenset(exts - VIDEO_EXTENSIONS - _pillow_cannot_read())


def _pillow_cannot_read() -> set[str]:
    from PIL import features

    return set() if features.check("avif") else {".avif", ".avifs"}


@dataclass(frozen=True)
class Source:
    """One input to analyze: a file, stdin, or a problem found while listing inputs.

    ``stream`` is read only when the input is decoded (:meth:`read`), so a slow stdin
    never holds back the inputs named before it.
    """

    name: str
    path: Path | None = None
    data: bytes | None = None
    error: Exception | None = None
    stream: IO[bytes] | None = None

    def read(self) -> bytes | None:
        """The bytes of a stdin/bytes source (read now), or None for a file source."""
        if self.data is not None:
            return self.data
        return self.stream.read() if self.stream is not None else None


@dataclass(frozen=True)
class Skipped:
    """A path a folder scan left out, why (one line), and its kind for summaries:
    ``not an image``, ``video``, ``not a regular file``, ``unreadable`` or ``already scanned``."""

    path: str
    reason: str
    kind: str = "not an image"


def _kind(mode: int) -> str | None:
    """What a non-regular file is, for messages; None for a regular file or a folder."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return "not a regular file"


def scan_folder(root: Path) -> tuple[list[Path], list[Skipped]]:
    """Image files under ``root`` (recursively, sorted), and what was skipped and why.

    Symlinked folders are followed, each real folder once: a folder reached again
    (a symlink loop, or two links to one folder) is skipped with the path it was
    scanned under.
    """
    from .video_inputs import VIDEO_EXTENSIONS

    exts = image_extensions()
    found: list[Path] = []
    skipped: list[Skipped] = []
    seen: dict[tuple[int, int], Path] = {}
    stack = [root]  # real folders first, so a folder is named by its own path when it can be
    links: list[Path] = []  # symlinked folders, scanned after the real tree
    while stack or links:
        folder = stack.pop() if stack else links.pop()
        try:
            st = folder.stat()
        except OSError as e:
            skipped.append(Skipped(str(folder), f"cannot be read ({e.strerror or e})", "unreadable"))
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            why = "a symlink loop" if _is_inside(folder, seen[key]) else "the same folder"
            skipped.append(
                Skipped(str(folder), f"{why}: already scanned as {seen[key]}", "already scanned")
            )
            continue
        seen[key] = folder
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name, reverse=True)
        except OSError as e:
            skipped.append(
                Skipped(str(folder), f"folder cannot be read ({e.strerror or e})", "unreadable")
            )
            continue
        for entry in entries:
            p = Path(entry.path)
            try:
                mode = entry.stat(follow_symlinks=True).st_mode
            except OSError as e:  # e.g. a dangling symlink
                skipped.append(Skipped(str(p), f"cannot be read ({e.strerror or e})", "unreadable"))
                continue
            if stat.S_ISDIR(mode):
                (links if entry.is_symlink() else stack).append(p)
                continue
            ext = p.suffix.lower()
            kind = _kind(mode)
            if kind is not None:
                skipped.append(Skipped(str(p), f"{kind}, not a regular file", "not a regular file"))
            elif ext in exts:
                found.append(p)
            elif ext in VIDEO_EXTENSIONS:
                skipped.append(
                    Skipped(str(p), "a video: name it on the command line to analyze it", "video")
                )
            else:
                skipped.append(Skipped(str(p), f"not an image extension ({ext or 'none'})"))
    return sorted(found), sorted(skipped, key=lambda s: s.path)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _is_inside(path: Path, ancestor: Path) -> bool:
    return ancestor in path.parents


def expand_inputs(
    inputs: Iterable[str],
    *,
    stdin: Any = None,
    skipped: list[Skipped] | None = None,
) -> Iterator[Source]:
    """Expand CLI inputs: files, folders (see :func:`scan_folder`), ``-`` (stdin).

    Problems (a missing path, a folder with no images) are yielded as sources that
    carry their error, so the caller reports them and goes on with the rest. What
    folder scans leave out is appended to ``skipped`` (when given) and logged at INFO.
    """
    for item in inputs:
        if item == "-":
            stream = stdin if stdin is not None else sys.stdin.buffer
            yield Source(name="<stdin>", stream=stream)
            continue
        p = Path(item)
        if p.is_dir():
            found, left = scan_folder(p)
            for s in left:
                log.info("skipped %s: %s", s.path, s.reason)
            if skipped is not None:
                skipped.extend(left)
            if not found:
                yield Source(
                    name=item,
                    error=SourceNotFoundError(
                        f"{item}: folder holds no images (looked recursively for "
                        f"{', '.join(sorted(IMAGE_EXTENSIONS))} and the other formats "
                        f"Pillow reads; skipped {_count(len(left), 'other entry', 'other entries')}, "
                        "-v lists them)"
                    ),
                )
            for f in found:
                yield Source(name=str(f), path=f)
        elif p.exists() or p.is_symlink():
            yield Source(name=item, path=p)
        else:
            yield Source(name=item, error=SourceNotFoundError(f"{item}: no such file or folder"))
