"""One analyzed frame of a video or live stream: detect -> track -> estimate -> aggregate.

:class:`FrameStep` is the per-frame loop that :func:`agegender.video.analyze_video`
and the server's live stream (:mod:`agegender.server.stream`) share. It calls the
Analyzer's public steps (:meth:`~agegender.analyzer.Analyzer.detect` and
:meth:`~agegender.analyzer.Analyzer.estimate`), holds the
:class:`~agegender.track.FaceTracker` and the
:class:`~agegender.track.TrackAggregator`, and keeps the seconds spent per stage.

>>> step = FrameStep(analyzer, FaceTracker(drop_unconfirmed=True), TrackAggregator(fps=30),
...                  estimate_every=10)
>>> answer = step(rgb, index=0, seconds=0.0)         # answer.shown: the stable answers

**Estimating only what the evidence needs** (``estimate_every=K > 1``, with a tracker).
A tracked face is estimated on a detection frame when

* its track is new (never estimated),
* ``K`` or more frames have gone by since its last estimate (and, so that faces are
  estimated together in one batch, which costs less per face than one at a time:
  ``K - K // 4`` frames or more when another face of the frame is estimated anyway), or
* its detection quality (:func:`~agegender.track.face_quality`: size times score) is
  ``quality_gain`` above the best quality it was estimated at (a face that comes
  closer, or out of blur);

its other detections only move the box and add no evidence: the aggregate they show
is the same as it would be after one more near-identical frame, at none of the cost.
``K = 1`` estimates every detection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from .aggregate import face_quality

if TYPE_CHECKING:
    from ..analyzer import Analyzer
    from ..faces import Faces
    from .aggregate import TrackAggregator
    from .tracker import FaceTracker

__all__ = ["STEP_STAGES", "FrameAnswer", "FrameStep"]

#: The stages :attr:`FrameStep.timings` counts, in order.
STEP_STAGES = ("detect", "track", "estimate", "aggregate")
#: The per-face answer columns of :class:`~agegender.faces.Faces`.
_ANSWER_COLUMNS = ("age_dist", "age_years", "age_low", "age_high", "age_group", "gender_p")
_PRUNE_EVERY = 256  # frames between forgetting the estimates of tracks that are gone


@dataclass(frozen=True)
class FrameAnswer:
    """What :class:`FrameStep` gives for one frame.

    Attributes:
        raw: the frame's faces with the model's own answers (``track_id`` set when
            tracking): estimated on this frame where ``fresh``, else the track's last
            estimate. On a predicted frame (no detection) there are no age or gender
            columns.
        shown: the answers to show: each track's aggregate when aggregating, else ``raw``.
        fresh: ``(len(raw),)`` bool, True where ``raw``'s age and gender were estimated
            on this frame (all False on a predicted frame).
        end: ``time.perf_counter()`` when the step was done.
    """

    raw: Faces
    shown: Faces
    fresh: NDArray[np.bool_]
    end: float


class FrameStep:
    """Detect (or predict), track, estimate and aggregate one frame at a time.

    Args:
        analyzer: the :class:`~agegender.analyzer.Analyzer` whose ``detect`` and
            ``estimate`` steps are used.
        tracker: gives ``track_id`` s and predicts boxes on frames without detection;
            None: every frame is detected and estimated on its own.
        aggregator: turns each track's answers into a stable one (needs ``tracker``);
            None: the frame's own answers are shown.
        keep: applied to each frame's detections before tracking (e.g. a minimum score
            or face size); returns the faces to keep.
        estimate_every: ``K``: re-estimate a tracked face every K-th frame (see the
            module docstring); 1 estimates every detection. Needs a tracker when > 1.
        quality_gain: re-estimate a tracked face sooner when its detection quality
            (0..1) is this much above the best it was estimated at.

    Attributes:
        timings: seconds per stage (:data:`STEP_STAGES`).
        detections: frames on which detection ran.
        estimates: faces estimated (one per face and estimation).
    """

    def __init__(
        self,
        analyzer: Analyzer,
        tracker: FaceTracker | None = None,
        aggregator: TrackAggregator | None = None,
        *,
        keep: Callable[[Faces], Faces] | None = None,
        estimate_every: int = 1,
        quality_gain: float = 0.1,
    ) -> None:
        if aggregator is not None and tracker is None:
            raise InputError("FrameStep: an aggregator needs a tracker (it works on track ids)")
        if isinstance(estimate_every, bool) or int(estimate_every) != estimate_every or (
            estimate_every < 1
        ):
            raise InputError(
                f"estimate_every must be a whole number of frames >= 1, got {estimate_every!r}"
            )
        if estimate_every > 1 and tracker is None:
            raise InputError(
                "estimate_every > 1 needs tracking (a face is re-estimated per track); "
                "use estimate_every=1 without a tracker"
            )
        if not quality_gain >= 0:
            raise InputError(f"quality_gain must be >= 0, got {quality_gain!r}")
        self.analyzer = analyzer
        self.tracker = tracker
        self.aggregator = aggregator
        self.keep = keep
        self.estimate_every = int(estimate_every)
        self.quality_gain = float(quality_gain)
        self.quality_px = 80.0 if aggregator is None else aggregator.quality_px
        self.timings = dict.fromkeys(STEP_STAGES, 0.0)
        self.detections = 0
        self.estimates = 0
        self.frames = 0  # calls so far
        # per track id: (frame of its last estimate, best quality estimated at, that row)
        self._estimated: dict[int, tuple[int, float, dict[str, Any]]] = {}

    def __call__(
        self,
        rgb: NDArray[np.uint8],
        index: int,
        seconds: float | None = None,
        *,
        detect: bool = True,
        since: float | None = None,
    ) -> FrameAnswer:
        """Analyze one frame.

        Args:
            rgb: the frame, ``(H, W, 3)`` uint8 RGB.
            index: its frame index (increasing).
            seconds: its time in the video; None lets the aggregator derive it from
                ``index`` and its fps.
            detect: detect and estimate (True), or let the tracker predict the boxes
                (False; needs a tracker).
            since: ``time.perf_counter()`` when the frame was ready (the stages are
                timed from there); default now.
        """
        timings, tracker, aggregator = self.timings, self.tracker, self.aggregator
        t1 = time.perf_counter() if since is None else since
        if detect:
            faces = self.analyzer.detect([rgb])[0]
            if self.keep is not None:
                faces = self.keep(faces)
            t2 = time.perf_counter()
            timings["detect"] += t2 - t1
            if tracker is not None:
                faces = tracker.update(faces, index)
            t3 = time.perf_counter()
            timings["track"] += t3 - t2
            raw, fresh = self._estimate(rgb, faces)
            t4 = time.perf_counter()
            timings["estimate"] += t4 - t3
            self.detections += 1
        else:
            if tracker is None:
                raise InputError("FrameStep: a frame without detection needs a tracker")
            raw = tracker.predict(index)
            fresh = np.zeros(len(raw), dtype=bool)
            t4 = time.perf_counter()
            timings["track"] += t4 - t1
        if aggregator is None:
            shown = raw
        else:
            evidence = None if fresh.all() else fresh
            shown = aggregator.update(raw, index, seconds, evidence=evidence)
        self.frames += 1
        if self.frames % _PRUNE_EVERY == 0 and tracker is not None and self._estimated:
            alive = {t.track_id for t in tracker.tracks}
            self._estimated = {k: v for k, v in self._estimated.items() if k in alive}
        t5 = time.perf_counter()
        timings["aggregate"] += t5 - t4
        return FrameAnswer(raw=raw, shown=shown, fresh=fresh, end=t5)

    # ------------------------------------------------------------ estimation
    def _due(self, faces: Faces, quality: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Which rows to estimate now (see the module docstring)."""
        k, now = self.estimate_every, self.frames
        if k == 1 or faces.track_id is None:
            return np.ones(len(faces), dtype=bool)
        due = np.ones(len(faces), dtype=bool)
        waited = np.full(len(faces), k, dtype=np.int64)
        for i, tid in enumerate(faces.track_id.tolist()):
            last = self._estimated.get(tid) if tid >= 0 else None
            if last is not None:
                frame, best, _ = last
                waited[i] = now - frame
                due[i] = waited[i] >= k or quality[i] >= best + self.quality_gain
        if due.any():  # join the batch when nearly due
            due |= waited >= k - k // 4
        return due

    def _estimate(self, rgb: NDArray[np.uint8], faces: Faces) -> tuple[Faces, NDArray[np.bool_]]:
        """Estimate the rows that are due; the others get their track's last estimate."""
        if self.estimate_every == 1:  # every detection: no bookkeeping
            self.estimates += len(faces)
            return self.analyzer.estimate([rgb], [faces])[0], np.ones(len(faces), dtype=bool)
        quality = face_quality(faces.boxes, faces.scores, self.quality_px)
        due = self._due(faces, quality)
        n_due = int(due.sum())
        if n_due == len(faces):
            raw = self.analyzer.estimate([rgb], [faces])[0]
        else:
            est = self.analyzer.estimate([rgb], [faces[due]])[0] if n_due else None
            raw = self._assemble(faces, due, est)
        self.estimates += n_due
        self._remember(raw, due, quality)
        return raw, due

    def _remember(self, raw: Faces, due: NDArray[np.bool_], quality: NDArray[np.float64]) -> None:
        if raw.track_id is None:
            return
        now = self.frames
        for i in np.flatnonzero(due).tolist():
            tid = int(raw.track_id[i])
            if tid < 0 or not quality[i] > 0:  # no evidence from it: estimate again next time
                continue
            row = {c: None if (v := getattr(raw, c)) is None else v[i] for c in _ANSWER_COLUMNS}
            old = self._estimated.get(tid)
            best = float(quality[i]) if old is None else max(old[1], float(quality[i]))
            self._estimated[tid] = (now, best, row)

    def _assemble(self, faces: Faces, due: NDArray[np.bool_], est: Faces | None) -> Faces:
        """``faces`` with the answer columns: from ``est`` on the rows due, else from each
        track's last estimate (some rows are not due)."""
        assert faces.track_id is not None
        kept_rows = [self._estimated[int(t)][2] for t in faces.track_id[~due].tolist()]
        columns: dict[str, Any] = {}
        for c in _ANSWER_COLUMNS:
            kept = [r[c] for r in kept_rows]
            new = None if est is None else getattr(est, c)
            if any(v is None for v in kept) or (est is not None and new is None):
                continue  # a column the models do not give
            first = np.asarray(kept[0])
            col = np.empty((len(faces), *first.shape), dtype=first.dtype)
            col[~due] = np.stack(kept)
            if new is not None:
                col[due] = new
            columns[c] = col
        return faces.with_columns(**columns)
