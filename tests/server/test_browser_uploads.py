"""Uploads in the browser: large photos reduced before they are sent (the saved picture
keeps the full resolution), progress and cancel, a message the visitor can act on when
the server cannot be reached."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.server.browser_kit import ServerThread, open_page, save_shot, upload

# what Chromium logs for a request the test makes fail
REFUSED = ("ERR_CONNECTION_REFUSED", "Failed to load resource")


@pytest.fixture(scope="module")
def big_photo(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """group_t1.jpg enlarged to 8000x5538 (44 MP: above the server's 40 MP)."""
    from PIL import Image

    dest = tmp_path_factory.mktemp("big") / "big.jpg"
    Image.open(photos / "group_t1.jpg").convert("RGB").resize((8000, 5538)).save(dest, quality=70)
    return dest


@pytest.fixture(scope="module")
def noisy_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1000x1000 PNG of noise (3 MB: slow to send on a throttled link)."""
    from PIL import Image

    dest = tmp_path_factory.mktemp("noise") / "noise.png"
    rgb = np.random.default_rng(0).integers(0, 256, (1000, 1000, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(dest)
    return dest


def test_a_photo_above_the_limits_is_reduced_before_upload(
    server: ServerThread, browser: Any, big_photo: Path
) -> None:
    from PIL import Image

    context, page, log = open_page(browser, server.url, "desktop")
    try:
        upload(page, big_photo)
        assert page.locator(".face-card").count() == 6
        assert "8000\u00d75538" in page.locator("#photo-summary").inner_text()
        with page.expect_download() as dl:
            page.click("#dl-json")
        result = json.loads(Path(dl.value.path()).read_text())
        w, h = result["analyzed_size"]  # what the server was sent and analyzed
        assert max(w, h) <= 3072 and w * h <= 40_000_000
        assert (result["width"], result["height"]) == (8000, 5538)
        assert max(f["box"][2] for f in result["faces"]) > w  # in the photo's own pixels
        with page.expect_download() as dl:
            page.click("#dl-image")
        assert Image.open(io.BytesIO(Path(dl.value.path()).read_bytes())).size == (8000, 5538)
    finally:
        context.close()
    log.check()


def test_progress_and_cancel_on_a_slow_link(
    server: ServerThread, browser: Any, noisy_png: Path
) -> None:
    from playwright.sync_api import expect

    context, page, log = open_page(browser, server.url, "phone")
    try:
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 50, "downloadThroughput": 2e6, "uploadThroughput": 1e5},
        )
        page.set_input_files("#file", str(noisy_png))
        expect(page.locator("#photo-progress-text")).to_contain_text("Uploading", timeout=10_000)
        expect(page.locator("#photo-cancel")).to_be_visible()
        save_shot(page, "upload-progress-phone", full_page=False)
        page.click("#photo-cancel")
        expect(page.locator("#photo-status")).to_contain_text("Cancelled")
        expect(page.locator("#photo-progress")).to_be_hidden()
        assert page.locator("#photo-result").is_hidden()
    finally:
        context.close()
    log.check()


def test_an_unreachable_server_gets_a_message_to_act_on(
    server: ServerThread, browser: Any, photos: Path
) -> None:
    from playwright.sync_api import expect

    context, page, log = open_page(browser, server.url, "desktop")
    try:
        page.route("**/v1/analyze", lambda route: route.abort("connectionrefused"))
        page.set_input_files("#file", str(photos / "astronaut.png"))
        status = page.locator("#photo-status")
        expect(status).to_contain_text("Could not reach the server", timeout=10_000)
        expect(status).to_contain_text("retrying")
        expect(status).to_contain_text("check that the server is running")
        save_shot(page, "upload-unreachable", full_page=False)
        # the server is back: the retry gets through on its own
        page.unroute("**/v1/analyze")
        page.wait_for_selector('#photo-result[data-source="astronaut.png"]', timeout=15_000)
        assert page.locator(".face-card").count() == 1
    finally:
        context.close()
    log.check(allow=REFUSED)


def test_a_server_with_lower_limits_gets_the_photo_smaller(
    server: ServerThread, browser: Any, photos: Path
) -> None:
    """The first upload is answered 413 (as by a server with a lower limit than the page
    knows): the page sends the photo again, smaller, and shows its result."""
    context, page, log = open_page(browser, server.url, "desktop")
    calls: list[int] = []  # one entry per request

    def first_too_large(route: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            body = {"error": {"type": "PayloadTooLargeError", "message": "too large"}}
            route.fulfill(status=413, content_type="application/json", body=json.dumps(body))
        else:
            route.continue_()

    try:
        page.route("**/v1/analyze", first_too_large)
        upload(page, photos / "group_t1.jpg")
        assert len(calls) == 2, calls  # the one refused, the smaller one
        with page.expect_download() as dl:
            page.click("#dl-json")
        result = json.loads(Path(dl.value.path()).read_text())
        assert (result["width"], result["height"]) == (1280, 886)
        assert result["analyzed_size"][0] < 1280
    finally:
        context.close()
    log.check(allow=("413",))
