"""The dict ``on_frame`` receives for each analyzed frame, and the stages timed.

The frame itself is analyzed by :class:`agegender.track.step.FrameStep` (detect or
predict, track, estimate, aggregate); :func:`_frame_dict` turns its answer into the
JSON-ready dict of :func:`~agegender.video.analyze_video`'s ``on_frame``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..faces import Faces
from ..track.step import STEP_STAGES

#: The stages of :attr:`VideoSummary.timings`, in order.
_TIMING_KEYS = ("read", *STEP_STAGES, "output")


def _raw_dicts(raw: Faces, fresh: NDArray[np.bool_], gender_min_confidence: float | None = None,
               ) -> list[dict[str, Any] | None]:
    """Per face, the frame's own (model) age and gender, or None where the face was not
    estimated on this frame (predicted frames)."""
    if raw.age_years is None and raw.gender_p is None:
        return [None] * len(raw)
    out: list[dict[str, Any] | None] = []
    for d, new in zip(raw.to_dict(gender_min_confidence=gender_min_confidence), fresh, strict=True):
        out.append({k: d[k] for k in ("age", "gender") if k in d} if new else None)
    return out


def _frame_dict(
    index: int,
    seconds: float,
    shown: Faces,
    raw: Faces,
    fresh: NDArray[np.bool_],
    *,
    include_raw: bool,
    gender_min_confidence: float | None = None,
) -> dict[str, Any]:
    """The dict ``on_frame`` receives: ``{"frame", "time", "faces"}``, each face as
    :meth:`Faces.to_dict` gives it; with ``include_raw`` each face also gets ``raw``
    (:func:`_raw_dicts`)."""
    faces_d = shown.to_dict(gender_min_confidence=gender_min_confidence)
    if include_raw:
        for fd, rd in zip(faces_d, _raw_dicts(raw, fresh, gender_min_confidence), strict=True):
            fd["raw"] = rd
    return {"frame": int(index), "time": round(float(seconds), 3), "faces": faces_d}
