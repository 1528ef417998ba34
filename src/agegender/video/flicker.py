"""Flicker figures: how often a track's age group or gender label changes per minute.

:func:`flicker_rate` is the measure (label changes per track per minute of on-screen
time) and :func:`collect_labels` gathers each track's labels from a sequence of
``Faces``; :func:`flicker_report` computes the figures from the frame dicts
``on_frame`` received, and :class:`_LabelLog` keeps them as
:func:`~agegender.video.analyze_video` goes (``VideoSummary.flicker_tracked`` and
``flicker_raw``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..ages import ADIENCE_LABELS
from ..errors import InputError
from ..faces import Faces

__all__ = ["collect_labels", "flicker_rate", "flicker_report"]

_LABEL_KINDS = ("age_group", "gender")
LabelKind = Literal["age_group", "gender"]


def collect_labels(
    frames: Iterable[Faces], kind: LabelKind = "age_group"
) -> dict[int, list[str | None]]:
    """Per track id, the label it showed on each frame it appeared in (in order).

    ``kind`` is ``"age_group"`` (Adience group label) or ``"gender"``; a frame
    where the face has no such answer gives ``None``. Rows with ``track_id < 0``
    are skipped.
    """
    if kind not in ("age_group", "gender"):
        raise InputError(f"kind must be 'age_group' or 'gender', got {kind!r}")
    out: dict[int, list[str | None]] = {}
    for faces in frames:
        if faces.track_id is None:
            raise InputError("collect_labels needs Faces with track_id set")
        if kind == "age_group":
            g = faces.age_group
            labels = [None] * len(faces) if g is None else [ADIENCE_LABELS[int(k)] for k in g]
        else:
            gl = faces.gender_label
            labels = [None] * len(faces) if gl is None else list(gl)
        for tid, lab in zip(faces.track_id, labels, strict=True):
            if tid >= 0:
                out.setdefault(int(tid), []).append(lab)
    return out


def flicker_rate(
    labels_per_track_over_time: Mapping[int, Sequence[Hashable | None]]
    | Sequence[Sequence[Hashable | None]],
    fps: float,
) -> float:
    """Label changes per track per minute of on-screen time.

    Args:
        labels_per_track_over_time: for each track (a mapping from id, or a
            sequence), its label on each frame it appeared in, in order. ``None``
            entries (no answer) are skipped: a change is counted between
            consecutive non-None labels that differ.
        fps: frame rate; each entry counts ``1 / fps`` seconds of screen time.

    Returns:
        ``total changes / total on-screen minutes`` over all tracks (a pooled
        rate, so short tracks weigh by their length); 0.0 when there is no time.
    """
    if not fps > 0:
        raise InputError(f"fps must be > 0, got {fps}")
    seqs = (
        list(labels_per_track_over_time.values())
        if isinstance(labels_per_track_over_time, Mapping)
        else list(labels_per_track_over_time)
    )
    changes = 0
    n_frames = 0
    for seq in seqs:
        n_frames += len(seq)
        prev: Hashable | None = None
        for lab in seq:
            if lab is None:
                continue
            if prev is not None and lab != prev:
                changes += 1
            prev = lab
    minutes = n_frames / float(fps) / 60.0
    return changes / minutes if minutes > 0 else 0.0


class _LabelLog:
    """Each track's labels, frame by frame, as shown and as the model gave them.

    :func:`~agegender.video.analyze_video` adds every analyzed frame; :meth:`rates`
    gives ``VideoSummary.flicker_tracked`` and ``flicker_raw``.
    """

    def __init__(self) -> None:
        self.shown: dict[str, dict[int, list[Any]]] = {k: {} for k in _LABEL_KINDS}
        self.raw: dict[str, dict[int, list[Any]]] = {k: {} for k in _LABEL_KINDS}

    def add(self, shown: Faces, raw: Faces, fresh: NDArray[np.bool_]) -> None:
        """One frame: ``raw`` rows not ``fresh`` (not estimated on it) give no raw label."""
        for kind in _LABEL_KINDS:
            for tid, labels in collect_labels([shown], kind).items():  # type: ignore[arg-type]
                self.shown[kind].setdefault(tid, []).extend(labels)
            if raw.track_id is None:
                continue
            own = collect_labels([raw], kind)  # type: ignore[arg-type]
            for tid, new in zip(raw.track_id, fresh, strict=True):
                if tid >= 0:
                    self.raw[kind].setdefault(int(tid), []).append(
                        own[int(tid)][0] if new else None
                    )

    def rates(self, fps: float) -> tuple[dict[str, float], dict[str, float]]:
        """``(shown, raw)`` label changes per track per minute."""
        return _rates(self.shown, fps), _rates(self.raw, fps)


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
        changes per track per minute (:func:`flicker_rate`).
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
