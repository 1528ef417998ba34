"""The per-track result of :func:`~agegender.video.analyze_video`: :class:`VideoSummary`.

It holds the counts, speed and flicker figures of one analysis and one aggregated
answer per track, and writes the per-track table as JSON (:meth:`VideoSummary.write_json`)
or CSV (:meth:`VideoSummary.write_csv`, columns :data:`TRACK_CSV_COLUMNS`).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = ["TRACK_CSV_COLUMNS", "VideoSummary"]

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
        detections: analyzed frames on which detection ran.
        estimates: faces estimated (each face counts once per estimation; with
            ``estimate_every`` > 1 a tracked face is not estimated on every detection).
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
        error: None, or why this video counts as failed although frames were analyzed:
            it ended before the frame count its header announces (truncated or damaged;
            :attr:`~agegender.io.video.VideoSource.ended_early`). The command line exits 1.
    """

    source: str
    fps: float
    width: int
    height: int
    frame_count: int | None = None
    frames_read: int = 0
    frames_analyzed: int = 0
    detections: int = 0
    estimates: int = 0
    seconds: float = 0.0
    fps_processed: float = 0.0
    tracked: bool = True
    tracks: list[dict[str, Any]] = field(default_factory=list)
    flicker_tracked: dict[str, float] | None = None
    flicker_raw: dict[str, float] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    detector: str = ""
    stopped: bool = False
    error: str | None = None

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
            "estimates": self.estimates,
            "seconds": round(self.seconds, 3),
            "fps_processed": round(self.fps_processed, 2),
            "tracked": self.tracked,
            "detector": self.detector,
            "stopped": self.stopped,
            "error": self.error,
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
