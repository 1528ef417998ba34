"""Format auto-detection, and :func:`read_dataset`, which picks the reader for a path."""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Sequence
from pathlib import Path

from ...errors import InputError, SourceNotFoundError
from .adience import _FOLD_FILE, _folds, _is_adience_csv, read_adience
from .common import _IMAGE_SUFFIXES, Dataset
from .fairface import read_fairface
from .generic_csv import read_csv
from .utkface import read_utkface

log = logging.getLogger(__name__)

__all__ = ["FORMATS", "read_dataset"]

#: Formats :func:`read_dataset` understands (plus ``"auto"``).
FORMATS: tuple[str, ...] = ("utkface", "adience", "fairface", "csv")
_FAIRFACE_CSV = re.compile(r"^fairface_label_(\w+)\.csv$")


def _header(path: Path) -> list[str]:
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        for fields in csv.reader(fh):
            if any(f.strip() for f in fields):
                return [f.strip().lower() for f in fields]
    return []


def _detect(path: Path) -> str:
    """Guess the format of a data set folder or label file from its contents."""
    if path.is_dir():
        if any(_FAIRFACE_CSV.match(p.name) for p in path.iterdir()):
            return "fairface"
        if any(_FOLD_FILE.match(p.name) for p in path.iterdir()):
            return "adience"
        if _is_adience_csv(path / "labels.csv"):
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
        path: a UTKFace folder (or its ``labels.csv``; FairFace staged in that layout reads
            its ``age_group_fairface`` bins), an Adience folder (or one ``fold_N_data.txt``),
            a FairFace folder in FairFace's own layout (``fairface_label_{train,val}.csv``
            beside ``train/`` and ``val/``) or one of its CSVs, or a generic CSV.
        format: ``"auto"`` (detect from the contents), ``"utkface"``,
            ``"adience"``, ``"fairface"`` or ``"csv"``.
        split: UTKFace / CSV: the split name(s) to keep; Adience: the fold
            index(es), e.g. ``0`` or ``"0,1"``; a FairFace folder: ``train`` or ``val``
            (None: both); a FairFace CSV: None (it is one split). None keeps everything.

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
    if fmt == "fairface" and p.is_dir():
        return _fairface_folder(p, _split_names(split))
    if p.is_dir():
        raise InputError(f"{fmt} data sets are read from a CSV file, but {p} is a folder")
    if fmt == "fairface":
        if split is not None:
            raise InputError(
                f"FairFace ships one CSV per split; pass that CSV instead of split={split!r}"
            )
        return read_fairface(p)
    return read_csv(p, split=_split_names(split))


def _fairface_folder(root: Path, split: str | list[str] | None) -> Dataset:
    """FairFace's official layout: ``fairface_label_{train,val}.csv`` beside ``train/`` and
    ``val/``; ``split`` picks the CSVs (None: every one there)."""
    found = {m.group(1): f for f in sorted(root.iterdir())
             if (m := _FAIRFACE_CSV.match(f.name))}
    names = sorted(found) if split is None else ([split] if isinstance(split, str) else split)
    missing = [n for n in names if n not in found]
    if missing or not names:
        raise InputError(
            f"{root}: no fairface_label_{(missing or ['train'])[0]}.csv; the splits there are "
            f"{sorted(found) or 'none'} (FairFace's own are train and val)"
        )
    parts = [read_fairface(found[n], root) for n in names]
    return Dataset([s for d in parts for s in d.samples], [q for d in parts for q in d.problems],
                   source=root, format="fairface")


def _split_names(split: str | int | Sequence[str | int] | None) -> str | list[str] | None:
    if split is None or isinstance(split, str):
        return split
    if isinstance(split, int):
        return str(split)
    return [str(s) for s in split]
