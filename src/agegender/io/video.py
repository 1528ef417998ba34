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

from .cv_logging import _quiet_opencv as _quiet_opencv
from .video_inputs import _ASF_GUID as _ASF_GUID
from .video_inputs import _IMAGE_BRANDS as _IMAGE_BRANDS
from .video_inputs import STREAM_SCHEMES, VIDEO_EXTENSIONS, is_video
from .video_inputs import _sniff as _sniff
from .video_inputs import is_stream_url as is_stream_url
from .video_open import _camera_index as _camera_index
from .video_open import _redact as _redact
from .video_open import open_video
from .video_source import _END as _END
from .video_source import VideoSource
from .video_writer import VideoWriter

__all__ = [
    "STREAM_SCHEMES",
    "VIDEO_EXTENSIONS",
    "VideoSource",
    "VideoWriter",
    "is_video",
    "open_video",
]
