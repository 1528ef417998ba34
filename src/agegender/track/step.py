"""One analyzed frame of a video or live stream: detect -> track -> estimate -> aggregate.

:class:`FrameStep` is the per-frame loop that :func:`agegender.video.analyze_video`
and the server's live stream (:mod:`agegender.server.stream`) share. It calls the
Analyzer's public steps (:meth:`~agegender.analyzer.Analyzer.detect` and
:meth:`~agegender.analyzer.Analyzer.estimate`), holds the
:class:`~agegender.track.FaceTracker` and the
:class:`~agegender.track.TrackAggregator`, and keeps the seconds spent per stage.

>>> step = FrameStep(analyzer, FaceTracker(drop_unconfirmed=True), TrackAggregator(fps=30))
>>> answer = step(rgb, index=0, seconds=0.0)         # answer.shown: the stable answers
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError

if TYPE_CHECKING:
    from ..analyzer import Analyzer
    from ..faces import Faces
    from .aggregate import TrackAggregator
    from .tracker import FaceTracker

__all__ = ["STEP_STAGES", "FrameAnswer", "FrameStep"]

#: The stages :attr:`FrameStep.timings` counts, in order.
STEP_STAGES = ("detect", "track", "estimate", "aggregate")


@dataclass(frozen=True)
class FrameAnswer:
    """What :class:`FrameStep` gives for one frame.

    Attributes:
        raw: the frame's faces with the model's own answers (``track_id`` set when
            tracking). On a predicted frame (no detection) there are no age or gender
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

    Attributes:
        timings: seconds per stage (:data:`STEP_STAGES`).
        detections: frames on which detection (and estimation) ran.
    """

    def __init__(
        self,
        analyzer: Analyzer,
        tracker: FaceTracker | None = None,
        aggregator: TrackAggregator | None = None,
        *,
        keep: Callable[[Faces], Faces] | None = None,
    ) -> None:
        if aggregator is not None and tracker is None:
            raise InputError("FrameStep: an aggregator needs a tracker (it works on track ids)")
        self.analyzer = analyzer
        self.tracker = tracker
        self.aggregator = aggregator
        self.keep = keep
        self.timings = dict.fromkeys(STEP_STAGES, 0.0)
        self.detections = 0

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
            raw = self.analyzer.estimate([rgb], [faces])[0]
            fresh = np.ones(len(raw), dtype=bool)
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
        shown = raw if aggregator is None else aggregator.update(raw, index, seconds)
        t5 = time.perf_counter()
        timings["aggregate"] += t5 - t4
        return FrameAnswer(raw=raw, shown=shown, fresh=fresh, end=t5)
