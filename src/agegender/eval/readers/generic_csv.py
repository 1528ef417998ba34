"""A generic label CSV: a ``path`` column and any of age, age group, gender, group, subject, fold, split."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from .common import (
    Dataset,
    LabelProblem,
    Sample,
    _age,
    _gender,
    _need_dir,
    _need_file,
    _range,
    _RowError,
    _splits,
    _table,
    _text,
    _warn,
)

log = logging.getLogger(__name__)

__all__ = ["read_csv"]

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
