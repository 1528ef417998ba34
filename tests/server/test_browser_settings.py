"""The Photo tab's settings (minimum detection score, minimum face size, what to draw) and
the photo shown at once while it is sent and analyzed."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from tests.server.browser_kit import ServerThread, open_page, save_shot, upload


def _download(page: Any, button: str) -> bytes:
    with page.expect_download() as dl:
        page.click(button)
    return Path(dl.value.path()).read_bytes()


def _set(page: Any, selector: str, value: str) -> None:
    """Set an input's value as a person would leave it (one change event)."""
    page.eval_on_selector(
        selector,
        "(e, v) => { e.value = v; e.dispatchEvent(new Event('input')); "
        "e.dispatchEvent(new Event('change')); }",
        value,
    )


def _short_side(face: dict[str, Any]) -> float:
    x1, y1, x2, y2 = face["box"]
    return float(min(x2 - x1, y2 - y1))


def test_faces_shown_follow_the_settings(server: ServerThread, browser: Any, photos: Path) -> None:
    from playwright.sync_api import expect

    context, page, log = open_page(browser, server.url, "desktop")
    try:
        upload(page, photos / "group_t1.jpg")
        full = json.loads(_download(page, "#dl-json"))
        assert len(full["faces"]) == 6 and "filtered" not in full
        page.click("#photo-settings summary")
        # the slider starts at the server detector's own threshold (from /healthz)
        health = page.evaluate("fetch('/healthz').then((r) => r.json())")
        floor = health["detector"]["threshold"]
        assert float(page.locator("#photo-threshold").get_attribute("min")) == floor
        assert f"{floor:.2f}" in page.locator("#photo-threshold-floor").inner_text()
        assert float(page.locator("#live-threshold").get_attribute("min")) == floor  # Live too

        # min face: the median shorter side of the six boxes
        sides = sorted(_short_side(f) for f in full["faces"])
        min_face = int(np.ceil(sides[3]))
        want = [f for f in full["faces"] if _short_side(f) >= min_face]
        assert 0 < len(want) < 6
        page.click("#zoom-in")  # a change while zoomed in lays the new faces out (no error)
        _set(page, "#photo-minface", str(min_face))
        expect(page.locator(".face-card")).to_have_count(len(want))
        expect(page.locator(".marker")).to_have_count(len(want))
        expect(page.locator("#photo-summary")).to_contain_text(
            f"{6 - len(want)} more hidden by the settings"
        )
        expect(page.locator("#announcer")).to_contain_text(
            f"Showing {len(want)} of the 6 faces found."
        )
        kept = json.loads(_download(page, "#dl-json"))
        assert [f["box"] for f in kept["faces"]] == [f["box"] for f in want]
        assert kept["filtered"] == {"threshold": 0, "min_face": min_face, "faces_found": 6}

        # the score: between the lowest and the highest score of the six
        _set(page, "#photo-minface", "0")
        scores = sorted(f["score"] for f in full["faces"])
        cut = round((scores[0] + scores[-1]) / 2, 2)
        want = [f for f in full["faces"] if f["score"] >= cut]
        assert 0 < len(want) < 6, scores
        _set(page, "#photo-threshold", str(cut))
        expect(page.locator(".face-card")).to_have_count(len(want))
        expect(page.locator("#photo-threshold-out")).to_have_text(f"{cut:.2f}")

        # kept in this browser; Reset gives every face back
        page.reload()
        upload(page, photos / "group_t1.jpg")
        expect(page.locator(".face-card")).to_have_count(len(want))
        page.click("#photo-settings summary")
        page.click("#photo-settings-reset")
        expect(page.locator(".face-card")).to_have_count(6)
        expect(page.locator("#photo-settings-reset")).to_be_disabled()
    finally:
        context.close()
    log.check()


