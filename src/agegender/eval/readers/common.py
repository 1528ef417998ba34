"""What every reader shares: the sample and data set types, value parsing, bad-row reporting.

:class:`Sample` is one labeled image, :class:`LabelProblem` one rejected row and
:class:`Dataset` what a reader returns (the samples and the problems). A value a row cannot use
raises :class:`_RowError` inside a reader, which turns it into a
:class:`LabelProblem`; :func:`_warn` logs the problems of one file once reading
is done. :func:`_table` reads a delimited file with a header, column names
matched case-insensitively.
"""

from __future__ import annotations

import csv
import logging
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ...errors import InputError, SourceNotFoundError

log = logging.getLogger(__name__)

__all__ = ["Dataset", "Gender", "LabelProblem", "Sample", "parse_age_range"]

Gender = Literal["male", "female"]

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
_MAX_AGE = 130.0
_UNKNOWN = {"", "u", "unknown", "none", "nan", "na", "n/a", "null"}


@dataclass(frozen=True)
class Sample:
    """One labeled face image.

    Attributes:
        path: where the image is (readers do not check that it exists).
        age: exact age in years, or None.
        age_range: inclusive ``(lo, hi)`` years for range labels (Adience,
            FairFace), or None. ``(70, 100)`` stands for "70 and over".
        gender: ``"male"``, ``"female"`` or None (unknown).
        group: ethnic group label, used only to break results down, or None.
        subject: id of the person (Adience ``user_id``), for subject-exclusive splits.
        fold: cross-validation fold index (Adience folds 0..4), or None.
        line: line of the label file the sample came from (0 for file-name labels).
    """

    path: Path
    age: float | None = None
    age_range: tuple[int, int] | None = None
    gender: Gender | None = None
    group: str | None = None
    subject: str | None = None
    fold: int | None = None
    line: int = 0


@dataclass(frozen=True)
class LabelProblem:
    """A rejected row: which file, which line (0 when labels come from a file name), why."""

    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else (
            f"{self.file}: {self.message}"
        )


@dataclass
class Dataset:
    """Samples read from a data set, and the rows that were rejected."""

    samples: list[Sample] = field(default_factory=list)
    problems: list[LabelProblem] = field(default_factory=list)
    source: Path | None = None
    format: str = ""

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)


# --------------------------------------------------------------------- parsing
class _RowError(ValueError):
    """A malformed value in one row (becomes a LabelProblem)."""


_RANGE = re.compile(r"^[\(\[]?\s*(\d+)\s*(?:,|-|–|to)\s*(\d+)\s*[\)\]]?$")
_OPEN_RANGE = re.compile(r"^(?:(\d+)\s*\+|(?:more than|over|>=?)\s*(\d+))$")


def parse_age_range(text: str) -> tuple[int, int]:
    """Parse an age range label into inclusive ``(lo, hi)`` years.

    Accepts ``"25-32"``, ``"(25, 32)"`` (Adience), ``"70+"`` and ``"more than
    70"`` (FairFace; open ranges end at 100). Raises ``ValueError`` otherwise.
    """
    s = text.strip().lower()
    m = _RANGE.match(s)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi:
            raise ValueError(f"age range {text!r} has its bounds reversed")
        return lo, hi
    m = _OPEN_RANGE.match(s)
    if m:
        lo = int(m.group(1) or m.group(2))
        return lo, max(lo, 100)
    raise ValueError(f"age range {text!r} is not like '25-32', '(25, 32)' or '70+'")


def _age(text: str | None) -> float | None:
    s = (text or "").strip()
    if s.lower() in _UNKNOWN:
        return None
    try:
        age = float(s)
    except ValueError:
        raise _RowError(f"age {s!r} is not a number of years") from None
    if not math.isfinite(age) or not 0 <= age <= _MAX_AGE:
        raise _RowError(f"age {s!r} is outside 0..{_MAX_AGE:g} years")
    return age


def _range(text: str | None) -> tuple[int, int] | None:
    s = (text or "").strip()
    if s.lower() in _UNKNOWN:
        return None
    try:
        return parse_age_range(s)
    except ValueError as exc:
        raise _RowError(str(exc)) from None


_GENDERS: dict[str, Gender] = {
    "male": "male", "m": "male", "man": "male",
    "female": "female", "f": "female", "woman": "female",
}


def _gender(text: str | None, codes: dict[str, Gender] | None = None) -> Gender | None:
    s = (text or "").strip().lower()
    if s in _UNKNOWN:
        return None
    if codes and s in codes:
        return codes[s]
    if s in _GENDERS:
        return _GENDERS[s]
    raise _RowError(f"gender {text!r} is not male/female (m/f) or empty for unknown")


def _text(text: str | None) -> str | None:
    s = (text or "").strip()
    return None if s.lower() in _UNKNOWN else s


def _warn(source: Path, problems: Sequence[LabelProblem], shown: int = 5) -> None:
    if not problems:
        return
    for p in problems[:shown]:
        log.warning("rejected label row: %s", p)
    log.warning(
        "%s: %d label row(s) rejected%s; the other rows were read (see Dataset.problems)",
        source, len(problems), f" ({len(problems) - shown} more not shown)"
        if len(problems) > shown else "",
    )


def _need_dir(root: str | Path, what: str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise SourceNotFoundError(
            f"{what} folder {root} does not exist or is not a folder; "
            f"pass the folder that holds the data set"
        )
    return root


def _need_file(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise SourceNotFoundError(f"{what} file {path} does not exist; check the path")
    return path


def _table(
    path: Path,
    problems: list[LabelProblem],
    *,
    required: Sequence[str],
    aliases: dict[str, str] | None = None,
    delimiter: str = ",",
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, {column: value})`` for each data row of a delimited text file.

    Column names are matched case-insensitively; ``aliases`` maps other names to
    ours. Rows with the wrong number of fields become problems.
    """
    aliases = aliases or {}
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header: list[str] | None = None
        for fields in reader:
            if not any(f.strip() for f in fields):
                continue  # blank line
            if header is None:
                header = [aliases.get(h.strip().lower(), h.strip().lower()) for h in fields]
                missing = [c for c in required if c not in header]
                if missing:
                    raise InputError(
                        f"{path}: missing column(s) {', '.join(missing)}; the header has "
                        f"{', '.join(header) or 'nothing'}. Add them, or pick another format"
                    )
                continue
            line = reader.line_num
            if len(fields) != len(header):
                problems.append(
                    LabelProblem(path, line, f"expected {len(header)} fields "
                                 f"({', '.join(header)}), found {len(fields)}")
                )
                continue
            yield line, dict(zip(header, fields))
        if header is None:
            raise InputError(f"{path} is empty; expected a header line with column names")


def _splits(split: str | Sequence[str] | None) -> set[str] | None:
    if split is None:
        return None
    return {split} if isinstance(split, str) else {str(s) for s in split}
