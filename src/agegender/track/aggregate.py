"""Stable per-person answers: accumulate each track's age and gender evidence over frames.

Frame-by-frame estimates of one face jitter (pose, blur, expression), so labels
drawn on a video flicker. :class:`TrackAggregator` keeps, per ``track_id``, a
running, quality-weighted combination of the per-frame answers and returns it in
place of the frame's own, so a person keeps one label that becomes more
confident as evidence accumulates.

**Weights.** Each frame's evidence is weighted by ``q = min(short_side /
quality_px, 1) * score``: small faces (below about 80 px on the short side) and
doubtful detections count less; above ``quality_px`` size stops mattering.

**Age: a tempered product of experts.** The aggregated distribution is::

    log p(a) = gamma(W) * sum_t w_t log p~_t(a) / W  + const,
    p~_t = (1 - eps) p_t + eps / 101,    W = sum_t w_t,
    gamma(W) = min(sqrt(W), max_sharpening)

i.e. the weighted geometric mean of the frames' distributions (the ages that all
frames find plausible), sharpened by the evidence. Why this rather than a
weighted mixture (arithmetic mean):

* *Stable labels.* A mixture of frames that alternate between two groups stays
  bimodal, with the group probabilities near the vote share, so its argmax sits
  near a tie and small weight changes flip it. The geometric mean is unimodal
  for unimodal frames and lands on the consensus age (for Gaussian-like frames,
  the weighted mean of their peaks) with its mass on one side of a group
  boundary, and every new frame moves it by only ``w_t / W``.
* *Confidence that grows with evidence.* The exponent ``gamma`` sharpens the
  result as weight accumulates, as a posterior does; a mixture never gets more
  confident than its typical frame. One full-quality frame (``W = 1``) gives
  back exactly that frame's distribution; weak evidence (``W < 1``) gives a
  flatter one.
* *Bounded overconfidence.* An untempered product (``gamma = W``) treats
  frames as independent, but consecutive frames of a video are strongly
  correlated, and it would collapse to a spike within a second of video. The
  square root (``n`` correlated frames count as about ``sqrt(n)`` independent
  ones) and the cap ``max_sharpening`` keep the interval honest; the floor
  ``eps`` keeps one overconfident frame from vetoing an age outright.

**Gender: accumulated log-odds.** Each frame gives ``l_t = logit(p_male)``
clipped to ``+-logit_clip`` (so no single frame dominates); the aggregate is
``L = gamma(W) * sum_t w_t l_t / W`` (same tempering as age), reported as
``sigmoid(L)``. Its confidence grows with consistent frames, up to
``sigmoid(logit_clip * max_sharpening)``.

The flicker figures that compare frame-by-frame labels with aggregated ones are
in :mod:`agegender.video.flicker`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..ages import (
    ADIENCE_LABELS,
    N_AGE_BINS,
    age_quantiles,
    expected_age,
    group_probabilities,
    nearest_group,
)
from ..errors import InputError
from ..faces import INTERVAL_QUANTILES, Faces, check_min_confidence, gender_answer

log = logging.getLogger(__name__)

__all__ = ["TrackAggregator", "face_quality"]


def face_quality(
    boxes: NDArray[np.floating], scores: NDArray[np.floating], quality_px: float = 80.0
) -> NDArray[np.float64]:
    """Evidence weight of each face: ``min(short_side / quality_px, 1) * clip(score, 0, 1)``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    short = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    size_q = np.clip(short / float(quality_px), 0.0, 1.0)
    return size_q * np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)


@dataclass
class _TrackEvidence:
    """What one track has accumulated."""

    first_frame: int
    last_frame: int
    first_time: float | None
    last_time: float | None
    frames: int = 0
    age_weight: float = 0.0
    age_frames: int = 0
    age_log_sum: NDArray[np.float64] | None = None  # (101,) sum_t w_t log p~_t
    gender_weight: float = 0.0
    gender_frames: int = 0
    gender_logit_sum: float = 0.0
    group: int | None = None  # the Adience group shown, held with hysteresis


def _held_group(current: int | None, years: float, margin: float) -> int:
    """The group to show: the nearest group to ``years``, but a shown group only gives
    way once ``years`` is ``margin`` years inside the new group's side of the boundary."""
    cand = int(nearest_group(years)[0])
    if current is None or cand == current:
        return cand
    inside = int(nearest_group(years - margin)[0]) == int(nearest_group(years + margin)[0]) == cand
    return cand if inside else current


