"""The web page in a real browser: Debian's Chromium driven by Playwright, a fake webcam.

The server runs in a background thread on a free 127.0.0.1 port; the webcam is a Y4M
video made from a shared photo (Chromium's ``--use-file-for-fake-video-capture``).
Screenshots of each page (desktop 1280x800 and phone 390x844) go to ``tmp_path`` and,
when ``AGEGENDER_SCREENSHOTS`` is set, to that folder too.

Skips with the reason when Playwright or /usr/bin/chromium is missing (run
``.ci/browser-deps.sh``), except under ``CI``, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
#: name: (width, height, colour scheme): the phone also checks the dark theme
VIEWPORTS = {"desktop": (1280, 800, "light"), "phone": (390, 844, "dark")}


def _need_browser() -> None:
    missing = []
    for module, hint in (
        ("playwright", "pip install playwright"),
        ("uvicorn", "pip install '.[server]'"),
        ("fastapi", "pip install '.[server]'"),
    ):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"{module} ({hint})")
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (run .ci/browser-deps.sh)")
    if missing:
        why = "browser test needs " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_y4m(
    photo: Path, dest: Path, frames: int = 30, size: tuple[int, int] = (640, 480)
) -> Path:
    """A Y4M (YUV 4:2:0) video of ``photo`` letterboxed to ``size``, repeated ``frames`` times."""
    import cv2

    w, h = size
    bgr = cv2.imread(str(photo))
    s = min(w / bgr.shape[1], h / bgr.shape[0])
    small = cv2.resize(
        bgr, (round(bgr.shape[1] * s), round(bgr.shape[0] * s)), interpolation=cv2.INTER_AREA
    )
    canvas = np.zeros((h, w, 3), np.uint8)
    y0, x0 = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    canvas[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
    yuv = cv2.cvtColor(canvas, cv2.COLOR_BGR2YUV_I420).tobytes()  # Y, then U, then V planes
    with open(dest, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + yuv)
    return dest


@pytest.fixture
def live_server(use_mirror: Path) -> Iterator[str]:
    """The app on a free 127.0.0.1 port, in a background thread; yields its base URL."""
    _need_browser()
    import uvicorn

    from agegender import Analyzer
    from agegender.server import ServerSettings, create_app

    app = create_app(ServerSettings(rate_limit=0), analyzer=Analyzer())
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _save(page: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    extra = os.environ.get("AGEGENDER_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_photo_live_and_about_pages(
    live_server: str, photos: Path, tmp_path: Path, viewport: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    video = write_y4m(photos / "group_t1.jpg", tmp_path / "camera.y4m")
    args = [*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={video}"]
    problems: list[str] = []
    foreign: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args, headless=True)
        try:
            w, h, scheme = VIEWPORTS[viewport]
            context = browser.new_context(
                viewport={"width": w, "height": h},
                device_scale_factor=1 if w > 500 else 2,
                color_scheme=scheme,
            )
            page = context.new_page()
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
                ),
            )
            page.on(
                "request",
                lambda r: (
                    foreign.append(r.url)
                    if not r.url.startswith((live_server, "data:", "blob:"))
                    else None
                ),
            )
            page.goto(live_server + "/")

            # --- Photo: pick a file; 6 rows and 6 boxes drawn on the canvas
            page.set_input_files("#file", str(photos / "group_t1.jpg"))
            page.wait_for_selector('#photo-canvas[data-boxes="6"]', timeout=30_000)
            assert page.locator("#faces tbody tr").count() == 6
            labels = page.locator("#faces tbody tr").all_inner_texts()
            assert all("y" in t and "%" in t for t in labels), labels
            drawn = page.evaluate(
                """() => {
                  const css = getComputedStyle(document.documentElement);
                  const rgb = (v) => { const h = css.getPropertyValue(v).trim().slice(1);
                    return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16)); };
                  const want = [rgb('--female'), rgb('--male')];
                  const c = document.querySelector('#photo-canvas');
                  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let n = 0;
                  for (let i = 0; i < d.length; i += 4) {
                    if (want.some(([r, g, b]) =>
                        Math.abs(d[i] - r) + Math.abs(d[i+1] - g) + Math.abs(d[i+2] - b) < 30)) n++;
                  }
                  return n; }"""
            )
            assert drawn > 500, "the canvas shows no box or label colours"
            _save(page, tmp_path, f"photo-{viewport}")

            # --- Live: the fake camera's frames go over the WebSocket; boxes appear
            page.click("#tab-live")
            page.click("#live-start")
            # (selectors and expect() rather than wait_for_function: our CSP forbids eval)
            page.wait_for_selector('#overlay:not([data-boxes="0"])', timeout=30_000)
            expect(page.locator("#fps")).not_to_have_text("–", timeout=15_000)
            _save(page, tmp_path, f"live-{viewport}")
            page.click("#live-stop")

            # --- About: the models table comes from /v1/models
            page.click("#tab-about")
            expect(page.locator("#models tbody tr").first).to_be_visible(timeout=10_000)
            _save(page, tmp_path, f"about-{viewport}")
            context.close()
        finally:
            browser.close()
    assert not problems, problems
    assert not foreign, f"the page fetched something not from this server: {foreign}"
