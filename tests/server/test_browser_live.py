"""Live in the browser: a fake camera (a shaking, noisy video of group_t1.jpg, see
conftest.py) streamed to the server, which tracks the faces per connection.

Over 60 answered frames every person keeps one track id (no id churn); the stage, the
controls and the numbers fit the window at 1366x768 and on a phone; when the server
stops, the page says it is reconnecting and resumes once the server is back.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.server.browser_kit import VIEWPORTS, ServerThread, open_page, save_shot

STATE = """() => { const o = document.querySelector('#overlay');
  return {frames: Number(o.dataset.frames || 0), ids: o.dataset.ids || '',
          seen: Number(o.dataset.seen || 0), connected: o.dataset.connected || ''}; }"""

# Chromium logs each refused WebSocket connection while the server is down
RECONNECT_NOISE = ("WebSocket connection to", "ERR_CONNECTION_REFUSED")


def wait_for(page: Any, test: Any, timeout: float, what: str) -> dict[str, Any]:
    """Poll the overlay's state until ``test(state)``; our CSP forbids wait_for_function."""
    deadline = time.monotonic() + timeout
    while True:
        state = page.evaluate(STATE)
        if test(state):
            return state
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; last state {state}")
        time.sleep(0.1)


def in_view(page: Any, selector: str) -> bool:
    return page.evaluate(
        """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
           return r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight + 0.5
                  && r.right <= innerWidth + 0.5; }""",
        selector,
    )


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_live_fits_the_window(server: ServerThread, browser: Any, viewport: str) -> None:
    context, page, log = open_page(browser, server.url, viewport)
    try:
        page.click("#tab-live")
        page.click("#live-start")
        wait_for(page, lambda s: s["frames"] >= 2, 30, "the first answers")
        for sel in ("#video-stage", "#live-stop", "#fps", "#live-people", "#live-threshold"):
            assert in_view(page, sel), f"{sel} is not in the {VIEWPORTS[viewport][:2]} window"
        assert page.evaluate("document.activeElement.id") == "live-stop"
        save_shot(page, f"live-fit-{viewport}", full_page=False)
        page.click("#live-stop")
        assert page.evaluate("document.activeElement.id") == "live-start"
    finally:
        context.close()
    log.check()


def test_track_ids_stay_over_60_frames_and_the_page_reconnects(
    server: ServerThread, browser: Any, photos: Path
) -> None:
    context, page, log = open_page(browser, server.url, "desktop")
    try:
        page.click("#tab-live")
        page.click("#live-start")
        first = wait_for(page, lambda s: s["frames"] >= 1, 30, "the first answer")
        seen_ids = set()
        while (state := page.evaluate(STATE))["frames"] < first["frames"] + 60:
            seen_ids.add(state["ids"])
            time.sleep(0.05)
        # six people, the same six ids from the first frame to the 60th and after
        assert seen_ids == {"1,2,3,4,5,6"}, seen_ids
        assert state["seen"] == 6, state
        assert page.locator("#live-people").inner_text() == "6"

        # the server goes away: "Reconnecting…", then it comes back and frames flow again
        server.stop()
        page.wait_for_selector("#live-status.reconnecting", timeout=15_000)
        assert "Reconnecting" in page.locator("#live-status").inner_text()
        save_shot(page, "live-reconnecting", full_page=False)
        time.sleep(1.0)
        server.start()
        before = page.evaluate(STATE)["frames"]
        wait_for(
            page,
            lambda s: s["connected"] == "1" and s["frames"] >= before + 5,
            30,
            "answers after the server restarted",
        )
        assert page.locator("#live-status.reconnecting").count() == 0
        page.click("#live-stop")
    finally:
        context.close()
    log.check(allow=RECONNECT_NOISE)
