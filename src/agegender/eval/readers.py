"""Readers for labeled face data sets: UTKFace, Adience, FairFace and a generic CSV.

Every reader returns a :class:`Dataset`: the :class:`Sample` rows it could read,
plus one :class:`LabelProblem` (file, line, message) for each row it rejected.
A malformed row never stops reading: it is reported, logged as a warning, and
the good rows still load. Problems that make a whole file unusable (it does not
exist, a required column is missing, an unknown format) raise our own
exceptions from :mod:`agegender.errors` instead.

Readers do not open images; ``Sample.path`` is where the image should be.
"""

from __future__ import annotations

import csv
import logging
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import InputError, SourceNotFoundError

log = logging.getLogger(__name__)

__all__ = [
    "FORMATS",
    "Dataset",
    "LabelProblem",
    "Sample",
    "parse_age_range",
    "read_adience",
    "read_csv",
    "read_dataset",
    "read_fairface",
    "read_utkface",
]

Gender = Literal["male", "female"]

#: Formats :func:`read_dataset` understands (plus ``"auto"``).
FORMATS: tuple[str, ...] = ("utkface", "adience", "fairface", "csv")

#: UTKFace's race codes in file names.
UTKFACE_RACES: tuple[str, ...] = ("white", "black", "asian", "indian", "other")

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
_MAX_AGE = 130.0
_FOLD_FILE = re.compile(r"^fold_(\d+)_data\.txt$")
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


# --------------------------------------------------------------------- UTKFace
def _utkface_from_name(path: Path) -> Sample:
    parts = path.name.split("_")
    if len(parts) < 4:
        raise _RowError("file name does not follow UTKFace's AGE_GENDER_RACE_DATE.jpg")
    age_s, gender_s, race_s = parts[:3]
    if not age_s.isdigit():
        raise _RowError(f"age {age_s!r} in the file name is not a whole number")
    if gender_s not in ("0", "1"):
        raise _RowError(f"gender code {gender_s!r} in the file name is not 0 (male) or 1 (female)")
    if not race_s.isdigit() or int(race_s) >= len(UTKFACE_RACES):
        raise _RowError(f"race code {race_s!r} in the file name is not 0..4")
    age = _age(age_s)
    return Sample(
        path=path,
        age=age,
        gender="male" if gender_s == "0" else "female",
        group=UTKFACE_RACES[int(race_s)],
    )


def _splits(split: str | Sequence[str] | None) -> set[str] | None:
    if split is None:
        return None
    return {split} if isinstance(split, str) else {str(s) for s in split}


def read_utkface(root: str | Path, split: str | Sequence[str] | None = None) -> Dataset:
    """Read UTKFace from ``root``.

    If ``root/labels.csv`` exists (columns ``path,age,gender,race,split``, paths
    relative to ``root``) it is used and rows are kept when their ``split`` is
    ``split`` (a name or several; None keeps all). Otherwise labels come from
    the image file names ``AGE_GENDER_RACE_DATE.jpg...`` found under ``root``
    (recursively): gender 0 = male, 1 = female; race 0..4 = white, black,
    asian, indian, other. File names carry no split, so ``split`` then raises.

    Raises:
        SourceNotFoundError: ``root`` is not a folder, or it holds no images.
        InputError: ``labels.csv`` lacks a column, or ``split`` names no split in it.
    """
    root = _need_dir(root, "UTKFace")
    wanted = _splits(split)
    labels = root / "labels.csv"
    problems: list[LabelProblem] = []
    samples: list[Sample] = []
    if labels.is_file():
        required = ["path", "age"] + (["split"] if wanted is not None else [])
        seen_splits: set[str] = set()
        codes: dict[str, Gender] = {"0": "male", "1": "female"}
        for line, row in _table(labels, problems, required=required):
            row_split = row.get("split", "").strip()
            seen_splits.add(row_split)
            if wanted is not None and row_split not in wanted:
                continue
            try:
                rel = row["path"].strip()
                if not rel:
                    raise _RowError("path is empty")
                race = _text(row.get("race"))
                if race is not None and race.isdigit():
                    if int(race) >= len(UTKFACE_RACES):
                        raise _RowError(f"race code {race!r} is not 0..4")
                    race = UTKFACE_RACES[int(race)]
                samples.append(Sample(
                    path=root / rel,
                    age=_age(row["age"]),
                    gender=_gender(row.get("gender"), codes),
                    group=race.lower() if race else None,
                    line=line,
                ))
            except _RowError as exc:
                problems.append(LabelProblem(labels, line, str(exc)))
        if wanted is not None and not (wanted & seen_splits):
            raise InputError(
                f"{labels}: no row has split {sorted(wanted)}; the splits there are "
                f"{sorted(s for s in seen_splits if s) or 'none'}"
            )
        source = labels
    else:
        if wanted is not None:
            raise InputError(
                f"{root} has no labels.csv, and UTKFace file names carry no split; "
                f"pass split=None or add a labels.csv with a split column"
            )
        images = sorted(
            p for p in root.rglob("*")
            if p.is_file() and p.name.lower().endswith(_IMAGE_SUFFIXES)
        )
        if not images:
            raise SourceNotFoundError(
                f"{root} holds no labels.csv and no images; pass the UTKFace folder"
            )
        for p in images:
            try:
                samples.append(_utkface_from_name(p))
            except _RowError as exc:
                problems.append(LabelProblem(p, 0, str(exc)))
        source = root
    _warn(source, problems)
    log.info("UTKFace %s: %d samples (split %s)", root, len(samples), split or "all")
    return Dataset(samples, problems, source=root, format="utkface")


