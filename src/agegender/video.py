"""Video and live streams: track each face, one stable answer per person.

>>> from agegender import Analyzer
>>> from agegender.video import analyze_video
>>> summary = analyze_video(Analyzer(), "clip.mp4", out="clip.annotated.mp4")
>>> for t in summary.tracks:
...     print(t["track_id"], t["age"]["group"], t["gender"]["label"])
>>> summary.write("tracks.csv")            # or .json

How a frame is processed (see ``docs/video.md``):

1. **Read.** Frames are decoded in a background thread
   (:func:`agegender.io.video.open_video`); with ``every=N`` only every N-th frame
   is analyzed.
2. **Detect or predict.** Detection runs on every ``detect_every``-th analyzed
   frame. :class:`~agegender.track.FaceTracker` (Kalman motion + IoU association,
   ByteTrack-style) gives each face a ``track_id``; on the frames in between the
   tracker *predicts* each visible track's box instead of detecting.
3. **Estimate.** On detection frames, age and gender are estimated for all the
   tracked faces of the frame in one batch. On predicted frames there is no fresh
   detection to align a face chip on, so estimation is skipped and each track shows
   its aggregated answer: that is the answer shown anyway, and it makes
   ``detect_every=K`` about K times cheaper.
4. **Aggregate.** :class:`~agegender.track.TrackAggregator` combines each track's
   per-frame answers (quality-weighted, evidence-tempered) into the stable answer
   that is reported per frame, drawn on the output video and summarized per track.

With ``track=False`` every analyzed frame is detected and estimated on its own
(no ``track_id``, no per-track summary): the frame-by-frame baseline.

The function is built for a command line or a service: ``on_frame`` receives one
JSON-ready dict per analyzed frame (stream it as JSON Lines), and may return
``False`` to stop; the returned :class:`VideoSummary` writes the per-track table
as JSON or CSV.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .io.video import VideoSource, VideoWriter, open_video
from .track import FaceTracker, TrackAggregator, collect_labels, flicker_rate
from .types import Faces

if TYPE_CHECKING:
    from .pipeline import Analyzer

log = logging.getLogger(__name__)

__all__ = [
    "TRACK_CSV_COLUMNS",
    "FrameCallback",
    "VideoSummary",
    "analyze_video",
    "display_available",
    "flicker_report",
]

#: ``on_frame(frame_dict)``; returning ``False`` stops the analysis (None or True go on).
FrameCallback = Callable[[dict[str, Any]], "bool | None"]

#: Columns of :meth:`VideoSummary.write_csv`, one row per track.
TRACK_CSV_COLUMNS = [
    "track_id",
    "first_time",
    "last_time",
    "frames",
    "age_years",
    "age_low",
    "age_high",
    "age_group",
    "gender",
    "gender_probability",
]

_LABEL_KINDS = ("age_group", "gender")


# --------------------------------------------------------------------------- summary
@dataclass
class VideoSummary:
    """What :func:`analyze_video` returns: per-track answers, counts, speed and flicker.

    Attributes:
        source: the file path, ``camera N`` or the stream URL (password hidden).
        fps: frame rate of the source.
        width, height: frame size in pixels.
        frame_count: frames the file's header announces (None for live sources).
        frames_read: frames decoded (all of them, also those skipped by ``every``).
        frames_analyzed: frames analyzed (every ``every``-th frame read).
        detections: analyzed frames on which detection (and estimation) ran.
        seconds: wall-clock seconds from the first frame to the last.
        fps_processed: ``frames_analyzed / seconds``.
        tracked: whether tracking was on.
        tracks: :meth:`TrackAggregator.summary` (one dict per track; empty without
            tracking): ``track_id``, ``first_frame``, ``last_frame``, ``first_time``,
            ``last_time``, ``frames``, ``age`` {years, low, high, group, confidence,
            frames}, ``gender`` {label, probability, frames}.
        flicker_tracked: label changes per track per minute of the answers shown
            (aggregated), ``{"age_group": x, "gender": y}``; None without tracking.
        flicker_raw: the same for the model's frame-by-frame answers on the same
            tracks (frames without a fresh estimate are skipped); None without tracking.
        timings: seconds spent in ``read`` (waiting for decoded frames), ``detect``,
            ``track``, ``estimate``, ``aggregate`` and ``output`` (annotation, writing,
            display, ``on_frame``).
        detector: the detector's name.
        stopped: True when stopped before the end (``on_frame`` returned False, the
            ``q`` key in the window, or ``max_frames``).
    """

    source: str
    fps: float
    width: int
    height: int
    frame_count: int | None = None
    frames_read: int = 0
    frames_analyzed: int = 0
    detections: int = 0
    seconds: float = 0.0
    fps_processed: float = 0.0
    tracked: bool = True
    tracks: list[dict[str, Any]] = field(default_factory=list)
    flicker_tracked: dict[str, float] | None = None
    flicker_raw: dict[str, float] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    detector: str = ""
    stopped: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of everything above."""
        return {
            "source": self.source,
            "fps": round(self.fps, 3),
            "width": self.width,
            "height": self.height,
            "frame_count": self.frame_count,
            "frames_read": self.frames_read,
            "frames_analyzed": self.frames_analyzed,
            "detections": self.detections,
            "seconds": round(self.seconds, 3),
            "fps_processed": round(self.fps_processed, 2),
            "tracked": self.tracked,
            "detector": self.detector,
            "stopped": self.stopped,
            "flicker_tracked": self.flicker_tracked,
            "flicker_raw": self.flicker_raw,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "tracks": self.tracks,
        }

    def track_rows(self) -> list[dict[str, Any]]:
        """One flat dict per track with the :data:`TRACK_CSV_COLUMNS` keys."""
        rows = []
        for t in self.tracks:
            age, gender = t.get("age") or {}, t.get("gender") or {}
            rows.append(
                {
                    "track_id": t["track_id"],
                    "first_time": t.get("first_time"),
                    "last_time": t.get("last_time"),
                    "frames": t.get("frames"),
                    "age_years": age.get("years"),
                    "age_low": age.get("low"),
                    "age_high": age.get("high"),
                    "age_group": age.get("group"),
                    "gender": gender.get("label"),
                    "gender_probability": gender.get("probability"),
                }
            )
        return rows

    def write_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` as an indented JSON file."""
        p = _writable(path)
        p.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")

    def write_csv(self, path: str | os.PathLike[str]) -> None:
        """Write one CSV row per track (:data:`TRACK_CSV_COLUMNS`); empty cells for unknowns."""
        p = _writable(path)
        with open(p, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=TRACK_CSV_COLUMNS)
            w.writeheader()
            for row in self.track_rows():
                w.writerow({k: "" if v is None else v for k, v in row.items()})

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the tracks as CSV (``.csv``) or JSON (``.json``), by the file's extension."""
        ext = Path(path).suffix.lower()
        if ext == ".csv":
            self.write_csv(path)
        elif ext == ".json":
            self.write_json(path)
        else:
            raise InputError(f"cannot write tracks to {path}: the name must end in .json or .csv")


def _writable(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.parent.is_dir():
        raise InputError(f"cannot write {p}: folder {p.parent} does not exist")
    return p


# --------------------------------------------------------------------------- display
def display_available() -> bool:
    """Whether a window can be shown: a display on Linux and an OpenCV built with a GUI."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False
    import cv2

    info = cv2.getBuildInformation()
    gui = [ln for ln in info.splitlines() if ln.strip().startswith("GUI:")]
    return not (gui and gui[0].split(":", 1)[1].strip().upper() in ("NONE", "NO"))


class _Window:
    """An OpenCV window that turns itself off (with one warning) where it cannot work."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.enabled = display_available()
        if not self.enabled:
            log.warning(
                "--show: no display here (no DISPLAY/WAYLAND_DISPLAY, or an OpenCV without "
                "GUI such as opencv-python-headless); analyzing without showing the video"
            )

    def show(self, rgb: Any) -> bool:
        """Show a frame; False when the user asked to stop (q or Esc, or closed the window)."""
        if not self.enabled:
            return True
        import cv2

        try:
            cv2.imshow(self.title, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            key = cv2.waitKey(1) & 0xFF
            if key in (ord("q"), 27):
                return False
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error as e:
            log.warning("--show: cannot open a window (%s); going on without it", e)
            self.enabled = False
            return True

    def close(self) -> None:
        if self.enabled:
            import cv2

            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)
            except cv2.error:  # pragma: no cover
                pass


# --------------------------------------------------------------------------- flicker
def _append_labels(store: dict[str, dict[int, list[Any]]], faces: Faces) -> None:
    for kind in _LABEL_KINDS:
        for tid, labels in collect_labels([faces], kind).items():  # type: ignore[arg-type]
            store[kind].setdefault(tid, []).extend(labels)


def _rates(store: Mapping[str, Mapping[int, list[Any]]], fps: float) -> dict[str, float]:
    return {kind: round(flicker_rate(store[kind], fps), 3) for kind in _LABEL_KINDS}


def _face_label(part: Any, key: str) -> Any:
    return part.get(key) if isinstance(part, Mapping) else None


def flicker_report(
    frames: Iterable[Mapping[str, Any]], fps: float | None = None
) -> dict[str, Any]:
    """Label changes per track per minute, from the frame dicts of :func:`analyze_video`.

    Args:
        frames: the dicts ``on_frame`` received, in order. Shown labels are read from
            each face's ``age.group`` and ``gender.label``; frame-by-frame labels from
            its ``raw`` entry, present when ``analyze_video(..., include_raw=True)``.
        fps: analyzed frames per second of video; by default estimated from the
            frames' ``time`` (first to last).

    Returns:
        ``{"tracked": {"age_group": r, "gender": r}, "raw": {...} or None,
        "tracks": n, "minutes": on-screen minutes summed over tracks}``; rates are
        changes per track per minute (:func:`agegender.track.flicker_rate`).
    """
    shown: dict[str, dict[int, list[Any]]] = {k: {} for k in _LABEL_KINDS}
    raw: dict[str, dict[int, list[Any]]] = {k: {} for k in _LABEL_KINDS}
    have_raw = False
    times: list[float] = []
    for fr in frames:
        if fr.get("time") is not None:
            times.append(float(fr["time"]))
        for face in fr.get("faces", []):
            tid = face.get("track_id")
            if tid is None or tid < 0:
                continue
            shown["age_group"].setdefault(tid, []).append(_face_label(face.get("age"), "group"))
            shown["gender"].setdefault(tid, []).append(_face_label(face.get("gender"), "label"))
            if "raw" in face:
                have_raw = True
                r = face["raw"] or {}
                raw["age_group"].setdefault(tid, []).append(_face_label(r.get("age"), "group"))
                raw["gender"].setdefault(tid, []).append(_face_label(r.get("gender"), "label"))
    if fps is None:
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        fps = (len(times) - 1) / span if span > 0 else 1.0
    n_frames = sum(len(v) for v in shown["age_group"].values())
    return {
        "tracked": _rates(shown, fps),
        "raw": _rates(raw, fps) if have_raw else None,
        "tracks": len(shown["age_group"]),
        "minutes": round(n_frames / fps / 60.0, 4),
    }


# --------------------------------------------------------------------------- analysis
def _raw_dicts(raw: Faces) -> list[dict[str, Any] | None]:
    """Per face, the frame's own (model) age and gender, or None on predicted frames."""
    if raw.age_years is None and raw.gender_p is None:
        return [None] * len(raw)
    out: list[dict[str, Any] | None] = []
    for d in raw.to_dict():
        out.append({k: d[k] for k in ("age", "gender") if k in d})
    return out


def default_tracker(fps: float, every: int = 1, detect_every: int = 1) -> FaceTracker:
    """The tracker :func:`analyze_video` uses: unconfirmed detections dropped, and a
    lost track kept for about one second (at least two detection intervals)."""
    max_age = max(int(round(fps)), 2 * every * detect_every, 1)
    return FaceTracker(max_age=max_age, drop_unconfirmed=True)


def analyze_video(
    analyzer: Analyzer,
    source: str | int | os.PathLike[str] | VideoSource,
    *,
    every: int = 1,
    detect_every: int = 1,
    track: bool = True,
    out: str | os.PathLike[str] | None = None,
    show: bool = False,
    on_frame: FrameCallback | None = None,
    max_frames: int | None = None,
    include_raw: bool = False,
    tracker: FaceTracker | None = None,
    aggregator: TrackAggregator | None = None,
    stop_on_interrupt: bool = False,
) -> VideoSummary:
    """Analyze a video file, camera or stream; one stable answer per tracked person.

    Args:
        analyzer: the :class:`~agegender.pipeline.Analyzer` (detector and models).
        source: a video path, a camera index (``0``), a stream URL, or an opened
            :class:`~agegender.io.video.VideoSource`.
        every: analyze every N-th frame (the others are decoded but skipped).
        detect_every: detect (and estimate) on every K-th analyzed frame; the
            tracker predicts the boxes in between, which show each track's
            aggregated answer (no estimation). Needs ``track=True``.
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
        max_frames: stop after this many analyzed frames (e.g. for a camera).
        include_raw: add the ``raw`` entry above (for :func:`flicker_report`).
        tracker, aggregator: to use other settings than :func:`default_tracker`
            and ``TrackAggregator(fps=source fps)``.
        stop_on_interrupt: treat Ctrl+C (KeyboardInterrupt) as a request to stop:
            the analysis ends as if ``on_frame`` returned False and the summary is
            returned (for cameras and streams, which have no end). Otherwise the
            interrupt propagates (after the output video is finalized).

    Returns:
        A :class:`VideoSummary`.

    Raises:
        VideoError: the source cannot be opened or decoded, or ``out`` cannot be written.
        InputError: bad arguments.
    """
    if every < 1 or detect_every < 1:
        raise InputError(
            f"every and detect_every must be >= 1 frame, got every={every}, "
            f"detect_every={detect_every}"
        )
    if max_frames is not None and max_frames < 1:
        raise InputError(f"max_frames must be >= 1, got {max_frames}")
    if not track and detect_every > 1:
        log.warning("detect_every=%d needs tracking; detecting on every frame", detect_every)
        detect_every = 1

    if isinstance(source, VideoSource):
        video, step = source, source.step
        if every != 1 and every != step:
            log.warning("every=%d ignored: the opened source yields every %d-th frame", every, step)
    else:
        video, step = open_video(source, step=every), every
    eff_fps = video.fps / step
    if track:
        tracker = tracker or default_tracker(video.fps, step, detect_every)
        aggregator = aggregator or TrackAggregator(fps=video.fps)
    else:
        tracker = aggregator = None
    writer: VideoWriter | None = None
    window: _Window | None = None
    timings = dict.fromkeys(("read", "detect", "track", "estimate", "aggregate", "output"), 0.0)
    shown_labels: dict[str, dict[int, list[Any]]] = {k: {} for k in _LABEL_KINDS}
    raw_labels: dict[str, dict[int, list[Any]]] = {k: {} for k in _LABEL_KINDS}
    summary = VideoSummary(
        source=video.name,
        fps=video.fps,
        width=video.width,
        height=video.height,
        frame_count=video.frame_count,
        tracked=track,
        detector=getattr(analyzer.detector, "name", type(analyzer.detector).__name__),
    )
    need_image = out is not None or show
    t_start = time.perf_counter()
    frames = iter(video)
    k = 0
    try:
        if out is not None:
            writer = VideoWriter(out, fps=eff_fps, size=(video.width, video.height))
        if show:
            window = _Window(f"agegender - {video.name}")
        while True:
            t0 = time.perf_counter()
            item = next(frames, None)
            t1 = time.perf_counter()
            timings["read"] += t1 - t0
            if item is None:
                break
            index, seconds, rgb = item
            if k == 0:
                t_start = t0  # speed from the first frame on (not the opening)
            detect_now = k % detect_every == 0
            if detect_now:
                faces = analyzer.detector.detect(rgb)
                t2 = time.perf_counter()
                timings["detect"] += t2 - t1
                if tracker is not None:
                    faces = tracker.update(faces, index)
                t3 = time.perf_counter()
                timings["track"] += t3 - t2
                raw = analyzer.estimate([rgb], [faces])[0]
                t4 = time.perf_counter()
                timings["estimate"] += t4 - t3
                summary.detections += 1
            else:
                assert tracker is not None
                raw = tracker.predict(index)
                t4 = time.perf_counter()
                timings["track"] += t4 - t1
            if aggregator is not None:
                shown = aggregator.update(raw, index, seconds)
                _append_labels(shown_labels, shown)
                _append_labels(raw_labels, raw)
            else:
                shown = raw
            t5 = time.perf_counter()
            timings["aggregate"] += t5 - t4
            k += 1

            go_on = True
            if on_frame is not None:
                faces_d = shown.to_dict()
                if include_raw:
                    for fd, rd in zip(faces_d, _raw_dicts(raw), strict=True):
                        fd["raw"] = rd
                go_on = on_frame(
                    {"frame": int(index), "time": round(float(seconds), 3), "faces": faces_d}
                ) is not False
            if need_image:
                from .annotation import annotate

                picture = annotate(rgb, shown, channels="RGB")
                if writer is not None:
                    writer.write(picture)
                if window is not None and not window.show(picture):
                    go_on = False
            timings["output"] += time.perf_counter() - t5
            if not go_on or (max_frames is not None and k >= max_frames):
                summary.stopped = True
                break
    except KeyboardInterrupt:
        if not stop_on_interrupt:
            raise
        log.info("%s: interrupted; stopping", video.name)
        summary.stopped = True
    finally:
        frames.close()  # type: ignore[attr-defined]
        video.close()
        if writer is not None:
            writer.close()
        if window is not None:
            window.close()

    summary.seconds = time.perf_counter() - t_start if k else 0.0
    summary.frames_read = video.frames_read
    summary.frames_analyzed = k
    summary.fps_processed = k / summary.seconds if summary.seconds > 0 else 0.0
    summary.timings = timings
    if aggregator is not None:
        summary.tracks = aggregator.summary()
        summary.flicker_tracked = _rates(shown_labels, eff_fps)
        summary.flicker_raw = _rates(raw_labels, eff_fps)
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
    return summary
