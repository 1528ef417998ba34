"""UTKFace: labels from ``labels.csv`` when there is one, else from the image file names."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from ...errors import InputError, SourceNotFoundError
from .common import (
    _IMAGE_SUFFIXES,
    Dataset,
    Gender,
    LabelProblem,
    Sample,
    _age,
    _gender,
    _need_dir,
    _range,
    _RowError,
    _splits,
    _table,
    _text,
    _warn,
)

log = logging.getLogger(__name__)

__all__ = ["UTKFACE_RACES", "read_utkface"]

#: UTKFace's race codes in file names.
UTKFACE_RACES: tuple[str, ...] = ("white", "black", "asian", "indian", "other")


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
        # age or gender may be absent (LFW-gender has gender only; FG-NET age only)
        required = ["path"] + (["split"] if wanted is not None else [])
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
                    age=_age(row["age"]) if _text(row.get("age")) else None,
                    # FairFace in this layout: 9 age bins, no exact age
                    age_range=(_range(row["age_group_fairface"])
                               if _text(row.get("age_group_fairface")) else None),
                    gender=_gender(row.get("gender"), codes),
                    group=race.lower() if race else None,
                    subject=_text(row.get("person")),
                    line=line,
                ))
            except _RowError as exc:
                problems.append(LabelProblem(labels, line, str(exc)))
        if samples and all(x.age is None and x.gender is None for x in samples):
            raise InputError(f"{labels}: no row has an age or a gender label; the columns are "
                             "path, age and/or gender, split")
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