# --------------------------------------------------------------------- Adience
_ADIENCE_COLUMNS = ("user_id", "original_image", "face_id", "age", "gender")


def _folds(folds: int | str | Iterable[int | str] | None) -> set[int] | None:
    """Fold indices from an int, ``"0"``, ``"0,1"``, ``"fold_2"`` or a list of those."""
    if folds is None:
        return None
    items: Iterable[int | str]
    items = [folds] if isinstance(folds, (int, str)) else folds
    out: set[int] = set()
    for item in items:
        for part in str(item).split(","):
            digits = re.sub(r"^(fold)?[_\s-]*", "", part.strip().lower())
            if not digits.isdigit():
                raise InputError(
                    f"fold {part.strip()!r} is not a fold number; use e.g. 0 or '0,1'"
                )
            out.add(int(digits))
    return out


def _adience_image(root: Path, user: str, face: str, original: str) -> Path:
    aligned = root / "aligned" / user / f"landmark_aligned_face.{face}.{original}"
    if aligned.exists():
        return aligned
    tilt = root / "faces" / user / f"coarse_tilt_aligned_face.{face}.{original}"
    return tilt if tilt.exists() else aligned


def _read_adience_fold(path: Path, fold: int, root: Path, problems: list[LabelProblem]) -> Iterator[Sample]:
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        for line, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            fields = [f.strip() for f in raw.rstrip("\r\n").split("\t")]
            if line == 1 and fields[0].lower() == "user_id":
                continue  # header
            try:
                if len(fields) < len(_ADIENCE_COLUMNS):
                    raise _RowError(
                        f"expected at least {len(_ADIENCE_COLUMNS)} tab-separated fields "
                        f"({', '.join(_ADIENCE_COLUMNS)}, ...), found {len(fields)}"
                    )
                user, original, face, age_s, gender_s = fields[:5]
                if not (user and original and face):
                    raise _RowError("user_id, original_image and face_id must not be empty")
                age: float | None = None
                age_range: tuple[int, int] | None = None
                if age_s.startswith("("):
                    age_range = _range(age_s)
                else:
                    age = _age(age_s)
                yield Sample(
                    path=_adience_image(root, user, face, original),
                    age=age,
                    age_range=age_range,
                    gender=_gender(gender_s),
                    subject=user,
                    fold=fold,
                    line=line,
                )
            except _RowError as exc:
                problems.append(LabelProblem(path, line, str(exc)))


def read_adience(
    root: str | Path, folds: int | str | Iterable[int | str] | None = None
) -> Dataset:
    """Read Adience from the ``fold_N_data.txt`` files in ``root``.

    Each row (tab-separated ``user_id, original_image, face_id, age, gender, x,
    y, dx, dy, ...``) becomes a sample with its fold index ``N`` (the folds are
    subject-exclusive) and ``subject = user_id``. Age ``"(25, 32)"`` becomes
    ``age_range``, a single number ``age``, ``"None"`` neither; gender ``m``/``f``,
    ``u`` or empty is unknown. The image is
    ``root/aligned/<user_id>/landmark_aligned_face.<face_id>.<original_image>``,
    or ``root/faces/<user_id>/coarse_tilt_aligned_face...`` when only that exists.

    Args:
        folds: fold indices to read (an int, ``"0,1"`` or a list); None reads all.

    Raises:
        SourceNotFoundError: ``root`` is not a folder or has no fold files.
        InputError: a requested fold has no file.
    """
    root = _need_dir(root, "Adience")
    files = {
        int(m.group(1)): p for p in sorted(root.iterdir())
        if (m := _FOLD_FILE.match(p.name)) and p.is_file()
    }
    if not files:
        raise SourceNotFoundError(
            f"{root} has no fold_N_data.txt files; pass the Adience folder that holds them"
        )
    wanted = _folds(folds)
    if wanted is not None:
        missing = sorted(wanted - set(files))
        if missing:
            raise InputError(
                f"{root} has no file for fold(s) {missing}; available folds: {sorted(files)}"
            )
    problems: list[LabelProblem] = []
    samples: list[Sample] = []
    for fold, path in sorted(files.items()):
        if wanted is None or fold in wanted:
            samples.extend(_read_adience_fold(path, fold, root, problems))
    _warn(root, problems)
    log.info("Adience %s: %d samples from folds %s", root, len(samples),
             sorted(wanted) if wanted is not None else sorted(files))
    return Dataset(samples, problems, source=root, format="adience")