class TrackAggregator:
    """Per-track running age and gender answers (see the module docstring for the method).

    Args:
        fps: frames per second, to turn frame indices into seconds in
            :meth:`summary` when :meth:`update` gets no timestamp.
        quality_px: short box side (pixels) at which a face counts fully.
        max_sharpening: cap of the evidence exponent ``gamma``.
        eps: uniform floor mixed into each frame's age distribution.
        logit_clip: per-frame bound on the gender log-odds.
        group_margin: years an aggregated age must move past a group boundary before
            the group shown for a track changes (hysteresis: no flicker at a boundary).
    """

    def __init__(
        self,
        *,
        fps: float | None = None,
        quality_px: float = 80.0,
        max_sharpening: float = 3.0,
        eps: float = 1e-3,
        logit_clip: float = 3.0,
        group_margin: float = 1.0,
    ) -> None:
        if fps is not None and not fps > 0:
            raise InputError(f"fps must be > 0, got {fps}")
        if not quality_px > 0:
            raise InputError(f"quality_px must be > 0, got {quality_px}")
        if not max_sharpening >= 1.0:
            raise InputError(f"max_sharpening must be >= 1, got {max_sharpening}")
        if not 0.0 < eps < 1.0:
            raise InputError(f"eps must be within (0, 1), got {eps}")
        if not logit_clip > 0:
            raise InputError(f"logit_clip must be > 0, got {logit_clip}")
        self.fps = None if fps is None else float(fps)
        self.quality_px = float(quality_px)
        self.max_sharpening = float(max_sharpening)
        self.eps = float(eps)
        self.logit_clip = float(logit_clip)
        self.group_margin = float(group_margin)
        self.reset()

    def reset(self) -> None:
        """Forget every track."""
        self._tracks: dict[int, _TrackEvidence] = {}
        self._last_frame: int | None = None

    @property
    def track_ids(self) -> list[int]:
        """Ids of the tracks seen so far, ascending."""
        return sorted(self._tracks)

    # -------------------------------------------------------------- combine
    def _gamma(self, weight: float) -> float:
        return min(math.sqrt(max(weight, 0.0)), self.max_sharpening)

    def _age_dist(self, ev: _TrackEvidence) -> NDArray[np.float64] | None:
        if ev.age_log_sum is None or ev.age_weight <= 0:
            return None
        logp = self._gamma(ev.age_weight) * ev.age_log_sum / ev.age_weight
        p = np.exp(logp - logp.max())
        return p / p.sum()

    def _gender_p(self, ev: _TrackEvidence) -> float | None:
        if ev.gender_weight <= 0:
            return None
        logit = self._gamma(ev.gender_weight) * ev.gender_logit_sum / ev.gender_weight
        return 1.0 / (1.0 + math.exp(-logit))

    # -------------------------------------------------------------- update
    def update(
        self,
        faces: Faces,
        frame_index: int | None = None,
        timestamp: float | None = None,
        *,
        evidence: NDArray[np.bool_] | None = None,
    ) -> Faces:
        """Add one frame's evidence and return a new ``Faces`` with the tracks' answers.

        Args:
            faces: faces with ``track_id`` set (rows with ``track_id < 0`` add no
                evidence and keep their own answers). Rows without age or gender
                (e.g. from :meth:`FaceTracker.predict`) add nothing to that
                column but still get the track's aggregate.
            frame_index: index of this frame; defaults to the previous one + 1
                (0 for the first call).
            timestamp: time of the frame in seconds; defaults to
                ``frame_index / fps`` when ``fps`` was given.
            evidence: ``(N,)`` bool, False for rows whose answers are not new (a
                track's earlier estimate, repeated): they add no evidence but get
                their track's aggregate. Default: every row is evidence.

        Returns:
            A new ``Faces`` (``faces`` is not modified) whose age columns
            (``age_dist``, ``age_years``, ``age_low``, ``age_high``) and
            ``gender_p`` hold each tracked face's aggregated answer. A column
            absent from ``faces`` is only added when every row has an aggregate.
        """
        if faces.track_id is None:
            raise InputError("TrackAggregator.update needs Faces with track_id set (run a tracker)")
        if frame_index is None:
            frame_index = 0 if self._last_frame is None else self._last_frame + 1
        frame_index = int(frame_index)
        self._last_frame = frame_index
        if timestamp is None and self.fps is not None:
            timestamp = frame_index / self.fps

        tids = faces.track_id
        weights = face_quality(faces.boxes, faces.scores, self.quality_px)
        if evidence is not None:
            if np.shape(evidence) != (len(faces),):
                raise InputError(
                    f"evidence must have one entry per face ({len(faces)}), "
                    f"got shape {np.shape(evidence)}"
                )
            weights = np.where(np.asarray(evidence, dtype=bool), weights, 0.0)
        for i, tid in enumerate(int(t) for t in tids):
            if tid < 0:
                continue
            ev = self._tracks.get(tid)
            if ev is None:
                ev = self._tracks[tid] = _TrackEvidence(
                    first_frame=frame_index,
                    last_frame=frame_index,
                    first_time=timestamp,
                    last_time=timestamp,
                )
            ev.last_frame, ev.last_time = frame_index, timestamp
            ev.frames += 1
            w = float(weights[i])
            if faces.age_dist is not None and w > 0 and np.all(np.isfinite(faces.age_dist[i])):
                d = faces.age_dist[i].astype(np.float64)
                d = d / max(d.sum(), 1e-12)
                logp = np.log((1.0 - self.eps) * d + self.eps / N_AGE_BINS)
                ev.age_log_sum = w * logp if ev.age_log_sum is None else ev.age_log_sum + w * logp
                ev.age_weight += w
                ev.age_frames += 1
            if faces.gender_p is not None and w > 0:
                p = float(np.clip(faces.gender_p[i], 1e-6, 1 - 1e-6))
                logit = float(np.clip(math.log(p / (1 - p)), -self.logit_clip, self.logit_clip))
                ev.gender_logit_sum += w * logit
                ev.gender_weight += w
                ev.gender_frames += 1
        return self._answers(faces)

    def _answers(self, faces: Faces) -> Faces:
        """``faces`` with each tracked row's age and gender replaced by its aggregate."""
        n = len(faces)
        tids = faces.track_id
        assert tids is not None
        evs = [self._tracks.get(int(t)) if t >= 0 else None for t in tids]
        dists = [None if ev is None else self._age_dist(ev) for ev in evs]
        genders = [None if ev is None else self._gender_p(ev) for ev in evs]
        out = faces

        have_age = np.array([d is not None for d in dists], dtype=bool)
        if n and have_age.any() and (faces.age_dist is not None or have_age.all()):
            dist = (
                faces.age_dist.astype(np.float32)
                if faces.age_dist is not None
                else np.zeros((n, N_AGE_BINS), np.float32)
            )
            dist = dist.copy()
            for i, d in enumerate(dists):
                if d is not None:
                    dist[i] = d
            aged = faces.with_age(dist)  # years, low, high from the aggregated distributions
            years = aged.age_years
            if faces.age_years is not None:  # rows without aggregate keep the model's years
                assert years is not None
                years = np.where(have_age, years, faces.age_years).astype(np.float32)
            assert years is not None  # with_age() always sets them
            groups = nearest_group(years)
            for i, ev in enumerate(evs):
                if ev is not None and have_age[i]:
                    ev.group = _held_group(ev.group, float(years[i]), self.group_margin)
                    groups[i] = ev.group
            out = out.with_columns(
                age_dist=aged.age_dist,
                age_years=years,
                age_low=aged.age_low,
                age_high=aged.age_high,
                age_group=groups,
            )
        elif n and have_age.any():
            log.debug("age columns left empty: some rows have no aggregate and no own age")

        have_g = np.array([g is not None for g in genders], dtype=bool)
        if n and have_g.any() and (faces.gender_p is not None or have_g.all()):
            gp = (
                faces.gender_p.astype(np.float32).copy()
                if faces.gender_p is not None
                else np.zeros(n, np.float32)
            )
            for i, g in enumerate(genders):
                if g is not None:
                    gp[i] = g
            out = out.with_gender(gp)
        return out

    # -------------------------------------------------------------- report
    def summary(self, *, gender_min_confidence: float | None = None) -> list[dict[str, Any]]:
        """One JSON-ready dict per track, ascending by id.

        Keys: ``track_id``, ``first_frame``, ``last_frame``, ``first_time``,
        ``last_time`` (seconds, or None without fps/timestamps), ``frames``
        (frames the track appeared in), ``age`` (``years``, ``low``, ``high``
        (10th..90th percentile), ``group``, ``confidence`` = probability of the
        group, ``frames`` with age evidence; None without evidence) and ``gender``
        (``label``, ``probability`` of that label, ``frames``; None without evidence).
        Below ``gender_min_confidence`` the gender's ``label`` is None and
        ``undetermined`` True, as in :meth:`Faces.to_dict`.
        """
        threshold = check_min_confidence(gender_min_confidence)
        out: list[dict[str, Any]] = []
        for tid in sorted(self._tracks):
            ev = self._tracks[tid]
            rec: dict[str, Any] = {
                "track_id": tid,
                "first_frame": ev.first_frame,
                "last_frame": ev.last_frame,
                "first_time": None if ev.first_time is None else round(ev.first_time, 3),
                "last_time": None if ev.last_time is None else round(ev.last_time, 3),
                "frames": ev.frames,
                "age": None,
                "gender": None,
            }
            d = self._age_dist(ev)
            if d is not None:
                d2 = d[None, :]
                lo_q, hi_q = INTERVAL_QUANTILES
                groups = group_probabilities(d2)[0]
                years = float(expected_age(d2)[0])
                # the group the video showed last (hysteresis), else the nearest to years
                g = ev.group if ev.group is not None else int(nearest_group(years)[0])
                rec["age"] = {
                    "years": round(years, 1),
                    "low": round(float(age_quantiles(d2, lo_q)[0]), 1),
                    "high": round(float(age_quantiles(d2, hi_q)[0]), 1),
                    "group": ADIENCE_LABELS[g],
                    "confidence": round(float(groups[g]), 4),
                    "frames": ev.age_frames,
                }
            gp = self._gender_p(ev)
            if gp is not None:
                answer = gender_answer(gp, threshold)
                undetermined = answer.pop("undetermined", False)
                rec["gender"] = {**answer, "frames": ev.gender_frames}
                if undetermined:
                    rec["gender"]["undetermined"] = True
            out.append(rec)
        return out
