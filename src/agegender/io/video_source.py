"""The threaded frame reader: :class:`VideoSource`, made by :func:`~.video_open.open_video`.

Frames are decoded in a background thread into a small bounded queue, so decoding
overlaps with whatever the caller does with the previous frame (inference). For a
file the reader waits for the caller (no frame is lost); for a live source
(camera, stream) it drops the oldest queued frame instead, so the answers follow
the present rather than falling further and further behind.

A file that ends before the frame count in its header (truncated or damaged, beyond
:func:`short_tolerance`) ends the iteration with :attr:`VideoSource.ended_early` set:
callers decide (``analyze_video`` reports it in its summary's ``error``).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import VideoError

log = logging.getLogger(__name__)

__all__ = ["VideoSource", "short_tolerance"]


def short_tolerance(expected: int) -> int:
    """Frames a file may fall short of its header's count without being called truncated:
    2, or 2% of a long video (some containers only estimate the count from the duration)."""
    return max(2, expected // 50)

_END = object()  # queued by the reader thread after the last frame


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
        ended_early: after the iteration ran to the end, a one-line message when the file
            gave fewer frames than its header announces (beyond :func:`short_tolerance`),
            else None.
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
        self.ended_early: str | None = None
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
        if ended and expected is not None and self.frames_read < expected - short_tolerance(expected):
            self.ended_early = (
                f"{self.name} ended after {self.frames_read} of the {expected} frames its "
                "header announces: the file is truncated or damaged (the frames read were "
                "analyzed); re-copy or re-encode it (ffmpeg -i INPUT -c:v libx264 out.mp4)"
            )
            log.info("%s", self.ended_early)
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