# --------------------------------------------------------------------- FairFace
def read_fairface(csv_path: str | Path, root: str | Path | None = None) -> Dataset:
    """Read a FairFace label CSV (``file,age,gender,race,service_test``).

    Age is a range (``"0-2"``, ``"3-9"``, ``"10-19"`` ... ``"60-69"``, ``"more than
    70"`` or ``"70+"``, the last read as ``(70, 100)``); gender is
    ``Male``/``Female``; race is kept as ``group``. Image paths are relative to
    ``root``, or to the CSV's folder when ``root`` is None.

    Raises:
        SourceNotFoundError: the CSV (or ``root``) does not exist.
        InputError: the CSV lacks the ``file`` or ``age`` column.
    """
    path = _need_file(csv_path, "FairFace label")
    base = _need_dir(root, "FairFace image") if root is not None else path.parent
    problems: list[LabelProblem] = []
    samples: list[Sample] = []
    for line, row in _table(path, problems, required=["file", "age"]):
        try:
            rel = row["file"].strip()
            if not rel:
                raise _RowError("file is empty")
            samples.append(Sample(
                path=base / rel,
                age_range=_range(row["age"]),
                gender=_gender(row.get("gender")),
                group=_text(row.get("race")),
                line=line,
            ))
        except _RowError as exc:
            problems.append(LabelProblem(path, line, str(exc)))
    _warn(path, problems)
    log.info("FairFace %s: %d samples", path, len(samples))
    return Dataset(samples, problems, source=path, format="fairface")


# --------------------------------------------------------------------- generic CSV
_CSV_ALIASES = {
    "file": "path", "image": "path", "filename": "path",
    "age_range": "age_group", "race": "group", "ethnicity": "group",
    "user_id": "subject",
}


def read_csv(
    csv_path: str | Path,
    root: str | Path | None = None,
    *,
    split: str | Sequence[str] | None = None,
) -> Dataset:
    """Read a generic label CSV.

    Columns (names case-insensitive): ``path`` (required; also ``file``/``image``),
    and optionally ``age`` (years), ``age_group`` (a range like ``"25-32"``, an
    Adience label ``"(25, 32)"`` or ``"70+"``), ``gender`` (male/female, m/f),
    ``group`` (also ``race``/``ethnicity``), ``subject``, ``fold`` and
    ``split``. Empty cells are unknown. Paths are relative to ``root``, or to the
    CSV's folder when ``root`` is None.

    Args:
        split: keep only rows whose ``split`` column is this (or one of these).

    Raises:
        SourceNotFoundError: the CSV (or ``root``) does not exist.
        InputError: no ``path`` column, or ``split`` given without a ``split`` column.
    """
    path = _need_file(csv_path, "label CSV")
    base = _need_dir(root, "image") if root is not None else path.parent
    wanted = _splits(split)
    required = ["path"] + (["split"] if wanted is not None else [])
    problems: list[LabelProblem] = []
    samples: list[Sample] = []
    for line, row in _table(path, problems, required=required, aliases=_CSV_ALIASES):
        if wanted is not None and row["split"].strip() not in wanted:
            continue
        try:
            rel = row["path"].strip()
            if not rel:
                raise _RowError("path is empty")
            fold_s = _text(row.get("fold"))
            if fold_s is not None and not fold_s.isdigit():
                raise _RowError(f"fold {fold_s!r} is not a whole number")
            samples.append(Sample(
                path=base / rel,
                age=_age(row.get("age")),
                age_range=_range(row.get("age_group")),
                gender=_gender(row.get("gender")),
                group=_text(row.get("group")),
                subject=_text(row.get("subject")),
                fold=int(fold_s) if fold_s is not None else None,
                line=line,
            ))
        except _RowError as exc:
            problems.append(LabelProblem(path, line, str(exc)))
    _warn(path, problems)
    log.info("CSV %s: %d samples", path, len(samples))
    return Dataset(samples, problems, source=path, format="csv")


