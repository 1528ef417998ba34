"""Live with a video file as the source: a group photo moving across the frame.

The boxes glide between answers at display rate (more paints than answers, and paints
between answers that are not at an answer's position); a new track shows its box and
number only until it was in a few answers, then its answer; "people" counts the tracks
that lasted (six here), not every track id.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.server.browser_kit import ServerThread, open_page, save_shot

pytestmark = pytest.mark.browser

STATE = """() => { const o = document.querySelector('#overlay');
  return {frames: Number(o.dataset.frames || 0), paints: Number(o.dataset.paints || 0),
          tweens: Number(o.dataset.tweens || 0), pending: Number(o.dataset.pending || 0),
          boxes: Number(o.dataset.boxes || 0), seen: Number(o.dataset.seen || 0),
          people: document.querySelector('#live-people').textContent}; }"""


@pytest.fixture(scope="module")
def moving_video(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """group_t1.jpg panning 1 px a frame inside a 640x480 frame, 80 frames, VP8 WebM."""
    import cv2

    bgr = cv2.imread(str(photos / "group_t1.jpg"))
    s = 620 / bgr.shape[1]
    small = cv2.resize(bgr, (620, round(bgr.shape[0] * s)), interpolation=cv2.INTER_AREA)
    dest = tmp_path_factory.mktemp("live-file") / "moving.webm"
    out = cv2.VideoWriter(str(dest), cv2.VideoWriter_fourcc(*"VP80"), 10, (640, 480))
    if not out.isOpened():
        pytest.skip("this OpenCV cannot write VP8 WebM")
    for k in range(80):
        frame = np.zeros((480, 640, 3), np.uint8)
        x = k % 40 if (k // 40) % 2 == 0 else 39 - k % 40
        y = (480 - small.shape[0]) // 2
        frame[y : y + small.shape[0], x : x + small.shape[1]] = small[:, : min(620, 640 - x)]
        out.write(frame)
    out.release()
    return dest


def test_video_file_source_glides_and_counts_people(
    server: ServerThread, browser: Any, moving_video: Path
) -> None:
    context, page, log = open_page(browser, server.url, "desktop")
    try:
        page.click("#tab-live")
        page.set_input_files("#live-file", str(moving_video))
        assert "moving.webm" in page.inner_text("#live-source")
        pending_seen = 0
        deadline = time.monotonic() + 90
        while (s := page.evaluate(STATE))["frames"] < 12:
            if s["frames"] <= 2:
                pending_seen = max(pending_seen, s["pending"])
            assert time.monotonic() < deadline, f"too few answers: {s}"
            time.sleep(0.05)
        # first answers: boxes and numbers only; later, every face shows its answer
        assert pending_seen > 0, "new tracks showed an answer before any evidence"
        assert s["pending"] == 0 and s["boxes"] >= 4, s
        # display rate: more paints than answers, some of them between two answers' boxes
        assert s["paints"] > 2 * s["frames"], s
        assert s["tweens"] > 0, s
        # people: the tracks that lasted, at most every track id seen
        assert 4 <= int(s["people"]) <= s["seen"], s
        assert page.evaluate("document.querySelector('#video').srcObject") is None
        save_shot(page, "live-file-desktop", full_page=False)
        page.click("#live-file-clear")
        assert page.inner_text("#live-source") == ""
        assert page.is_enabled("#live-start")
    finally:
        context.close()
    log.check()
