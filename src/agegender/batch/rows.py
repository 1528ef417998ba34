"""The rows of a batch run: one per face, with the same values as ``agegender analyze``.

A row comes from the JSON object that ``analyze`` prints (:meth:`Result.to_dict`), so the
two commands cannot disagree. An input with no face gives one row with a null ``face``;
an input that failed gives one row with ``error_type`` and ``error_message``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from .inputs import Item

log = logging.getLogger(__name__)

#: Column names, in order (Parquet, JSON Lines and, with box/landmarks flattened, CSV).
COLUMNS = [
    "source",
    "source_size",
    "source_mtime_ns",
    "width",
    "height",
    "face",
    "box",
    "score",
    "landmarks",
    "age_years",
    "age_low",
    "age_high",
    "age_group",
    "gender",
    "gender_probability",
    "error_type",
    "error_message",
]
#: Parquet key-value metadata keys written in every part file.
META_VERSION = "agegender.version"
META_MODELS = "agegender.models"
META_RUN = "agegender.run"


def require_pyarrow(what: str = "agegender batch --format parquet") -> Any:
    """pyarrow, or one line naming the extra that brings it."""
    try:
        import pyarrow
    except ImportError:
        from ..errors import InputError

        raise InputError(f'{what} needs pyarrow, which is not installed: pip install "agegender[batch]" '
                         "(or --format jsonl / csv)") from None
    return pyarrow


def arrow_schema(metadata: dict[str, str] | None = None) -> Any:
    pa = require_pyarrow()

    f64 = pa.float64()
    fields = [
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_size", pa.int64()),
        pa.field("source_mtime_ns", pa.int64()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("face", pa.int32()),
        pa.field("box", pa.list_(f64, 4)),
        pa.field("score", f64),
        pa.field("landmarks", pa.list_(f64, 10)),
        pa.field("age_years", f64),
        pa.field("age_low", f64),
        pa.field("age_high", f64),
        pa.field("age_group", pa.string()),
        pa.field("gender", pa.string()),
        pa.field("gender_probability", f64),
        pa.field("error_type", pa.string()),
        pa.field("error_message", pa.string()),
    ]
    return pa.schema(fields, metadata=metadata)


def rows_from_result(item: Item, d: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of one input from its ``analyze`` JSON object ``d``."""
    err = d.get("error")
    base: dict[str, Any] = dict.fromkeys(COLUMNS)
    base.update(
        source=item.source,
        source_size=item.size,
        source_mtime_ns=item.mtime_ns,
        width=d.get("width") or None,
        height=d.get("height") or None,
    )
    if err:
        base.update(error_type=err["type"], error_message=err["message"], width=None, height=None)
        return [base]
    faces = d.get("faces") or []
    if not faces:
        return [base]
    rows = []
    for i, f in enumerate(faces):
        row = dict(base, face=i, box=[float(v) for v in f["box"]], score=f["score"])
        lms = f.get("landmarks")
        if lms:
            row["landmarks"] = [float(v) for pt in lms for v in pt]
        if "age" in f:
            a = f["age"]
            row.update(age_years=a["years"], age_low=a["low"], age_high=a["high"], age_group=a["group"])
        if "gender" in f:
            row.update(gender=f["gender"]["label"], gender_probability=f["gender"]["probability"])
        rows.append(row)
    return rows


def error_rows(item: Item, error_type: str, message: str) -> list[dict[str, Any]]:
    """The one row of an input that failed before or outside the analyzer."""
    return rows_from_result(item, {"error": {"type": error_type, "message": message}})


def models_info(analyzer: Any) -> list[dict[str, Any]]:
    """Name, task, sha256 of each file and license of every model an Analyzer uses (from
    :meth:`~agegender.Analyzer.describe`)."""
    return [{k: m[k] for k in ("task", "name", "license", "sha256")}
            for m in analyzer.describe()["models"]]


def file_metadata(models: list[dict[str, Any]], run: dict[str, Any]) -> dict[str, str]:
    """Key-value metadata of every part file: agegender version, models, run settings."""
    from .._version import __version__

    return {
        META_VERSION: __version__,
        META_MODELS: json.dumps(models, sort_keys=True),
        META_RUN: json.dumps(run, sort_keys=True),
    }
