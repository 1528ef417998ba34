"""Reading and writing video: files, cameras and network streams, through OpenCV (FFmpeg).

>>> from agegender.io.video import open_video
>>> with open_video("clip.mp4") as video:          # or open_video(0) for a camera
...     for index, seconds, rgb in video:           # rgb: (H, W, 3) uint8
...         ...

Frames are decoded in a background thread into a small bounded queue, so decoding
overlaps with whatever the caller does with the previous frame (inference). For a
file the reader waits for the caller (no frame is lost); for a live source
(camera, stream) it drops the oldest queued frame instead, so the answers follow
the present rather than falling further and further behind.

Errors are :class:`~agegender.errors.VideoError` with a message that says what to
check: a missing file, a file OpenCV cannot open or decode (not a video, truncated,
unsupported codec), a camera that cannot be opened, a stream that cannot be reached.
A file that ends before the frame count in its header (truncated) just ends, with
a warning.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import VideoError

log = logging.getLogger(__name__)

__all__ = [
    "STREAM_SCHEMES",
    "VIDEO_EXTENSIONS",
    "VideoSource",
    "VideoWriter",
    "is_video",
    "open_video",
]

#: File extensions taken as video without looking at the content.
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
)
#: URL schemes opened as network streams.
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")

# ISO base media brands that are still images, not video (HEIF/HEIC/AVIF share "ftyp").
_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
                 b"avif", b"avis", b"avci", b"jpx ", b"jp2 ", b"crx "}
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")  # WMV / ASF header object


def _sniff(head: bytes) -> bool:
    """Whether the first bytes of a file are those of a video container."""
    if len(head) >= 12 and head[4:8] == b"ftyp":  # MP4, MOV, M4V, 3GP
        return head[8:12] not in _IMAGE_BRANDS
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return True  # old QuickTime without ftyp
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
        return True
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska, WebM
        return True
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):  # MPEG program / video stream
        return True
    if head[:16] == _ASF_GUID:
        return True
    if head[:3] == b"FLV":
        return True
    return len(head) > 188 and head[0] == 0x47 and head[188] == 0x47  # MPEG transport stream


def is_stream_url(source: str) -> bool:
    """Whether ``source`` is a URL (``rtsp://``, ``http(s)://``, ...) rather than a path."""
    return source.lower().startswith(STREAM_SCHEMES)


def is_video(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a video: by extension, else by its first bytes.

    Recognizes MP4/MOV/M4V (``ftyp`` box; HEIC/AVIF still images excluded), AVI
    (``RIFF....AVI``), Matroska/WebM (EBML magic), MPEG-PS/TS, ASF/WMV and FLV.
    Stream URLs (``rtsp://``, ``rtmp://``, ...) are videos; an ``http(s)://`` URL is
    one when its path ends with a video extension. A file that cannot be read is not.
    """
    s = os.fspath(path)
    if is_stream_url(s):
        if s.lower().startswith(("http://", "https://")):
            tail = s.split("?", 1)[0].split("#", 1)[0]
            return Path(tail).suffix.lower() in VIDEO_EXTENSIONS
        return True
    p = Path(s)
    if p.suffix.lower() in VIDEO_EXTENSIONS:
        return True
    try:
        with open(p, "rb") as fh:
            head = fh.read(192)
    except OSError:
        return False
    return _sniff(head)


def _redact(url: str) -> str:
    """A URL with its password hidden, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own warnings (we raise our own, clearer errors instead)."""
    import cv2

    try:
        old = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except AttributeError:  # pragma: no cover - very old OpenCV
        yield
        return
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(old)


_END = object()


class VideoSource:
    """An open video: iterate it for ``(frame_index, time_seconds, rgb)``.

    Use :func:`open_video` to make one. ``frame_index`` counts every frame of the
    source from 0 (also those skipped by ``step``); ``time_seconds`` is
    ``frame_index / fps`` for a file and the wall-clock time since the first frame
    for a live source (camera, stream). ``rgb`` is a new ``(H, W, 3)`` uint8 array.

    A source can be iterated once. Close it (or use ``with``) to stop the reading
    thread and release the file or camera; iterating to the end closes it too.

    Attributes:
        name: the path, ``camera N``, or the URL (password hidden).
        fps: frames per second the source reports (``30.0`` assumed when it reports none).
        width, height: frame size in pixels.
        frame_count: frames the file's header announces (``None`` for live sources or
            when unknown; an estimate for some containers).
        live: True for cameras and network streams.
        frames_read: frames decoded so far (including those skipped by ``step``).
        frames_dropped: frames a live source dropped because the caller was slower.
    """

    def __init__(
        self,
        capture: Any,
        *,
        name: str,
        live: bool,
        step: int = 1,
        queue_size: int = 4,
        first: NDArray[np.uint8] | None = None,
    ) -> None:
        import cv2

        if step < 1:
            raise VideoError(f"step must be >= 1 frame, got {step}")
        self.name = name
        self.live = live
        self.step = int(step)
        self._cap = capture
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps_reported = fps > 0 and np.isfinite(fps) and fps < 1000
        self.fps = fps if self.fps_reported else 30.0
        if not self.fps_reported:
            log.warning("%s reports no frame rate; assuming %.0f frames/s", name, self.fps)
        n = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count: int | None = n if (n > 0 and not live) else None
        if first is not None:
            self.height, self.width = int(first.shape[0]), int(first.shape[1])
        else:  # pragma: no cover - open_video always reads the first frame
            self.width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
            self.height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.frames_read = 0
        self.frames_dropped = 0
        self._first = first
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, int(queue_size)))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False
        self._t0: float | None = None

    def __repr__(self) -> str:
        return (
            f"VideoSource({self.name!r}, {self.width}x{self.height}, fps={self.fps:g}, "
            f"frame_count={self.frame_count}, live={self.live})"
        )

    @property
    def duration(self) -> float | None:
        """Seconds the header announces (``frame_count / fps``), or None."""
        return None if self.frame_count is None else self.frame_count / self.fps

    # ---------------------------------------------------------------- thread
    def _time(self, index: int) -> float:
        if self.live:
            now = time.monotonic()
            if self._t0 is None:
                self._t0 = now
            return now - self._t0
        return index / self.fps

    def _put(self, item: Any) -> bool:
        """Queue an item; False when the source was closed meanwhile."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                if self.live and item is not _END and not isinstance(item, BaseException):
                    with contextlib.suppress(queue.Empty):
                        self._queue.get_nowait()  # drop the oldest: follow the present
                        self.frames_dropped += 1
        return False

    def _reader(self) -> None:
        import cv2

        index = 0
        try:
            if self._first is not None:
                first, self._first = self._first, None
                self.frames_read = 1
                if not self._put((0, self._time(0), first)):
                    return
                index = 1
            while not self._stop.is_set():
                if index % self.step:
                    ok = self._cap.grab()  # skipped frame: no conversion, no copy
                    frame = None
                else:
                    ok, frame = self._cap.read()
                if not ok:
                    break
                self.frames_read += 1
                if frame is not None:
                    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                    if not self._put((index, self._time(index), rgb)):
                        return
                index += 1
            self._put(_END)
        except Exception as e:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(VideoError(f"{self.name}: decoding failed at frame {index}: {e}"))
        finally:
            self._release()

    def _release(self) -> None:
        with contextlib.suppress(Exception):
            self._cap.release()

    # ---------------------------------------------------------------- consumer
    def __iter__(self) -> Iterator[tuple[int, float, NDArray[np.uint8]]]:
        if self._started:
            raise VideoError(f"{self.name}: a video can be iterated once; open it again")
        self._started = True
        self._thread = threading.Thread(
            target=self._reader, name=f"agegender-video-{self.name}", daemon=True
        )
        self._thread.start()
        last = -1
        ended = False
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    ended = True
                    break
                if isinstance(item, BaseException):
                    raise item
                last = item[0]
                yield item
        finally:
            self.close()
        expected = self.frame_count
        if ended and expected is not None and self.frames_read < expected - max(1, expected // 100):
            log.warning(
                "%s ended after %d of the %d frames its header announces "
                "(truncated or damaged file?); the frames read were analyzed",
                self.name,
                self.frames_read,
                self.frame_count,
            )
        log.debug("%s: %d frames read, last index %d", self.name, self.frames_read, last)

    def close(self) -> None:
        """Stop the reading thread and release the file, camera or stream."""
        self._stop.set()
        t = self._thread
        if t is not None and t.is_alive() and t is not threading.current_thread():
            # unblock a reader waiting on a full queue, then wait for it
            with contextlib.suppress(queue.Empty):
                while True:
                    self._queue.get_nowait()
            t.join(timeout=5.0)
        if t is None:
            self._release()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _camera_index(source: str | int) -> int | None:
    if isinstance(source, (int, np.integer)) and not isinstance(source, bool):
        return int(source)
    if isinstance(source, str) and source.isdigit() and not Path(source).exists():
        return int(source)
    return None


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
    import cv2

    cam = _camera_index(source)
    with _quiet_opencv():
        if cam is not None:
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
            s = os.fspath(source)
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
    return VideoSource(cap, name=name, live=live, step=step, queue_size=queue_size, first=first)


class VideoWriter:
    """Writes RGB frames to a video file (``.mp4``/``.m4v``/``.mov``: mp4v; ``.avi``: MJPG).

    The frame size is taken from the first frame unless ``size`` is given; later
    frames of another size are resized to it.

    >>> with VideoWriter("out.mp4", fps=25) as w:
    ...     w.write(rgb_frame)

    Raises:
        VideoError: the folder does not exist, or OpenCV cannot open the file for
            writing (unsupported extension or codec, no permission).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float,
        size: tuple[int, int] | None = None,
    ) -> None:
        self.path = Path(path)
        if not fps > 0:
            raise VideoError(f"{self.path}: frame rate must be > 0, got {fps}")
        self.fps = float(fps)
        ext = self.path.suffix.lower()
        if ext not in (".mp4", ".m4v", ".mov", ".avi"):
            raise VideoError(
                f"cannot write video {self.path}: use a .mp4 (or .m4v, .mov, .avi) file name"
            )
        if not self.path.parent.is_dir():
            raise VideoError(
                f"cannot write video {self.path}: folder {self.path.parent} does not exist"
            )
        self.fourcc = "MJPG" if ext == ".avi" else "mp4v"
        self.size = size
        self.frames_written = 0
        self._w: Any = None
        if size is not None:
            self._open(size)

    def _open(self, size: tuple[int, int]) -> None:
        import cv2

        w, h = int(size[0]), int(size[1])
        if w <= 0 or h <= 0:
            raise VideoError(f"cannot write video {self.path}: bad frame size {w}x{h}")
        with _quiet_opencv():
            writer = cv2.VideoWriter(
                str(self.path), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, (w, h)
            )
        if not writer.isOpened():
            writer.release()
            raise VideoError(
                f"cannot write video {self.path} ({self.fourcc}, {w}x{h}): OpenCV could not "
                "open it for writing; check the folder is writable and the disk not full"
            )
        self.size = (w, h)
        self._w = writer

    def write(self, rgb: NDArray[np.uint8]) -> None:
        """Append one ``(H, W, 3)`` uint8 RGB frame."""
        import cv2

        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise VideoError(
                f"{self.path}: frames must be (H, W, 3) uint8 RGB, got {rgb.dtype} {rgb.shape}"
            )
        if self._w is None:
            self._open((rgb.shape[1], rgb.shape[0]))
        assert self.size is not None
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if (bgr.shape[1], bgr.shape[0]) != self.size:
            bgr = cv2.resize(bgr, self.size, interpolation=cv2.INTER_AREA)
        self._w.write(bgr)
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file (writes the index an MP4 needs to be playable)."""
        if self._w is not None:
            self._w.release()
            self._w = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
