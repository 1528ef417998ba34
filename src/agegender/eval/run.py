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
from typing import Any

import numpy as np

from ..errors import AgeGenderError
from ..faces import Faces
from ..io.images import decode_image
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
    """One prediction dict per sample (see :func:`agegender.eval.report.build_report`).

    An unreadable image gives ``found=False`` with its ``error``; the others go on.
    """
    out: list[dict[str, Any]] = []
    for start in range(0, len(samples), batch_size):
        batch = samples[start : start + batch_size]
        images, idx, errors = [], [], {}
        for k, s in enumerate(batch):
            try:
                images.append(decode_image(s.path))
                idx.append(k)
            except AgeGenderError as e:
                errors[k] = str(e)
                log.warning("%s", e)
        t0 = time.perf_counter()
        if crops:
            faces = analyzer.analyze_crops(images) if images else Faces.empty()
            per = [faces[j] for j in range(len(images))]
        else:
            per = analyzer.analyze_arrays(images) if images else []
        dt = (time.perf_counter() - t0) / max(len(images), 1)
        got = dict(zip(idx, zip(images, per)))
        for k in range(len(batch)):
            if k in errors:
                out.append({"found": False, "seconds": 0.0, "error": errors[k]})
                continue
            im, f = got[k]
            out.append(_pred(f, pick_face(f, im.shape[1], im.shape[0]), dt))
        if on_progress:
            on_progress(len(out))
    return out
