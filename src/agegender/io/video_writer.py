"""Writing video files: :class:`VideoWriter`, used for the annotated output video."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import VideoError
from .cv_logging import _quiet_opencv

__all__ = ["VideoWriter"]


class VideoWriter:
    """Writes RGB frames to a video file (``.mp4``/``.m4v``/``.mov``: mp4v; ``.avi``: MJPG).

    The frame size is taken from the first frame unless ``size`` is given; later
    frames of another size are resized to it.

    The frames go to a hidden file beside ``path`` (``.NAME.partial.mp4``), which takes
    ``path``'s name only once it is finished and read back whole: OpenCV's writer says
    nothing when the disk fills up, so :meth:`close` counts the frames in the file and,
    when some are missing, leaves it under its hidden name (nothing is deleted) with an
    error naming it. A file closed while an error or an interrupt is on its way is named
    as far as it got.

    >>> with VideoWriter("out.mp4", fps=25) as w:
    ...     w.write(rgb_frame)

    Raises:
        VideoError: the folder does not exist, or OpenCV cannot open the file for
            writing (unsupported extension or codec, no permission), or (:meth:`close`)
            the file was not written whole (a full disk).
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
        self.partial = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
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
                str(self.partial), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, (w, h)  # type: ignore[attr-defined]
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
        with _quiet_opencv():  # a failed write (full disk) is reported by close()
            self._w.write(bgr)
        self.frames_written += 1

    def close(self, *, check: bool = True) -> None:
        """Finish the file (writes the index an MP4 needs to be playable) and give it its
        name. ``check`` (the default): first read it back and count its frames.

        Raises:
            VideoError: the file holds fewer frames than were written, or cannot be
                renamed; the message names the partial file and the room left.
        """
        if self._w is None:
            return
        with _quiet_opencv():
            self._w.release()
        self._w = None
        if check:
            self._check_whole()
        try:
            os.replace(self.partial, self.path)
        except OSError as e:
            raise VideoError(
                f"cannot write video {self.path}: renaming {self.partial} to it failed "
                f"({e.strerror or e}); the video is in {self.partial}"
            ) from None

    def _check_whole(self) -> None:
        got = _frames_in(self.partial)
        if got >= self.frames_written:
            return
        free = shutil.disk_usage(self.path.parent).free
        what = (f"only {got} of its {self.frames_written} frames were written" if got
                else "it could not be read back")
        raise VideoError(
            f"cannot write video {self.path}: {what} ({free / 1e6:.0f} MB free in "
            f"{self.path.parent}); is the disk full? What was written is in {self.partial}; "
            "free some space or write it elsewhere"
        )

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(check=exc_type is None)


def _frames_in(path: Path) -> int:
    """The frames a video file holds, by its index (0 when it cannot be opened)."""
    import cv2

    if not path.is_file() or path.stat().st_size == 0:
        return 0
    with _quiet_opencv():
        cap = cv2.VideoCapture(str(path))
    try:
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    finally:
        cap.release()
