"""Flicker figures: how often a track's age group or gender label changes per minute.

:func:`flicker_report` computes them from the frame dicts ``on_frame`` received;
the helpers here also serve :func:`~agegender.video.analyze_video`, which keeps the
same figures as it goes (``VideoSummary.flicker_tracked`` and ``flicker_raw``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..faces import Faces
from ..track import collect_labels, flicker_rate

__all__ = ["flicker_report"]

_LABEL_KINDS = ("age_group", "gender")


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
