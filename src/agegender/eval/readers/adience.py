"""Adience: the tab-separated ``fold_N_data.txt`` files (subject-exclusive folds), or a
``labels.csv`` (``path,age_group,gender,user_id,face_id,fold[,age_raw]``) beside the images."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from ...ages import ADIENCE_GROUPS
from ...errors import InputError, SourceNotFoundError
from .common import (
    Dataset,
    LabelProblem,
    Sample,
    _age,
    _gender,
    _need_dir,
    _range,
    _RowError,
    _table,
    _text,
    _warn,
)

log = logging.getLogger(__name__)

__all__ = ["read_adience"]

_FOLD_FILE = re.compile(r"^fold_(\d+)_data\.txt$")
_ADIENCE_COLUMNS = ("user_id", "original_image", "face_id", "age", "gender")
#: The columns a ``labels.csv`` of Adience must have (``age_raw`` is optional).
ADIENCE_CSV_COLUMNS = ("path", "age_group", "gender", "user_id", "face_id", "fold")


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


def _read_adience_csv(
    path: Path, wanted: set[int] | None, problems: list[LabelProblem]
) -> tuple[list[Sample], dict[str, int]]:
    """Samples of a ``labels.csv``; an age group that is not one of the 8 is left out of
    age (as Levi & Hassner's list-making code does), and a face with no usable label at
    all is left out. Returns the samples and counts of what was left out."""
    samples: list[Sample] = []
    left_out = {"age_off_protocol": 0, "no_label": 0}
    for line, row in _table(path, problems, required=ADIENCE_CSV_COLUMNS):
        try:
            fold_s = (row["fold"] or "").strip()
            if not fold_s.isdigit():
                raise _RowError(f"fold {fold_s!r} is not a whole number")
            if wanted is not None and int(fold_s) not in wanted:
                continue
            rel = row["path"].strip()
            if not rel:
                raise _RowError("path is empty")
            age_range = _range(row["age_group"])
            if age_range is not None and age_range not in ADIENCE_GROUPS:
                left_out["age_off_protocol"] += 1
                age_range = None
            gender = _gender(row["gender"])
            if age_range is None and gender is None:
                left_out["no_label"] += 1
                continue
            samples.append(Sample(
                path=path.parent / rel,
                age_range=age_range,
                gender=gender,
                subject=_text(row["user_id"]),
                fold=int(fold_s),
                line=line,
            ))
        except _RowError as exc:
            problems.append(LabelProblem(path, line, str(exc)))
    return samples, left_out


def _is_adience_csv(path: Path) -> bool:
    """True when ``path`` is a CSV whose header has the Adience ``labels.csv`` columns."""
    import csv

    if not path.is_file():
        return False
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), [])
    return set(ADIENCE_CSV_COLUMNS) <= {h.strip().lower() for h in header}


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

    A folder without fold files may hold a ``labels.csv`` instead (columns
    ``path,age_group,gender,user_id,face_id,fold``, paths relative to the folder, as in
    ``../shared/data/adience``). There an age group that is not one of the 8 Adience
    groups (or is empty) leaves that face out of the age figures only, and a face with
    neither an age group nor a gender is left out; both are counted in the log.

    Args:
        folds: fold indices to read (an int, ``"0,1"`` or a list); None reads all.

    Raises:
        SourceNotFoundError: ``root`` is not a folder or has no fold files.
        InputError: a requested fold has no file.
    """
    root = _need_dir(root, "Adience")
    wanted = _folds(folds)
    files = {
        int(m.group(1)): p for p in sorted(root.iterdir())
        if (m := _FOLD_FILE.match(p.name)) and p.is_file()
    }
    if not files and _is_adience_csv(root / "labels.csv"):
        return _read_labels_csv(root, wanted)
    if not files:
        raise SourceNotFoundError(
            f"{root} has no fold_N_data.txt files and no labels.csv with the columns "
            f"{', '.join(ADIENCE_CSV_COLUMNS)}; pass the Adience folder that holds them"
        )
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


def _read_labels_csv(root: Path, wanted: set[int] | None) -> Dataset:
    path = root / "labels.csv"
    problems: list[LabelProblem] = []
    samples, left_out = _read_adience_csv(path, wanted, problems)
    if wanted is not None and not samples:
        raise InputError(f"{path} has no rows for fold(s) {sorted(wanted)}")
    _warn(path, problems)
    if left_out["age_off_protocol"]:
        log.info("%s: %d age label(s) not one of the 8 Adience groups: left out of age",
                 path, left_out["age_off_protocol"])
    if left_out["no_label"]:
        log.info("%s: %d face(s) with neither an Adience age group nor a gender: left out",
                 path, left_out["no_label"])
    log.info("Adience %s: %d samples", path, len(samples))
    return Dataset(samples, problems, source=root, format="adience")
