"""Silencing OpenCV's own log output around calls whose failures we report ourselves.

Shared by :mod:`.video_open` (opening sources) and :mod:`.video_writer`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


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
