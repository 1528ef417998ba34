"""The live window of ``analyze_video(..., show=True)``: an OpenCV window, where one can open."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

__all__ = ["display_available"]

# The name the single-module ``agegender.video`` logged under, kept for --debug output.
log = logging.getLogger("agegender.video")


def display_available() -> bool:
    """Whether a window can be shown: a display on Linux and an OpenCV built with a GUI."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False
    import cv2

    info = cv2.getBuildInformation()
    gui = [ln for ln in info.splitlines() if ln.strip().startswith("GUI:")]
    return not (gui and gui[0].split(":", 1)[1].strip().upper() in ("NONE", "NO"))


class _Window:
    """An OpenCV window that turns itself off (with one warning) where it cannot work."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.enabled = display_available()
        if not self.enabled:
            log.warning(
                "--show: no display here (no DISPLAY/WAYLAND_DISPLAY, or an OpenCV without "
                "GUI such as opencv-python-headless); analyzing without showing the video"
            )

    def show(self, rgb: Any) -> bool:
        """Show a frame; False when the user asked to stop (q or Esc, or closed the window)."""
        if not self.enabled:
            return True
        import cv2

        try:
            cv2.imshow(self.title, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            key = cv2.waitKey(1) & 0xFF
            if key in (ord("q"), 27):
                return False
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error as e:
            log.warning("--show: cannot open a window (%s); going on without it", e)
            self.enabled = False
            return True

    def close(self) -> None:
        if self.enabled:
            import cv2

            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)
            except cv2.error:  # pragma: no cover
                pass
