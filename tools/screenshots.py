"""Regenerate the web page's screenshots in docs/images/ (used by docs/server.md).

Serves the app on a free port and opens the page in headless Chromium (Debian's
``/usr/bin/chromium`` through Playwright, as the browser tests do) with a fake camera
showing a group photo, and takes each screenshot as a new visitor would see it:

    python tools/screenshots.py                     # all, into docs/images/
    python tools/screenshots.py --out /tmp/shots    # elsewhere

Needs ``pip install ".[server]" playwright`` and ../shared beside the checkout (its photos)
or ``--photos DIR`` holding ``group_t1.jpg``. Models come as the server finds them (set
``AGEGENDER_MIRROR`` for a mirror).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server.browser_kit import CHROMIUM, CHROMIUM_ARGS, ServerThread, write_y4m  # noqa: E402

DESKTOP = {"viewport": {"width": 1366, "height": 768}, "device_scale_factor": 1}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "has_touch": True}
QUALITY = 82  # JPEG: the page's screenshots stay under ~200 KB each


@contextmanager
def serving() -> Iterator[str]:
    """The app on a free port of 127.0.0.1 (the browser tests' server thread), models
    loaded first, until the block ends."""
    from agegender import Analyzer
    from agegender.server import ServerSettings, create_app

    analyzer = Analyzer()
    analyzer.load()  # every model now: the first screenshot does not wait for them
    srv = ServerThread(lambda: create_app(ServerSettings(rate_limit=0), analyzer=analyzer))
    srv.start()
    try:
        yield srv.url
    finally:
        srv.stop()


def shoot(page: Any, out: Path, name: str) -> None:
    path = out / f"{name}.jpg"
    page.screenshot(path=str(path), type="jpeg", quality=QUALITY)
    print(f"{path} ({path.stat().st_size // 1000} KB)")


def photo_shots(browser: Any, url: str, photos: Path, out: Path) -> None:
    # desktop, light: the sample photo, then a group with one face selected and the settings
    ctx = browser.new_context(color_scheme="light", **DESKTOP)
    page = ctx.new_page()
    page.goto(url + "/")
    page.click("button.sample")
    page.wait_for_selector('#photo-result[data-source="astronaut.jpg"]', timeout=60_000)
    # the result's top just below the sticky header
    page.evaluate("window.scrollTo(0, document.querySelector('#photo-result').offsetTop - 80)")
    shoot(page, out, "server-photo")
    page.set_input_files("#file", str(photos / "group_t1.jpg"))
    page.wait_for_selector('#photo-result[data-source="group_t1.jpg"]', timeout=60_000)
    page.click('.marker[data-face="2"]')
    page.click("#photo-settings summary")
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, out, "server-group-settings")
    ctx.close()
    # phone, dark: a group, a tap on a face brings its card up as a sheet
    ctx = browser.new_context(color_scheme="dark", **PHONE)
    page = ctx.new_page()
    page.goto(url + "/")
    page.set_input_files("#file", str(photos / "group_t1.jpg"))
    page.wait_for_selector('#photo-result[data-source="group_t1.jpg"]', timeout=60_000)
    page.tap('.marker[data-face="3"]')
    page.wait_for_selector("#sheet", state="visible")
    time.sleep(0.5)  # the sheet's scroll settles
    shoot(page, out, "server-phone-sheet")
    ctx.close()


def live_shot(browser: Any, url: str, out: Path) -> None:
    ctx = browser.new_context(color_scheme="dark", **DESKTOP)
    ctx.grant_permissions(["camera"])
    page = ctx.new_page()
    page.goto(url + "/#live")
    page.click("#live-start")
    deadline = time.monotonic() + 60
    while page.evaluate("Number(document.querySelector('#overlay').dataset.frames || 0)") < 25:
        if time.monotonic() > deadline:
            raise SystemExit("the Live tab showed no answers within 60 s")
        time.sleep(0.2)
    shoot(page, out, "server-live")
    page.click("#live-stop")
    ctx.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    ap.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "photos")
    args = ap.parse_args(argv)
    if not (args.photos / "group_t1.jpg").exists():
        ap.error(f"{args.photos / 'group_t1.jpg'} not found: pass --photos DIR")
    if not CHROMIUM.exists():
        ap.error(f"{CHROMIUM} not found: run .ci/browser-deps.sh")
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    # the fake camera's name in the page is its path: a short, fixed one
    folder = Path(tempfile.gettempdir()) / "agegender-demo"
    folder.mkdir(exist_ok=True)
    with serving() as url, sync_playwright() as p:
        camera = write_y4m(args.photos / "group_t1.jpg", folder / "camera.y4m", frames=60, jitter=2)
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={camera}"],
        )
        try:
            photo_shots(browser, url, args.photos, args.out)
            live_shot(browser, url, args.out)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
