"""FairFace: one label CSV per split, age as a range, race kept as the group."""

from __future__ import annotations

import logging
from pathlib import Path

from .common import (
    Dataset,
    LabelProblem,
    Sample,
    _gender,
    _need_dir,
    _need_file,
    _range,
    _RowError,
    _table,
    _text,
    _warn,
)

log = logging.getLogger(__name__)

__all__ = ["read_fairface"]


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
