"""Writers for results: JSON Lines, CSV (one row per face), annotated images."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO, Any

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
