"""Opening video sources: files, cameras (by index) and network streams (by URL).

:func:`open_video` opens the source with OpenCV (FFmpeg) and decodes its first
frame before returning a :class:`~.video_source.VideoSource`, so a source that
cannot be read fails at once.

Errors are :class:`~agegender.errors.VideoError` with a message that says what to
check: a missing file, a file OpenCV cannot open or decode (not a video, truncated,
unsupported codec), a camera that cannot be opened, a stream that cannot be reached.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

import numpy as np

from ..errors import VideoError
from .cv_logging import _quiet_opencv
from .video_inputs import _sniff, is_stream_url
from .video_source import VideoSource

log = logging.getLogger(__name__)

__all__ = ["MAX_CAMERA_INDEX", "check_camera", "open_video"]


def _redact(url: str) -> str:
    """A URL with its password hidden, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


#: Camera indexes OpenCV takes as cameras: from 100 on it reads ``index // 100`` as a
#: backend (``200`` is camera 0 through V4L2), and a negative index crashes some builds.
MAX_CAMERA_INDEX = 99


def _camera_index(source: str | int) -> int | None:
    if isinstance(source, (int, np.integer)) and not isinstance(source, bool):
        return int(source)
    if isinstance(source, str) and source.isdigit() and not Path(source).exists():
        return int(source)
    return None


def check_camera(index: int) -> None:
    """Refuse, before OpenCV sees it, a camera index that cannot name a camera here.

    Negative indexes (OpenCV 5 crashes the process on ``VideoCapture(-1)``) and indexes
    above :data:`MAX_CAMERA_INDEX` are refused everywhere; on Linux, an index with no
    ``/dev/videoN`` device too (OpenCV would only say it cannot open it).

    Raises:
        VideoError: ``no camera N``, with what to do.
    """
    if not 0 <= index <= MAX_CAMERA_INDEX:
        raise VideoError(
            f"no camera {index}: camera indexes are 0..{MAX_CAMERA_INDEX} (0 = the first camera)"
        )
    dev = Path("/dev")
    if sys.platform.startswith("linux") and dev.is_dir() and not (dev / f"video{index}").exists():
        found = sorted(p.name for p in dev.glob("video[0-9]*"))
        here = ", ".join(found) if found else "none"
        raise VideoError(
            f"no camera {index}: /dev/video{index} does not exist (video devices here: {here}); "
            "is the camera connected, and is this user allowed to see it?"
        )


def open_video(
    source: str | int | os.PathLike[str], *, step: int = 1, queue_size: int = 4
) -> VideoSource:
    """Open a video file, a camera (its index, ``0`` for the first) or a stream URL.

    Args:
        source: a file path; a camera index (an int, or a string of digits that is not
            an existing file); or a URL (``rtsp://``, ``http(s)://``, ...).
        step: yield every ``step``-th frame only (the others are still decoded, as
            video codecs need, but not converted or copied).
        queue_size: decoded frames buffered ahead of the caller.

    Returns:
        A :class:`VideoSource` whose first frame has already been decoded, so a file
        that cannot be decoded at all fails here and not in the middle of a loop.

    Raises:
        VideoError: the file does not exist, is not a video OpenCV can open, has no
            decodable frame; the camera cannot be opened; the stream cannot be reached.
    """
    # FFmpeg's own decoder messages (hundreds of lines for one damaged file) would bury
    # ours; a short or damaged file is reported by VideoSource.ended_early instead.
    # Read by OpenCV when its FFmpeg backend starts; a value the user set is kept.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    import cv2

    cam = _camera_index(source)  # type: ignore[arg-type]  # a PathLike is no camera: None
    with _quiet_opencv():
        if cam is not None:
            check_camera(cam)
            name = f"camera {cam}"
            cap = cv2.VideoCapture(cam)
            if not cap.isOpened():
                cap.release()
                raise VideoError(
                    f"camera {cam} cannot be opened: is it connected, and not used by "
                    "another program? (cameras are numbered from 0)"
                )
            live = True
        else:
            s = os.fspath(source)  # type: ignore[arg-type]  # not an int here
            if is_stream_url(s):
                name = _redact(s)
                cap = cv2.VideoCapture(s)
                if not cap.isOpened():
                    cap.release()
                    raise VideoError(
                        f"stream {name} cannot be opened: check the address, that the "
                        "server is up and reachable from here, and any user name/password"
                    )
                live = True
            else:
                p = Path(s)
                name = str(p)
                if not p.exists():
                    raise VideoError(f"video file not found: {p}")
                if p.is_dir():
                    raise VideoError(f"{p} is a folder, not a video file")
                if p.stat().st_size == 0:
                    raise VideoError(f"{p} is empty (0 bytes), not a video")
                cap = cv2.VideoCapture(str(p))
                if not cap.isOpened():
                    cap.release()
                    with open(p, "rb") as fh:
                        container = _sniff(fh.read(192))
                    if container:
                        raise VideoError(
                            f"{p} looks like a video but cannot be opened: it is probably "
                            "truncated (a recording or download that did not finish: an MP4 "
                            "keeps its index at the end) or damaged"
                        )
                    raise VideoError(
                        f"{p} cannot be opened as a video: it is not a video file, or uses "
                        "a format this OpenCV/FFmpeg build cannot read (try converting it: "
                        "ffmpeg -i INPUT -c:v libx264 out.mp4)"
                    )
                live = False
        try:
            ok, frame = cap.read()
        except cv2.error as e:
            ok, frame = False, None
            log.debug("%s: first read failed: %s", name, e)
    if not ok or frame is None:
        cap.release()
        if live:
            raise VideoError(f"{name} was opened but gave no frame: is it streaming?")
        raise VideoError(
            f"{name} was opened but no frame could be decoded: the file is truncated or "
            "damaged, or its codec is not supported by this OpenCV/FFmpeg build"
        )
    first = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    return VideoSource(cap, name=name, live=live, step=step, queue_size=queue_size, first=first)  # type: ignore[arg-type]
