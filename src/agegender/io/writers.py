"""Writers for results: JSON Lines, CSV (one row per face), annotated images; and the one
message for a write that fails because the disk is full or read-only (:func:`write_failed`)."""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import stat
import sys
from pathlib import Path
from typing import IO, Any

from ..errors import AgeGenderError

#: Write errors after which no further output can succeed: stop the run (disk full,
#: quota, file too large, read-only file system, I/O error, stdout closed).
STOPPING_ERRNOS = frozenset({
    errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EPIPE,
})

_ADVICE = {
    errno.ENOSPC: "the disk is full: free some space or write to another disk, then run again",
    errno.EDQUOT: "the disk quota is used up: free some space or write elsewhere, then run again",
    errno.EFBIG: "the file is larger than this file system allows: write to another disk",
    errno.EROFS: "the file system is read-only: write to a writable folder or disk",
    errno.EIO: "the device reported an I/O error: check the disk, or write elsewhere",
    errno.EPIPE: "the reader of the output went away (a closed pipe)",
}


class OutputFailed(AgeGenderError):
    """Output that cannot be written (disk full, read-only, ...): the run stops; what was
    written before is whole (no half line, row or image)."""


def write_failed(e: OSError, path: str | os.PathLike[str], what: str) -> OutputFailed:
    """One line naming ``what`` and ``path``, the reason, and what to do."""
    advice = _ADVICE.get(e.errno or 0, "check the path and the disk, or write elsewhere")
    reason = e.strerror or str(e)
    where = f" {os.fspath(path)}" if os.fspath(path) else ""
    return OutputFailed(f"cannot write {what}{where}: {reason}; {advice}")


def _stdout_target() -> str:
    """What stdout is connected to, for messages: a path (``/dev/full``), or ``stdout``."""
    with contextlib.suppress(OSError):
        target = os.readlink("/proc/self/fd/1")
        if target.startswith("/"):
            return f"(stdout: {target})"
    return "(stdout)"


class StdoutLines:
    """JSON lines to stdout, each whole: a failed write raises :class:`OutputFailed`; when
    stdout is a regular file it is first cut back to its last whole line, and stdout is
    then pointed at ``/dev/null`` so Python's exit does not fail on it a second time."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self._good: int | None = None
        with contextlib.suppress(OSError, ValueError, AttributeError):
            fd = self.stream.fileno()
            if stat.S_ISREG(os.fstat(fd).st_mode):
                self._fd = fd
                self._good = os.lseek(fd, 0, os.SEEK_CUR)

    def write(self, line: str, *, flush: bool = True) -> None:
        try:
            self.stream.write(line + "\n")
            if flush:
                self.flush()
        except OSError as e:
            raise self._failed(e) from e

    def flush(self) -> None:
        try:
            self.stream.flush()
            if self._good is not None:
                self._good = os.lseek(self._fd, 0, os.SEEK_CUR)
        except OSError as e:
            raise self._failed(e) from e

    def _failed(self, e: OSError) -> OutputFailed:
        failed = write_failed(e, "", f"the results {_stdout_target()}")
        with contextlib.suppress(OSError, ValueError):
            if self._good is not None:
                os.ftruncate(self._fd, self._good)
        with contextlib.suppress(OSError, ValueError, AttributeError):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self.stream.fileno())
            os.close(null)
        return failed

CSV_COLUMNS = [
    "source",
    "face",
    "x1",
    "y1",
    "x2",
    "y2",
    "score",
    "age_years",
    "age_low",
    "age_high",
    "age_group",
    "gender",
    "gender_probability",
    "error",
]


def json_line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


class CsvWriter:
    """One row per face; an input with no face or an error gets one row with empty face columns."""

    def __init__(self, stream: IO[str]) -> None:
        self._w = csv.DictWriter(stream, fieldnames=CSV_COLUMNS)
        self._w.writeheader()

    def write(self, result: dict[str, Any]) -> None:
        err = result.get("error")
        base = {"source": result["source"], "error": err["message"] if err else ""}
        if not result["faces"]:
            self._w.writerow(base)
        for i, f in enumerate(result["faces"]):
            row = dict(base, face=i, score=f["score"])
            row.update(zip(("x1", "y1", "x2", "y2"), f["box"]))
            if "age" in f:
                a = f["age"]
                row.update(age_years=a["years"], age_low=a["low"], age_high=a["high"], age_group=a["group"])
            if "gender" in f:
                row.update(gender=f["gender"]["label"], gender_probability=f["gender"]["probability"])
            self._w.writerow(row)


def annotated_path(out_dir: Path, source: str, index: int) -> Path:
    """A unique output name for an input: its stem, plus its index when it came from stdin."""
    stem = Path(source).stem if not source.startswith("<") else f"stdin-{index}"
    return out_dir / f"{stem}.annotated.jpg"
