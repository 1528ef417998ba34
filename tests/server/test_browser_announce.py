"""What a screen reader hears: the live region's timeline for one photo, two photos and a
bad file (one message per result or error, in order, the batch counter after them), the
region in the accessibility tree, and an accessible name on every control of every tab."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.server.browser_kit import ServerThread, open_page

pytestmark = pytest.mark.browser

# every message added to the live region, with the time it was added
RECORD = """() => {
  window.__said = [];
  const region = document.querySelector('#announcer');
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) {
      window.__said.push({t: performance.now(), text: n.textContent});
    }
  }).observe(region, {childList: true, subtree: true, characterData: true});
}"""
CONTROLS = {"button", "slider", "spinbutton", "checkbox", "combobox", "textbox", "tab", "link"}


def said(page: Any, count: int) -> list[str]:
    """Wait until ``count`` messages were added, give a late extra one time to show, and
    return them all."""
    page.wait_for_function("(n) => window.__said.length >= n", arg=count, timeout=60_000)
    page.wait_for_timeout(1200)
    return [m["text"] for m in page.evaluate("window.__said")]


def ax_nodes(page: Any) -> list[dict[str, Any]]:
    cdp = page.context.new_cdp_session(page)
    try:
        return list(cdp.send("Accessibility.getFullAXTree")["nodes"])
    finally:
        cdp.detach()


def test_the_live_region_says_each_result_then_the_count(
    server: ServerThread, browser: Any, photos: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"this is not a JPEG at all" * 40)
    context, page, log = open_page(browser, server.url, "desktop")
    try:
        page.evaluate(RECORD)
        page.set_input_files("#file", str(photos / "astronaut.png"))
        one = said(page, 1)
        assert len(one) == 1, one
        assert one[0].startswith("astronaut.png: 1 face found. Face 1: perceived "), one

        page.reload()
        page.evaluate(RECORD)
        page.set_input_files("#file", [str(photos / "astronaut.png"), str(photos / "group_t1.jpg")])
        two = said(page, 3)
        assert len(two) == 3, two
        assert two[0].startswith("astronaut.png: 1 face found. Face 1:"), two
        assert two[1] == "group_t1.jpg: 6 faces found.", two
        assert two[2] == "2 of 2 photos analyzed.", two
        times = [m["t"] for m in page.evaluate("window.__said")]
        assert all(b - a >= 300 for a, b in zip(times, times[1:])), times  # none cut short

        page.reload()
        page.evaluate(RECORD)
        page.set_input_files("#file", str(bad))
        err = said(page, 1)
        assert len(err) == 1 and err[0].startswith("bad.jpg: "), err
        assert "image" in err[0].lower(), err

        # the region is in the accessibility tree, named, and still holds what it said
        region = [n for n in ax_nodes(page) if n.get("role", {}).get("value") == "log"]
        assert len(region) == 1 and not region[0].get("ignored"), region
        assert region[0]["name"]["value"] == "Announcements"
    finally:
        context.close()
    log.check(allow=("400 (Bad Request)",))


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_every_control_has_an_accessible_name(
    server: ServerThread, browser: Any, photos: Path, viewport: str
) -> None:
    context, page, log = open_page(browser, server.url, viewport)
    unnamed: dict[str, list[str]] = {}
    try:
        page.set_input_files("#file", [str(photos / "astronaut.png"), str(photos / "group_t1.jpg")])
        page.wait_for_selector("#photo-progress", state="hidden", timeout=60_000)
        page.wait_for_selector('#photo-result[data-source="astronaut.png"]')
        for tab in ("photo", "live", "about"):
            page.click(f"#tab-{tab}")
            page.wait_for_timeout(300)
            nodes = [n for n in ax_nodes(page) if not n.get("ignored")]
            roles = {n.get("role", {}).get("value") for n in nodes}
            assert "button" in roles
            unnamed[tab] = [
                n["role"]["value"]
                for n in nodes
                if n.get("role", {}).get("value") in CONTROLS
                and not (n.get("name", {}).get("value") or "").strip()
            ]
    finally:
        context.close()
    log.check()
    assert not any(unnamed.values()), unnamed
