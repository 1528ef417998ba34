"""Fixtures of the browser tests: one server and one Chromium for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.browser_kit import CHROMIUM, CHROMIUM_ARGS, ServerThread, need_browser, write_y4m


@pytest.fixture(scope="session")
def server(
    mirror: Path, photos: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    """The app (rate limit off, models from the shared mirror) on a free 127.0.0.1 port."""
    need_browser()
    from agegender.server import ServerSettings, create_app

    # the mirror is set only while the models load (one analysis loads them all), so that
    # it does not leak into the tests that run after these
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGEGENDER_MIRROR", str(mirror))
        mp.setenv("AGEGENDER_HOME", str(tmp_path_factory.mktemp("agegender-home")))
        from agegender import Analyzer

        analyzer = Analyzer()
        analyzer.analyze(str(photos / "group_t1.jpg"))
    srv = ServerThread(lambda: create_app(ServerSettings(rate_limit=0), analyzer=analyzer))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def camera_video(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake webcam: group_t1.jpg, shaking by up to 3 px, with noise, 40 frames."""
    dest = tmp_path_factory.mktemp("camera") / "camera.y4m"
    return write_y4m(photos / "group_t1.jpg", dest, frames=40, jitter=3, noise=6.0)


@pytest.fixture(scope="session")
def browser(camera_video: Path) -> Iterator[Any]:
    need_browser()
    from playwright.sync_api import sync_playwright

    args = [*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={camera_video}"]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=args, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def mosaic(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """group_t1.jpg tiled 4x4 (5120x3544, 16 copies of its 6 faces): a crowd."""
    from PIL import Image

    tile = Image.open(photos / "group_t1.jpg").convert("RGB")
    w, h = tile.size
    big = Image.new("RGB", (4 * w, 4 * h))
    for i in range(16):
        big.paste(tile, ((i % 4) * w, (i // 4) * h))
    dest = tmp_path_factory.mktemp("mosaic") / "mosaic.jpg"
    big.save(dest, quality=85)
    return dest
