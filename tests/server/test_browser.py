"""The web page in a real browser: Debian's Chromium driven by Playwright, a fake webcam.

A smoke test of the three tabs at a laptop size (light theme) and a phone size (dark
theme): the photo's faces are drawn and listed, Live shows boxes and a frame rate, About
lists the models; nothing is fetched from anywhere but this server and the console shows
no error. Fixtures: ``conftest.py``; helpers: ``browser_kit.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.server.browser_kit import VIEWPORTS, ServerThread, open_page, save_shot, upload


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_photo_live_and_about_pages(
    server: ServerThread, browser: Any, photos: Path, viewport: str
) -> None:
    from playwright.sync_api import expect

    context, page, log = open_page(browser, server.url, viewport)
    try:
        # --- Photo: pick a file; 6 cards and 6 boxes drawn on the canvas
        upload(page, photos / "group_t1.jpg")
        page.wait_for_selector('#photo-canvas[data-boxes="6"]')
        cards = page.locator(".face-card")
        assert cards.count() == 6
        texts = cards.all_inner_texts()
        assert all("Adience group" in t and "80% interval" in t and "%" in t for t in texts), texts
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
                    Math.abs(d[i] - r) + Math.abs(d[i+1] - g) + Math.abs(d[i+2] - b) < 40)) n++;
              }
              return n; }"""
        )
        assert drawn > 300, "the canvas shows no box colours"
        save_shot(page, f"photo-{viewport}")

        # --- Live: the fake camera's frames go over the WebSocket; boxes appear
        page.click("#tab-live")
        page.click("#live-start")
        # (selectors and expect() rather than wait_for_function: our CSP forbids eval)
        page.wait_for_selector('#overlay:not([data-boxes="0"])', timeout=30_000)
        expect(page.locator("#fps")).not_to_have_text("–", timeout=15_000)
        save_shot(page, f"live-{viewport}")
        page.click("#live-stop")

        # --- About: the models table comes from /v1/models
        page.click("#tab-about")
        expect(page.locator("#models tbody tr").first).to_be_visible(timeout=10_000)
        save_shot(page, f"about-{viewport}")
    finally:
        context.close()
    log.check()
