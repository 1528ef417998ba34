"""Face tracking across video frames and stable per-person answers.

* :class:`FaceTracker` (ByteTrack-style, Kalman motion, IoU association) sets
  ``Faces.track_id``; :meth:`FaceTracker.predict` covers frames on which
  detection is skipped. Its parts: :mod:`.kalman` (the motion model) and
  :mod:`.matching` (:func:`iou_matrix`, :func:`linear_assignment`,
  :func:`greedy_assignment`).
* :class:`TrackAggregator` accumulates each track's age and gender over frames
  and returns the aggregated answers; :func:`flicker_rate` measures how often
  labels change.
"""

from __future__ import annotations

from .aggregate import TrackAggregator, collect_labels, face_quality, flicker_rate
from .matching import greedy_assignment, iou_matrix, linear_assignment
from .tracker import FaceTracker, TrackInfo

__all__ = [
    "FaceTracker",
    "TrackAggregator",
    "TrackInfo",
    "collect_labels",
    "face_quality",
    "flicker_rate",
    "greedy_assignment",
    "iou_matrix",
    "linear_assignment",
]
