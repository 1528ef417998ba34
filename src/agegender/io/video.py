"""Reading and writing video: files, cameras and network streams, through OpenCV (FFmpeg).

>>> from agegender.io.video import open_video
>>> with open_video("clip.mp4") as video:          # or open_video(0) for a camera
...     for index, seconds, rgb in video:           # rgb: (H, W, 3) uint8
...         ...

Frames are decoded in a background thread into a small bounded queue, so decoding
overlaps with whatever the caller does with the previous frame (inference); a live
source drops the oldest queued frame rather than fall behind. Errors are
:class:`~agegender.errors.VideoError` with a message that says what to check.

This module gathers the public names; the code lives in one module per concern:

* :mod:`.video_inputs`: recognising videos and stream URLs (:func:`is_video`,
  :func:`is_stream_url`, :data:`VIDEO_EXTENSIONS`, :data:`STREAM_SCHEMES`).
* :mod:`.video_open`: :func:`open_video`, opening files, cameras and streams, with
  the error messages.
* :mod:`.video_source`: :class:`VideoSource`, the threaded frame reader.
* :mod:`.video_writer`: :class:`VideoWriter`, writing (annotated) video files.
* :mod:`.cv_logging`: silencing OpenCV's own warnings around those calls.
"""

from __future__ import annotations

from .video_inputs import STREAM_SCHEMES, VIDEO_EXTENSIONS, is_stream_url, is_video
from .video_open import open_video
from .video_source import VideoSource
from .video_writer import VideoWriter

__all__ = [
    "STREAM_SCHEMES",
    "VIDEO_EXTENSIONS",
    "VideoSource",
    "VideoWriter",
    "is_stream_url",
    "is_video",
    "open_video",
]
