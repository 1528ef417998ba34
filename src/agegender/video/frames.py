"""One analyzed frame: detect or predict, estimate, aggregate; and its JSON-ready dict.

:class:`_FrameProcessor` runs steps 2 to 4 of :mod:`agegender.video` (detect or
predict, estimate, aggregate) on one frame at a time and keeps the bookkeeping of
the whole run: seconds per stage, the number of detection frames, and each track's
shown and frame-by-frame labels for the flicker figures. :func:`_frame_dict` builds
the dict ``on_frame`` receives.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..faces import Faces
from ..track import FaceTracker, TrackAggregator
from .flicker import _LABEL_KINDS, _append_labels

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from ..analyzer import Analyzer

#: The stages of :attr:`VideoSummary.timings`, in order.
_TIMING_KEYS = ("read", "detect", "track", "estimate", "aggregate", "output")


class _FrameProcessor:
    """Detect (or predict), estimate and aggregate one analyzed frame at a time.

    Attributes:
        timings: seconds per stage (:data:`_TIMING_KEYS`); :meth:`process` adds to
            ``detect``, ``track``, ``estimate`` and ``aggregate``, the caller to
            ``read`` and ``output``.
        detections: frames on which detection (and estimation) ran.
        shown_labels, raw_labels: per label kind, each track's labels as shown
            (aggregated) and as the model gave them, frame by frame (tracking only).
    """

    def __init__(
        self,
        analyzer: Analyzer,
        tracker: FaceTracker | None,
        aggregator: TrackAggregator | None,
    ) -> None:
        self.analyzer = analyzer
        self.tracker = tracker
        self.aggregator = aggregator
        self.timings = dict.fromkeys(_TIMING_KEYS, 0.0)
        self.detections = 0
        self.shown_labels: dict[str, dict[int, list[Any]]] = {k: {} for k in _LABEL_KINDS}
        self.raw_labels: dict[str, dict[int, list[Any]]] = {k: {} for k in _LABEL_KINDS}

    def process(
        self,
        rgb: NDArray[np.uint8],
        index: int,
        seconds: float,
        *,
        detect: bool,
        since: float,
    ) -> tuple[Faces, Faces, float]:
        """Analyze one frame.

        Args:
            rgb: the frame.
            index, seconds: its index and time in the video.
            detect: detect and estimate (True), or let the tracker predict the boxes
                (False; needs a tracker).
            since: ``time.perf_counter()`` when the frame was ready (the stages are
                timed from there).

        Returns:
            ``(raw, shown, end)``: the frame's own answers (no age or gender on
            predicted frames), the answers to show (each track's aggregate when
            tracking, else ``raw``), and ``time.perf_counter()`` when done.
        """
        timings, tracker, aggregator = self.timings, self.tracker, self.aggregator
        t1 = since
        if detect:
            faces = self.analyzer.detector.detect(rgb)
            t2 = time.perf_counter()
            timings["detect"] += t2 - t1
            if tracker is not None:
                faces = tracker.update(faces, index)
            t3 = time.perf_counter()
            timings["track"] += t3 - t2
            raw = self.analyzer.estimate([rgb], [faces])[0]
            t4 = time.perf_counter()
            timings["estimate"] += t4 - t3
            self.detections += 1
        else:
            assert tracker is not None
            raw = tracker.predict(index)
            t4 = time.perf_counter()
            timings["track"] += t4 - t1
        if aggregator is not None:
            shown = aggregator.update(raw, index, seconds)
            _append_labels(self.shown_labels, shown)
            _append_labels(self.raw_labels, raw)
        else:
            shown = raw
        t5 = time.perf_counter()
        timings["aggregate"] += t5 - t4
        return raw, shown, t5


def _raw_dicts(raw: Faces) -> list[dict[str, Any] | None]:
    """Per face, the frame's own (model) age and gender, or None on predicted frames."""
    if raw.age_years is None and raw.gender_p is None:
        return [None] * len(raw)
    out: list[dict[str, Any] | None] = []
    for d in raw.to_dict():
        out.append({k: d[k] for k in ("age", "gender") if k in d})
    return out


def _frame_dict(
    index: int, seconds: float, shown: Faces, raw: Faces, *, include_raw: bool
) -> dict[str, Any]:
    """The dict ``on_frame`` receives: ``{"frame", "time", "faces"}``, each face as
    :meth:`Faces.to_dict` gives it; with ``include_raw`` each face also gets ``raw``
    (:func:`_raw_dicts`)."""
    faces_d = shown.to_dict()
    if include_raw:
        for fd, rd in zip(faces_d, _raw_dicts(raw), strict=True):
            fd["raw"] = rd
    return {"frame": int(index), "time": round(float(seconds), 3), "faces": faces_d}
