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

One module per concern:

* :mod:`.analyze`: :func:`analyze_video` (the driver: read, process, output,
  summarize) and :func:`default_tracker`.
* :class:`agegender.track.step.FrameStep` (not here: the server's live stream uses
  it too): one analyzed frame, steps 2 to 4 above, with the per-stage timings.
* :mod:`.frames`: the dict ``on_frame`` receives.
* :mod:`.summary`: :class:`VideoSummary` and its per-track JSON/CSV writers.
* :mod:`.flicker`: :func:`flicker_rate`, :func:`collect_labels`,
  :func:`flicker_report` and the per-track label bookkeeping of a run.
* :mod:`.display`: :func:`display_available` and the ``show=True`` window.

Everything logs under the ``agegender.video`` logger.
"""

from __future__ import annotations

import logging

from .analyze import FrameCallback, analyze_video, default_tracker
from .display import display_available
from .flicker import collect_labels, flicker_rate, flicker_report
from .summary import TRACK_CSV_COLUMNS, VideoSummary

log = logging.getLogger(__name__)

__all__ = [
    "TRACK_CSV_COLUMNS",
    "FrameCallback",
    "VideoSummary",
    "analyze_video",
    "collect_labels",
    "default_tracker",
    "display_available",
    "flicker_rate",
    "flicker_report",
]
