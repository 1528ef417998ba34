"""An iterator over a video's analyzed frames: ``for frame in track_video(analyzer, src)``.

>>> import agegender
>>> analyzer = agegender.Analyzer()
>>> for frame in agegender.track_video(analyzer, "clip.mp4"):
...     print(frame.index, frame.seconds, frame.faces.track_id, frame.faces.age_years)

Each :class:`Frame` holds the decoded picture and its faces with each track's stable
answer so far (``faces``) beside the frame's own (``raw``). :class:`TrackedFrames` opens
the source, runs one :class:`~agegender.track.step.FrameStep` (detect or predict, track,
estimate, aggregate) per analyzed frame, and keeps what a summary needs (the step's
counters and timings, the aggregator, the seconds spent reading).
:func:`agegender.video.analyze_video` is this loop plus outputs (frame dicts, annotated
video, window, summary).

Why a function and not ``Analyzer.track``: the Analyzer sits in a lower layer than
tracking (``tools/check_structure.py``: ``analyzer -> track``, never back, not even
inside a function), so the iterator lives here and takes the Analyzer as its first
argument, as :class:`FrameStep` does; the package exports it as
``agegender.track_video``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from ..io.video import VideoSource, open_video
from .aggregate import TrackAggregator
from .step import FrameStep
from .tracker import FaceTracker

if TYPE_CHECKING:
    from ..analyzer import Analyzer
    from ..faces import Faces

__all__ = ["DEFAULT_ESTIMATE_EVERY", "Frame", "TrackedFrames", "default_tracker", "track_video"]

log = logging.getLogger("agegender.video")

#: A tracked face is estimated again every 10th analyzed frame (3 times a second at 30
#: frames/s), when new, or when its detection quality improves (``docs/video.md`` has
#: the measurements behind the choice).
DEFAULT_ESTIMATE_EVERY = 10


def default_tracker(fps: float, every: int = 1, detect_every: int = 1) -> FaceTracker:
    """The tracker video analysis uses: unconfirmed detections dropped, and a lost track
    kept for about one second (at least two detection intervals)."""
    max_age = max(int(round(fps)), 2 * every * detect_every, 1)
    return FaceTracker(max_age=max_age, drop_unconfirmed=True)


@dataclass(frozen=True)
class Frame:
    """One analyzed frame.

    Attributes:
        index: the frame's index in the video (0-based, counting skipped frames).
        seconds: its time in the video.
        image: the frame, ``(H, W, 3)`` uint8 RGB.
        faces: the answers to show: each track's stable (aggregated) answer when
            tracking, else the frame's own.
        raw: the frame's own faces and answers (``track_id`` set when tracking; no age
            or gender columns on a frame where the tracker predicted the boxes).
        fresh: ``(len(raw),)`` bool, True where ``raw`` was estimated on this frame.
        detected: whether detection ran on this frame (else the tracker predicted).
        end: ``time.perf_counter()`` when its analysis was done.
    """

    index: int
    seconds: float
    image: NDArray[np.uint8]
    faces: Faces
    raw: Faces
    fresh: NDArray[np.bool_]
    detected: bool
    end: float


class TrackedFrames:
    """The analyzed frames of a video file, camera or stream, one :class:`Frame` each.

    Args:
        analyzer: the :class:`~agegender.analyzer.Analyzer` (detector and models).
        source: a video path, a camera index (``0``), a stream URL, or an opened
            :class:`~agegender.io.video.VideoSource` (its own ``step`` wins over ``every``).
        every: analyze every N-th frame (the others are decoded but skipped).
        detect_every: detect on every K-th analyzed frame; the tracker predicts the boxes
            in between. Needs ``track=True`` (else it is 1, with a warning).
        estimate_every: estimate a tracked face again every K-th analyzed frame, besides
            when its track is new or its detection quality improves (see
            :class:`~agegender.track.step.FrameStep`); 1 estimates every detection.
        track: track faces and aggregate their answers; False gives each frame's own.
        max_frames: stop after this many analyzed frames (None: until the source ends).
        tracker, aggregator: others than :func:`default_tracker` and
            ``TrackAggregator(fps=the source's fps)``.

    The source is opened here (``VideoError`` if it cannot be) and closed when the
    iteration ends, is abandoned (:meth:`close`, or leaving a ``with`` block), or fails.

    Attributes:
        video: the opened :class:`~agegender.io.video.VideoSource` (``fps``, sizes,
            ``frames_read``, ``ended_early``).
        step: the :class:`~agegender.track.step.FrameStep` (``timings``, ``detections``,
            ``estimates``).
        aggregator: the :class:`TrackAggregator` (None without tracking): its
            ``summary()`` is one answer per person.
        analyzed: frames yielded so far.
        read_seconds: seconds spent waiting for decoded frames.
        started: ``time.perf_counter()`` when the first frame was asked for (None before).
    """

    def __init__(
        self,
        analyzer: Analyzer,
        source: str | int | os.PathLike[str] | VideoSource,
        *,
        every: int = 1,
        detect_every: int = 1,
        estimate_every: int = DEFAULT_ESTIMATE_EVERY,
        track: bool = True,
        max_frames: int | None = None,
        tracker: FaceTracker | None = None,
        aggregator: TrackAggregator | None = None,
    ) -> None:
        _check(every, detect_every, estimate_every, max_frames)
        if not track and detect_every > 1:
            log.warning("detect_every=%d needs tracking; detecting on every frame", detect_every)
            detect_every = 1
        if isinstance(source, VideoSource):
            self.video, step = source, source.step
            if every not in (1, step):
                log.warning("every=%d ignored: the opened source yields every %d-th frame",
                            every, step)
        else:
            self.video, step = open_video(source, step=every), every
        #: analyzed frames per second of video
        self.fps = self.video.fps / step
        if track:
            tracker = tracker or default_tracker(self.video.fps, step, detect_every)
            aggregator = aggregator or TrackAggregator(fps=self.video.fps)
        else:
            tracker = aggregator = None
        self.aggregator = aggregator
        self.step = FrameStep(analyzer, tracker, aggregator,
                              estimate_every=estimate_every if track else 1)
        self.detect_every = detect_every
        self.max_frames = max_frames
        self.analyzed = 0
        self.read_seconds = 0.0
        self.started: float | None = None
        self._frames: Iterator[Frame] | None = None

    def __iter__(self) -> Iterator[Frame]:
        if self._frames is None:
            self._frames = self._run()
        return self._frames

    def _run(self) -> Iterator[Frame]:
        decoded = iter(self.video)
        try:
            while self.max_frames is None or self.analyzed < self.max_frames:
                t0 = time.perf_counter()
                item = next(decoded, None)
                t1 = time.perf_counter()
                self.read_seconds += t1 - t0
                if item is None:
                    return
                if self.started is None:
                    self.started = t0  # speed from the first frame on (not the opening)
                index, seconds, rgb = item
                detect = self.analyzed % self.detect_every == 0
                answer = self.step(rgb, index, seconds, detect=detect, since=t1)
                self.analyzed += 1
                yield Frame(index, seconds, rgb, answer.shown, answer.raw, answer.fresh,
                            detect, answer.end)
        finally:
            decoded.close()  # type: ignore[attr-defined]
            self.video.close()

    def close(self) -> None:
        """Stop: the decoding thread ends and the source is released."""
        if self._frames is not None:
            self._frames.close()  # type: ignore[attr-defined]
        self.video.close()

    def __enter__(self) -> TrackedFrames:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def track_video(
    analyzer: Analyzer,
    source: str | int | os.PathLike[str] | VideoSource,
    **options: Any,
) -> TrackedFrames:
    """The analyzed frames of a video, camera or stream: ``for frame in
    track_video(analyzer, "clip.mp4")``. The keywords are :class:`TrackedFrames`' (``every``,
    ``detect_every``, ``estimate_every``, ``track``, ``max_frames``, ``tracker``,
    ``aggregator``)."""
    return TrackedFrames(analyzer, source, **options)


def _check(every: int, detect_every: int, estimate_every: int, max_frames: int | None) -> None:
    if every < 1 or detect_every < 1:
        raise InputError(
            f"every and detect_every must be >= 1 frame, got every={every}, "
            f"detect_every={detect_every}"
        )
    if max_frames is not None and max_frames < 1:
        raise InputError(f"max_frames must be >= 1, got {max_frames}")
    if isinstance(estimate_every, bool) or not isinstance(estimate_every, int) or (
        estimate_every < 1
    ):
        raise InputError(f"estimate_every must be a whole number >= 1, got {estimate_every!r}")
