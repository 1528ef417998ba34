"""Face tracking across video frames and stable per-person answers.

* :class:`FaceTracker` (ByteTrack-style, Kalman motion, IoU association) sets
  ``Faces.track_id``; :meth:`FaceTracker.predict` covers frames on which
  detection is skipped. Its parts: :mod:`.kalman` (the motion model) and
  :mod:`.matching` (:func:`iou_matrix`, :func:`linear_assignment`,
  :func:`greedy_assignment`).
* :class:`TrackAggregator` accumulates each track's age and gender over frames
  and returns the aggregated answers (:func:`face_quality` weighs the evidence).
* :class:`FrameStep` (:mod:`.step`) analyzes one frame of a video or live stream:
  detect (or predict), track, estimate, aggregate; video and the server's stream
  both use it.
* :func:`track_video` (:mod:`.frames`, ``agegender.track_video``): ``for frame in
  track_video(analyzer, "clip.mp4")``, a :class:`Frame` per analyzed frame of a video,
  camera or stream, built on :class:`FrameStep`; :func:`agegender.video.analyze_video`
  iterates it.

The flicker figures (how often labels change) are in :mod:`agegender.video.flicker`.
"""

from __future__ import annotations

from .aggregate import TrackAggregator, face_quality
from .frames import Frame, TrackedFrames, default_tracker, track_video
from .matching import greedy_assignment, iou_matrix, linear_assignment
from .step import FrameAnswer, FrameStep
from .tracker import FaceTracker, TrackInfo

__all__ = [
    "FaceTracker",
    "Frame",
    "FrameAnswer",
    "FrameStep",
    "TrackAggregator",
    "TrackInfo",
    "TrackedFrames",
    "default_tracker",
    "face_quality",
    "greedy_assignment",
    "iou_matrix",
    "linear_assignment",
    "track_video",
]
