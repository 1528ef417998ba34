"""ByteTrack-style face tracking: stable ids for the faces of a video.

:class:`FaceTracker` gives each face a ``track_id`` that stays the same while
the face is on screen, so per-face answers can be accumulated over frames
(:mod:`agegender.track.aggregate`).

Design (after ByteTrack, Zhang et al. 2022, with the parts that matter for faces):

* **Motion model** (:mod:`.kalman`). Each track carries a constant-velocity
  Kalman filter on ``(cx, cy, w, h)``, noise proportional to the box height; it
  predicts over a gap of ``dt`` frames in one step, which is how "detect every K
  frames, track in between" works.
* **Association by IoU in three stages.** (1) confirmed tracks (visible or
  lost) against the *high*-score detections (``score >= high_thresh``);
  (2) the confirmed tracks still unmatched that were visible at their last
  update against the *low*-score detections (``low_thresh <= score <
  high_thresh``) with a stricter IoU, which keeps a track alive through blur or
  partial occlusion without letting weak detections start tracks; (3) tentative
  tracks against the high-score detections left over.
* **Matching** (:mod:`.matching`). Optimal assignment (a small Hungarian
  algorithm in numpy, :func:`linear_assignment`) on ``1 - IoU``, pairs below the
  stage's IoU gate rejected; ``matcher="greedy"`` takes the best-IoU pairs first
  instead.
* **Life cycle.** An unmatched high-score detection (``score >=
  new_track_thresh``) starts a *tentative* track; it is confirmed after
  ``min_hits`` consecutive matched detection frames, and gets its id then, so
  ids of confirmed tracks are consecutive from 1 and never reused. A tentative
  track that misses one detection frame is dropped. Tracks born during the first
  ``warmup_updates`` calls of :meth:`FaceTracker.update` are confirmed at once
  (ByteTrack's frame-1 rule: faces already there when the video starts are not
  held back). A confirmed track that is not matched becomes *lost*; it keeps
  being predicted and can be matched again, until it has gone ``max_age`` frames
  (frames, not detection calls) without a match, when it is deleted.

:meth:`FaceTracker.update` returns the detections with ``track_id`` set:
the id of the confirmed track each was matched to, or ``-1`` for detections
that are not (yet) part of a confirmed track; ``drop_unconfirmed=True`` drops
those rows instead. :meth:`FaceTracker.predict` gives the predicted faces of the
visible confirmed tracks for frames on which detection was skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from ..faces import Faces
from .kalman import _NDIM, _box_to_z, _kf_init, _kf_predict, _kf_update, _z_to_box
from .matching import Matcher, _match, greedy_assignment, iou_matrix, linear_assignment

log = logging.getLogger(__name__)

__all__ = ["FaceTracker", "TrackInfo", "greedy_assignment", "iou_matrix", "linear_assignment"]


# --------------------------------------------------------------------------- tracks
@dataclass
class _Track:
    """Internal state of one track (a Kalman filter plus bookkeeping)."""

    key: int  # internal, unique for every track ever created
    mean: NDArray[np.float64]  # (8,) cx, cy, w, h, vcx, vcy, vw, vh
    cov: NDArray[np.float64]  # (8, 8)
    frame: int  # frame the filter state refers to
    last_matched: int  # frame of the last matched detection
    score: float
    landmarks: NDArray[np.float32]  # (5, 2) of the last matched detection
    box_at_match: NDArray[np.float64]  # (4,) detection box of the last match
    hits: int = 1  # consecutive matched detection frames
    track_id: int = -1  # > 0 once confirmed
    visible: bool = True  # matched at the last detection frame
    start_frame: int = field(default=0)

    @property
    def confirmed(self) -> bool:
        return self.track_id > 0

    @property
    def box(self) -> NDArray[np.float64]:
        return _z_to_box(self.mean[:_NDIM])


@dataclass(frozen=True)
class TrackInfo:
    """A read-only snapshot of one live track (see :attr:`FaceTracker.tracks`)."""

    track_id: int  #: -1 while tentative
    box: tuple[float, float, float, float]  #: current (predicted or corrected) box
    velocity: tuple[float, float]  #: centre velocity in pixels per frame
    confirmed: bool
    visible: bool  #: matched at the last detection frame
    hits: int  #: consecutive matched detection frames
    start_frame: int
    last_matched_frame: int


# --------------------------------------------------------------------------- tracker
class FaceTracker:
    """ByteTrack-style multi-face tracker (see the module docstring for the design).

    Call :meth:`update` on every frame with detections and :meth:`predict` on
    frames without; frame indices must not decrease.

    Args:
        high_thresh: detections at or above this score take part in the first
            association stage (and may start tracks).
        low_thresh: detections below this score are ignored (``track_id -1``);
            those between ``low_thresh`` and ``high_thresh`` can only continue
            visible tracks (second stage).
        new_track_thresh: minimum score for an unmatched detection to start a
            track; defaults to ``high_thresh``.
        match_iou: IoU gate of the first stage (high-score detections).
        low_match_iou: IoU gate of the second stage (low-score detections).
        tentative_match_iou: IoU gate of the third stage (tentative tracks).
        min_hits: consecutive matched detection frames for a track to be confirmed.
        max_age: frames a confirmed track survives without a match.
        warmup_updates: tracks born in this many first :meth:`update` calls are
            confirmed at once (1 = ByteTrack's frame-1 rule; 0 disables it).
        drop_unconfirmed: drop detections that are not assigned to a confirmed
            track from the output instead of returning them with ``track_id -1``.
        matcher: ``"hungarian"`` (optimal on 1 - IoU) or ``"greedy"`` (best IoU first).
    """

    def __init__(
        self,
        *,
        high_thresh: float = 0.5,
        low_thresh: float = 0.1,
        new_track_thresh: float | None = None,
        match_iou: float = 0.2,
        low_match_iou: float = 0.5,
        tentative_match_iou: float = 0.3,
        min_hits: int = 2,
        max_age: int = 30,
        warmup_updates: int = 1,
        drop_unconfirmed: bool = False,
        matcher: Matcher = "hungarian",
    ) -> None:
        if not 0.0 <= low_thresh <= high_thresh <= 1.0:
            raise InputError(
                f"need 0 <= low_thresh <= high_thresh <= 1, got {low_thresh}, {high_thresh}"
            )
        for name, val in (
            ("match_iou", match_iou),
            ("low_match_iou", low_match_iou),
            ("tentative_match_iou", tentative_match_iou),
        ):
            if not 0.0 < val <= 1.0:
                raise InputError(f"{name} must be within (0, 1], got {val}")
        if min_hits < 1:
            raise InputError(f"min_hits must be >= 1, got {min_hits}")
        if max_age < 0:
            raise InputError(f"max_age must be >= 0 frames, got {max_age}")
        if warmup_updates < 0:
            raise InputError(f"warmup_updates must be >= 0, got {warmup_updates}")
        if matcher not in ("hungarian", "greedy"):
            raise InputError(f"matcher must be 'hungarian' or 'greedy', got {matcher!r}")
        self.high_thresh = float(high_thresh)
        self.low_thresh = float(low_thresh)
        self.new_track_thresh = float(high_thresh if new_track_thresh is None else new_track_thresh)
        self.match_iou = float(match_iou)
        self.low_match_iou = float(low_match_iou)
        self.tentative_match_iou = float(tentative_match_iou)
        self.min_hits = int(min_hits)
        self.max_age = int(max_age)
        self.warmup_updates = int(warmup_updates)
        self.drop_unconfirmed = bool(drop_unconfirmed)
        self.matcher: Matcher = matcher
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget every track; the next confirmed track gets id 1 again."""
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._next_key = 0
        self._frame: int | None = None
        self._n_updates = 0

    @property
    def frame_index(self) -> int | None:
        """The last frame given to :meth:`update` or :meth:`predict` (None before any)."""
        return self._frame

    @property
    def tracks(self) -> list[TrackInfo]:
        """Snapshots of the live tracks (tentative, visible and lost)."""
        out = []
        for t in self._tracks:
            b = t.box
            out.append(
                TrackInfo(
                    track_id=t.track_id,
                    box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                    velocity=(float(t.mean[4]), float(t.mean[5])),
                    confirmed=t.confirmed,
                    visible=t.visible,
                    hits=t.hits,
                    start_frame=t.start_frame,
                    last_matched_frame=t.last_matched,
                )
            )
        return out

    def _advance(self, frame_index: int) -> None:
        """Predict every track to ``frame_index`` and delete the tracks that are too old."""
        frame_index = int(frame_index)
        if self._frame is not None and frame_index < self._frame:
            raise InputError(
                f"frame_index went back from {self._frame} to {frame_index}; "
                "call reset() to start a new video"
            )
        self._frame = frame_index
        for t in self._tracks:
            t.mean, t.cov = _kf_predict(t.mean, t.cov, frame_index - t.frame)
            t.frame = frame_index
        kept = []
        for t in self._tracks:
            if frame_index - t.last_matched > self.max_age:
                if t.confirmed:
                    log.debug(
                        "track %d deleted at frame %d (unmatched since frame %d)",
                        t.track_id,
                        frame_index,
                        t.last_matched,
                    )
            else:
                kept.append(t)
        self._tracks = kept

    # ------------------------------------------------------------------ update
    def update(self, faces: Faces, frame_index: int) -> Faces:
        """Associate this frame's detections with the tracks; returns a new ``Faces``.

        ``faces`` is not modified. The result has ``track_id`` set: the id of the
        confirmed track a detection belongs to, or ``-1`` (rows dropped instead
        when ``drop_unconfirmed``). Row order is that of ``faces``.
        """
        self._advance(frame_index)
        n = len(faces)
        boxes = faces.boxes.astype(np.float64)
        scores = faces.scores.astype(np.float64)
        det_free = np.ones(n, dtype=bool)
        assigned: list[tuple[_Track, int]] = []

        confirmed = [t for t in self._tracks if t.confirmed]
        tentative = [t for t in self._tracks if not t.confirmed]
        high = np.nonzero(scores >= self.high_thresh)[0]
        low = np.nonzero((scores >= self.low_thresh) & (scores < self.high_thresh))[0]

        def stage(tracks: list[_Track], dets: NDArray[np.int64], gate: float) -> list[_Track]:
            """Match tracks to the free detections among ``dets``; return unmatched tracks."""
            dets = dets[det_free[dets]]
            if not tracks or len(dets) == 0:
                return tracks
            pred = np.stack([t.box for t in tracks])
            pairs = _match(iou_matrix(pred, boxes[dets]), gate, self.matcher)
            matched_rows = set()
            for r, c in pairs:
                assigned.append((tracks[r], int(dets[c])))
                det_free[dets[c]] = False
                matched_rows.add(r)
            return [t for i, t in enumerate(tracks) if i not in matched_rows]

        # 1. confirmed tracks (visible or lost) vs high-score detections
        left = stage(confirmed, high, self.match_iou)
        # 2. those still unmatched that were visible vs low-score detections
        stage([t for t in left if t.visible], low, self.low_match_iou)
        # 3. tentative tracks vs the high-score detections left
        tentative_left = stage(tentative, high, self.tentative_match_iou)

        frame = self._frame
        assert frame is not None
        for t, d in assigned:
            t.mean, t.cov = _kf_update(t.mean, t.cov, _box_to_z(boxes[d]))
            t.last_matched = frame
            t.score = float(scores[d])
            t.landmarks = faces.landmarks[d].copy()
            t.box_at_match = boxes[d].copy()
            t.visible = True
            t.hits += 1
            if not t.confirmed and t.hits >= self.min_hits:
                self._confirm(t)
        matched = {id(t) for t, _ in assigned}
        for t in confirmed:
            if id(t) not in matched:
                t.visible = False
                t.hits = 0
        dead = {id(t) for t in tentative_left}
        self._tracks = [t for t in self._tracks if id(t) not in dead]

        # births
        warm = self._n_updates < self.warmup_updates
        for d in np.nonzero(det_free & (scores >= self.new_track_thresh))[0]:  # type: ignore[assignment]
            mean, cov = _kf_init(_box_to_z(boxes[d]))
            t = _Track(
                key=self._next_key,
                mean=mean,
                cov=cov,
                frame=frame,
                last_matched=frame,
                score=float(scores[d]),
                landmarks=faces.landmarks[d].copy(),
                box_at_match=boxes[d].copy(),
                start_frame=frame,
            )
            self._next_key += 1
            self._tracks.append(t)
            assigned.append((t, int(d)))
            if warm or self.min_hits <= 1:
                self._confirm(t)
        self._n_updates += 1

        ids = np.full(n, -1, dtype=np.int64)
        for t, d in assigned:
            if t.confirmed:
                ids[d] = t.track_id
        out = faces.with_columns(track_id=ids)
        if self.drop_unconfirmed:
            out = out[ids >= 0]
        return out

    def _confirm(self, t: _Track) -> None:
        t.track_id = self._next_id
        self._next_id += 1
        log.debug("track %d confirmed at frame %s", t.track_id, self._frame)

    # ------------------------------------------------------------------ predict
    def predict(self, frame_index: int, *, include_lost: bool = False) -> Faces:
        """Predicted faces of the confirmed tracks at a frame without detection.

        Advances every track to ``frame_index`` (frames must not go back).
        Returns one row per confirmed track that was matched at the last
        detection frame (and lost ones too with ``include_lost``): the Kalman
        box, the last detection score, and the last landmarks moved and scaled
        with the box. Age and gender columns are ``None`` (an aggregator fills
        them from the track, see :class:`~agegender.track.aggregate.TrackAggregator`).
        """
        self._advance(frame_index)
        live = [t for t in self._tracks if t.confirmed and (t.visible or include_lost)]
        if not live:
            return Faces.empty().with_columns(track_id=np.zeros((0,), np.int64))
        boxes = np.stack([t.box for t in live])
        landmarks = np.stack(
            [
                _move_landmarks(t.landmarks, t.box_at_match, b)
                for t, b in zip(live, boxes, strict=True)
            ]
        )
        return Faces(
            boxes=boxes.astype(np.float32),
            scores=np.array([t.score for t in live], dtype=np.float32),
            landmarks=landmarks,
            track_id=np.array([t.track_id for t in live], dtype=np.int64),
        )


def _move_landmarks(
    landmarks: NDArray[np.float32], old: NDArray[np.float64], new: NDArray[np.float64]
) -> NDArray[np.float32]:
    """Map landmarks from box ``old`` to box ``new`` (scale and shift; NaN stays NaN)."""
    ow, oh = max(old[2] - old[0], 1e-6), max(old[3] - old[1], 1e-6)
    sx, sy = (new[2] - new[0]) / ow, (new[3] - new[1]) / oh
    out = np.empty_like(landmarks, dtype=np.float32)
    out[:, 0] = new[0] + (landmarks[:, 0] - old[0]) * sx
    out[:, 1] = new[1] + (landmarks[:, 1] - old[1]) * sy
    return out
