"""Running a model over a labeled data set: one prediction dict per sample.

Two modes:

* **pipeline** (default): detect, align, estimate, as ``agegender analyze`` does.
  In each image the labeled face is taken to be the largest face nearest the
  centre (data sets like UTKFace, Adience and FairFace hold one face each).
* **crops**: each image *is* the face; it is resized to each model's input as it
  is, with no detection or alignment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..faces import Faces
from ..io.images import Source
from .readers import Sample

log = logging.getLogger(__name__)


def pick_face(faces: Faces, width: int, height: int) -> int | None:
    """Index of the labeled face: large and central (area x closeness to the centre)."""
    if len(faces) == 0:
        return None
    b = faces.boxes
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    d = np.hypot((cx - width / 2) / max(width, 1), (cy - height / 2) / max(height, 1))
    return int(np.argmax(area * np.exp(-4 * d)))


def _pred(faces: Faces, i: int | None, seconds: float) -> dict[str, Any]:
    if i is None:
        return {"found": False, "seconds": seconds}
    return {
        "found": True,
        "age_years": None if faces.age_years is None else float(faces.age_years[i]),
        "age_low": None if faces.age_low is None else float(faces.age_low[i]),
        "age_high": None if faces.age_high is None else float(faces.age_high[i]),
        "age_dist": None if faces.age_dist is None else faces.age_dist[i],
        "age_group": None if faces.age_group is None else int(faces.age_group[i]),
        "p_male": None if faces.gender_p is None else float(faces.gender_p[i]),
        "seconds": seconds,
    }


def predict_samples(
    analyzer: Any,
    samples: Sequence[Sample],
    *,
    crops: bool = False,
    batch_size: int = 32,
    on_progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """One prediction dict per sample (see :func:`agegender.eval.report.build_report`),
    through :meth:`Analyzer.analyze_many` (decoding in a thread, batched estimation).

    An unreadable image gives ``found=False`` with its ``error``; the others go on.
    ``seconds`` is the run's wall time per analysed sample.
    """
    out: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    results = analyzer.analyze_many([Source(str(s.path), path=Path(s.path)) for s in samples],
                                    batch_size=batch_size, crops=crops, full_batches=True)
    for r in results:
        if r.error is not None:
            log.warning("%s", r.error)
            out.append({"found": False, "seconds": 0.0, "error": str(r.error)})
        elif crops:
            out.append(_pred(r.faces, 0 if len(r.faces) else None, 0.0))
        else:
            out.append(_pred(r.faces, pick_face(r.faces, r.width, r.height), 0.0))
        if on_progress and (len(out) % batch_size == 0 or len(out) == len(samples)):
            on_progress(len(out))
    found = [p for p in out if p["found"]]
    per = (time.perf_counter() - t0) / max(len(found), 1)
    for p in found:
        p["seconds"] = per
    return out
