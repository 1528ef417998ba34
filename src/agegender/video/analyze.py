"""The driver: :func:`analyze_video` reads the frames, analyzes them and writes the outputs.

It iterates :class:`~agegender.track.frames.TrackedFrames` (``agegender.track_video``:
one :class:`~agegender.track.step.FrameStep` per frame, the loop the server's live stream
uses too), sends each frame's dict to ``on_frame``, writes the annotated frame and shows
it; at the end it fills in the :class:`~agegender.video.summary.VideoSummary`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..faces import check_min_confidence
from ..io.video import VideoSource, VideoWriter
from ..track import FaceTracker, TrackAggregator
from ..track.frames import DEFAULT_ESTIMATE_EVERY, TrackedFrames, default_tracker
from .display import _Window
from .flicker import _LabelLog
from .frames import _TIMING_KEYS, _frame_dict
from .summary import VideoSummary

if TYPE_CHECKING:
    from ..analyzer import Analyzer

__all__ = ["DEFAULT_ESTIMATE_EVERY", "FrameCallback", "analyze_video", "default_tracker"]

# The name the single-module ``agegender.video`` logged under, kept for --debug output.
log = logging.getLogger("agegender.video")

#: ``on_frame(frame_dict)``; returning ``False`` stops the analysis (None or True go on).
FrameCallback = Callable[[dict[str, Any]], "bool | None"]

def analyze_video(
    analyzer: Analyzer,
    source: str | int | os.PathLike[str] | VideoSource,
    *,
    every: int = 1,
    detect_every: int = 1,
    estimate_every: int = DEFAULT_ESTIMATE_EVERY,
    track: bool = True,
    out: str | os.PathLike[str] | None = None,
    show: bool = False,
    on_frame: FrameCallback | None = None,
    max_frames: int | None = None,
    include_raw: bool = False,
    tracker: FaceTracker | None = None,
    aggregator: TrackAggregator | None = None,
    stop_on_interrupt: bool = False,
    gender_min_confidence: float | None = None,
) -> VideoSummary:
    """Analyze a video file, camera or stream; one stable answer per tracked person.

    Args:
        analyzer: the :class:`~agegender.analyzer.Analyzer` (detector and models).
        source: a video path, a camera index (``0``), a stream URL, or an opened
            :class:`~agegender.io.video.VideoSource`.
        every: analyze every N-th frame (the others are decoded but skipped).
        detect_every: detect (and estimate) on every K-th analyzed frame; the
            tracker predicts the boxes in between, which show each track's
            aggregated answer (no estimation). Needs ``track=True``.
        estimate_every: estimate a tracked face again every K-th analyzed frame (on the
            next detection frame), besides when its track is new or its detection
            quality improves (:class:`~agegender.track.step.FrameStep`); in between it
            shows its track's aggregate. 1 estimates every detection (the answers of
            earlier versions). Ignored without tracking (every face is estimated).
        track: track faces and aggregate their answers; False gives frame-by-frame
            answers without track ids.
        out: write an annotated video here (``.mp4``), at ``fps / every`` frames per
            second, each face labelled with its track's current stable answer.
        show: show the annotated video in a window (q or Esc stops); skipped with a
            warning where there is no display.
        on_frame: called with each analyzed frame's JSON-ready dict
            ``{"frame": index, "time": seconds, "faces": [...]}`` (each face as
            :meth:`Faces.to_dict` gives it, with ``track_id`` when tracking; with
            ``include_raw`` also ``raw``: the frame's own ``age``/``gender``, or
            None on predicted frames). Returning ``False`` stops.
        gender_min_confidence: 0.5..1, below which a perceived gender is shown undetermined
            (frames, annotated video, track summary); ``None``: the Analyzer's.
        max_frames: stop after this many analyzed frames (e.g. for a camera).
        include_raw: add the ``raw`` entry above (for :func:`flicker_report`).
        tracker, aggregator: to use other settings than :func:`default_tracker`
            and ``TrackAggregator(fps=source fps)``.
        stop_on_interrupt: treat Ctrl+C (KeyboardInterrupt) as a request to stop:
            the analysis ends as if ``on_frame`` returned False and the summary is
            returned (for cameras and streams, which have no end). Otherwise the
            interrupt propagates (after the output video is finalized).

    Returns:
        A :class:`VideoSummary`; its ``error`` is set (and logged as a warning) when a
        file ended before the frame count its header announces.

    Raises:
        VideoError: the source cannot be opened or decoded, or ``out`` cannot be written.
        InputError: bad arguments.
    """
    frames = TrackedFrames(analyzer, source, every=every, detect_every=detect_every,
                           estimate_every=estimate_every, track=track, max_frames=max_frames,
                           tracker=tracker, aggregator=aggregator)
    video, aggregator = frames.video, frames.aggregator
    writer: VideoWriter | None = None
    window: _Window | None = None
    labels = _LabelLog() if aggregator is not None else None
    timings = dict.fromkeys(_TIMING_KEYS, 0.0)
    summary = VideoSummary(
        source=video.name,
        fps=video.fps,
        width=video.width,
        height=video.height,
        frame_count=video.frame_count,
        tracked=track,
        detector=analyzer.describe()["detector"]["name"],
    )
    need_image = out is not None or show
    threshold = check_min_confidence(
        analyzer.gender_min_confidence if gender_min_confidence is None else gender_min_confidence
    )
    finished = False  # the loop ended by itself, or by a handled interrupt
    try:
        if out is not None:
            writer = VideoWriter(out, fps=frames.fps, size=(video.width, video.height))
        if show:
            window = _Window(f"agegender - {video.name}")
        for frame in frames:
            if labels is not None:
                labels.add(frame.faces, frame.raw, frame.fresh)
            t5 = time.perf_counter()
            timings["aggregate"] += t5 - frame.end  # the flicker bookkeeping
            go_on = True
            if on_frame is not None:
                frame_d = _frame_dict(
                    frame.index, frame.seconds, frame.faces, frame.raw, frame.fresh,
                    include_raw=include_raw, gender_min_confidence=threshold,
                )
                go_on = on_frame(frame_d) is not False
            if need_image:
                from ..annotation import annotate

                picture = annotate(frame.image, frame.faces, channels="RGB",
                                   gender_min_confidence=threshold)
                if writer is not None:
                    writer.write(picture)
                if window is not None and not window.show(picture):
                    go_on = False
            timings["output"] += time.perf_counter() - t5
            if not go_on or (max_frames is not None and frames.analyzed >= max_frames):
                summary.stopped = True
                break
        finished = True
    except KeyboardInterrupt:
        if not stop_on_interrupt:
            raise
        log.info("%s: interrupted; stopping", video.name)
        summary.stopped = finished = True
    finally:
        frames.close()
        try:
            if writer is not None:  # checked whole unless an error is on its way
                writer.close(check=finished)
        finally:
            if window is not None:
                window.close()

    k, frame_step = frames.analyzed, frames.step
    timings["read"] = frames.read_seconds
    t_start = frames.started if frames.started is not None else time.perf_counter()
    summary.seconds = time.perf_counter() - t_start if k else 0.0
    summary.frames_read = video.frames_read
    summary.frames_analyzed = k
    summary.detections = frame_step.detections
    summary.estimates = frame_step.estimates
    summary.fps_processed = k / summary.seconds if summary.seconds > 0 else 0.0
    for stage, spent in frame_step.timings.items():
        timings[stage] += spent
    summary.timings = timings
    if aggregator is not None and labels is not None:
        summary.tracks = aggregator.summary(gender_min_confidence=threshold)
        summary.flicker_tracked, summary.flicker_raw = labels.rates(frames.fps)
    log.info(
        "%s: %d frames analyzed (%d detected) in %.1f s, %.1f frames/s, %d tracks",
        video.name,
        k,
        summary.detections,
        summary.seconds,
        summary.fps_processed,
        len(summary.tracks),
    )
    if summary.stopped:
        log.info("%s: stopped before the end", video.name)
    summary.error = getattr(video, "ended_early", None)
    if summary.error:
        log.warning("%s", summary.error)
    return summary