def test_drawing_settings_change_the_picture_and_the_saved_image(
    server: ServerThread, browser: Any, photos: Path
) -> None:
    from PIL import Image
    from playwright.sync_api import expect

    context, page, log = open_page(browser, server.url, "desktop")
    try:
        upload(page, photos / "group_t1.jpg")
        page.click("#photo-settings summary")
        plain = np.asarray(Image.open(photos / "group_t1.jpg").convert("RGB"), np.float32)

        def saved_diff() -> float:
            """Mean absolute difference of the saved image from the photo (same size)."""
            im = Image.open(io.BytesIO(_download(page, "#dl-image"))).convert("RGB")
            im = im.resize((plain.shape[1], plain.shape[0]), Image.Resampling.BILINEAR)
            return float(np.abs(np.asarray(im, np.float32) - plain).mean())

        everything = saved_diff()
        for box in ("#draw-labels", "#draw-boxes", "#draw-landmarks"):
            page.uncheck(box)
        expect(page.locator("#markers")).to_be_hidden()
        nothing = saved_diff()
        page.check("#draw-boxes")
        boxes = saved_diff()
        save_shot(page, "settings-boxes-only", full_page=False)
        # nothing drawn: the photo itself (JPEG and resampling only); boxes add some,
        # labels much more
        assert nothing < 1.5, nothing
        assert nothing < boxes < everything, (nothing, boxes, everything)
        # the cards still select a face with the labels off
        page.locator(".face-card").first.click()
        expect(page.locator(".face-card").first).to_have_attribute("aria-pressed", "true")
        page.check("#draw-labels")
        expect(page.locator(".marker")).to_have_count(6)
        page.check("#draw-landmarks")
    finally:
        context.close()
    log.check()


def test_the_photo_shows_at_once_while_it_is_analyzed(
    server: ServerThread, browser: Any, photos: Path
) -> None:
    """On a slow link the chosen photo is on screen (marked as being analyzed) before its
    answer comes; then the answer replaces it. A cancelled one gives the previous back."""
    from playwright.sync_api import expect

    context, page, log = open_page(browser, server.url, "phone")
    try:
        upload(page, photos / "astronaut.png")
        page.click("#zoom-in")  # the next photo opens at fit, its six markers laid out once
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        slow = {
            "offline": False,
            "latency": 400,
            "downloadThroughput": 2e6,
            "uploadThroughput": 2e5,
        }
        cdp.send("Network.emulateNetworkConditions", slow)
        page.set_input_files("#file", str(photos / "group_t1.jpg"))
        area = page.locator("#photo-result")
        expect(area).to_have_attribute("data-pending", "group_t1.jpg", timeout=10_000)
        expect(area).to_have_attribute("aria-busy", "true")
        expect(page.locator(".pending-note")).to_be_visible()
        expect(page.locator("#photo-title")).to_have_text("Analyzing\u2026")
        expect(page.locator("#dl-json")).to_be_disabled()
        # the picture is the new photo's: its aspect ratio (1280x886), not the astronaut's
        w, h = page.eval_on_selector("#photo-canvas", "(c) => [c.width, c.height]")
        assert abs(w / h - 1280 / 886) < 0.02, (w, h)
        save_shot(page, "upload-pending-phone", full_page=False)
        # cancelled: the astronaut's answer is back, not marked stale
        page.click("#photo-cancel")
        expect(area).to_have_attribute("data-source", "astronaut.png")
        expect(page.locator(".face-card")).to_have_count(1)
        expect(page.locator(".pending-note")).to_have_count(0)
        # sent again: the answer replaces the picture shown while it went
        page.set_input_files("#file", str(photos / "group_t1.jpg"))
        expect(area).to_have_attribute("data-pending", "group_t1.jpg", timeout=10_000)
        page.click("#zoom-in")  # zoomed into the preview when the answer comes (no error)
        cdp.send("Network.emulateNetworkConditions", {**slow, "latency": 0, "uploadThroughput": -1})
        expect(area).to_have_attribute("data-source", "group_t1.jpg", timeout=60_000)
        expect(page.locator(".face-card")).to_have_count(6)
        expect(area).to_have_attribute("aria-busy", "false")
        expect(page.locator(".pending-note")).to_have_count(0)
    finally:
        context.close()
    log.check()