# --------------------------------------------------------------------- dispatch
def _header(path: Path) -> list[str]:
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        for fields in csv.reader(fh):
            if any(f.strip() for f in fields):
                return [f.strip().lower() for f in fields]
    return []


def _detect(path: Path) -> str:
    """Guess the format of a data set folder or label file from its contents."""
    if path.is_dir():
        if any(_FOLD_FILE.match(p.name) for p in path.iterdir()):
            return "adience"
        if (path / "labels.csv").is_file():
            return "utkface"
        for p in path.rglob("*"):
            if p.is_file() and p.name.lower().endswith(_IMAGE_SUFFIXES):
                if re.match(r"^\d+_[01]_[0-4]_", p.name):
                    return "utkface"
                break
        raise InputError(
            f"cannot tell the format of folder {path}: no fold_N_data.txt (Adience), "
            f"labels.csv or AGE_GENDER_RACE_DATE.jpg images (UTKFace). Pass format= one "
            f"of {', '.join(FORMATS)}"
        )
    if _FOLD_FILE.match(path.name):
        return "adience"
    header = set(_header(path))
    if {"path", "age", "gender", "race", "split"} <= header:
        return "utkface"
    if {"file", "age", "gender", "race"} <= header and "path" not in header:
        return "fairface"
    if header & {"path", "file", "image", "filename"}:
        return "csv"
    raise InputError(
        f"cannot tell the format of {path}: its header ({', '.join(sorted(header)) or 'empty'})"
        f" has no path/file column. Pass format= one of {', '.join(FORMATS)}"
    )


def read_dataset(
    path: str | Path,
    format: str = "auto",
    split: str | int | Sequence[str | int] | None = None,
) -> Dataset:
    """Read a labeled data set in any supported format.

    Args:
        path: a UTKFace folder (or its ``labels.csv``), an Adience folder (or one
            ``fold_N_data.txt``), a FairFace CSV or a generic CSV.
        format: ``"auto"`` (detect from the contents), ``"utkface"``,
            ``"adience"``, ``"fairface"`` or ``"csv"``.
        split: UTKFace / CSV: the split name(s) to keep; Adience: the fold
            index(es), e.g. ``0`` or ``"0,1"``; FairFace: not supported (FairFace
            ships one CSV per split). None keeps everything.

    Raises:
        SourceNotFoundError: ``path`` does not exist.
        InputError: unknown ``format``, undetectable format, or a bad ``split``.
    """
    p = Path(path)
    fmt = format.strip().lower()
    if fmt != "auto" and fmt not in FORMATS:
        raise InputError(f"unknown data set format {format!r}; use auto, {', '.join(FORMATS)}")
    if not p.exists():
        raise SourceNotFoundError(f"data set {p} does not exist; check the path")
    if fmt == "auto":
        fmt = _detect(p)
        log.info("%s: detected format %s", p, fmt)

    if fmt == "adience":
        if p.is_file():
            m = _FOLD_FILE.match(p.name)
            if not m:
                raise InputError(f"{p} is not an Adience fold_N_data.txt; pass the folder")
            if split is not None and _folds(split) != {int(m.group(1))}:  # type: ignore[arg-type]
                raise InputError(f"{p} is fold {m.group(1)}, but split={split!r} was asked")
            return read_adience(p.parent, folds=int(m.group(1)))
        return read_adience(p, folds=split)  # type: ignore[arg-type]
    if fmt == "utkface":
        root = p.parent if p.is_file() else p
        if p.is_file() and p.name != "labels.csv":
            return read_csv(p, split=_split_names(split))
        return read_utkface(root, split=_split_names(split))
    if p.is_dir():
        raise InputError(f"{fmt} data sets are read from a CSV file, but {p} is a folder")
    if fmt == "fairface":
        if split is not None:
            raise InputError(
                f"FairFace ships one CSV per split; pass that CSV instead of split={split!r}"
            )
        return read_fairface(p)
    return read_csv(p, split=_split_names(split))


def _split_names(split: str | int | Sequence[str | int] | None) -> str | list[str] | None:
    if split is None or isinstance(split, str):
        return split
    if isinstance(split, int):
        return str(split)
    return [str(s) for s in split]
