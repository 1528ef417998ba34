"""Accessibility in the browser: axe-core (vendored, test-only: tests/server/assets/)
finds no serious or critical violation on any tab, with a result, cards, a gallery and
the Photo settings shown, in the light and the dark theme (WCAG 2 AA rules, colour contrast included); the
result is announced in a live region; every control is reachable with the keyboard and
shows its focus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.server.browser_kit import ServerThread, open_page, save_shot, upload

AXE = Path(__file__).resolve().parent / "assets" / "axe.min.js"
RUN_AXE = """async () => {
  const r = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
    resultTypes: ['violations'] });
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ': ' + n.failureSummary)}));
}"""


def axe_violations(page: Any) -> list[dict[str, Any]]:
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    return page.evaluate(RUN_AXE)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_axe_violations(
    server: ServerThread, browser: Any, photos: Path, scheme: str
) -> None:
    viewport = "desktop" if scheme == "light" else "phone"
    context, page, log = open_page(browser, server.url, viewport, color_scheme=scheme)
    found: dict[str, Any] = {}
    try:
        found["empty photo tab"] = axe_violations(page)
        upload(page, photos / "group_t1.jpg", photos / "astronaut.png")
        page.click('.marker[data-face="0"]')  # a selected card and marker too
        found["result, cards, gallery"] = axe_violations(page)
        page.click("#photo-settings summary")
        found["settings open"] = axe_violations(page)
        save_shot(page, f"a11y-photo-{scheme}")
        page.click("#tab-live")
        found["live tab"] = axe_violations(page)
        page.click("#tab-about")
        page.locator("#models tbody tr").first.wait_for()
        found["about tab"] = axe_violations(page)
        save_shot(page, f"a11y-about-{scheme}")
    finally:
        context.close()
    log.check()
    bad = {k: v for k, v in found.items() if v}
    assert not bad, bad


def test_result_announced_and_keyboard_reaches_everything(
    server: ServerThread, browser: Any, photos: Path
) -> None:
    context, page, log = open_page(browser, server.url, "desktop")
    try:
        upload(page, photos / "group_t1.jpg")
        page.locator("#announcer").filter(has_text="6 faces found").wait_for(state="attached")
        assert "Face 1: perceived" in page.locator("#announcer").inner_text()
        assert page.get_attribute("#photo-canvas", "role") == "img"
        assert "6 faces" in page.get_attribute("#photo-canvas", "aria-label")

        # Tab through the page: every marker and card is reached, each with a visible focus
        seen: list[str] = []
        page.focus("a.brand")  # the first thing on the page
        for _ in range(40):
            page.keyboard.press("Tab")
            info = page.evaluate(
                """() => { const e = document.activeElement; const s = getComputedStyle(e);
                   return {id: e.id, cls: e.className, face: e.dataset.face || '', tag: e.tagName,
                           outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2}; }"""
            )
            if info["tag"] == "BODY":
                break
            assert info["outline"], f"no visible focus on {info}"
            name = (info["cls"].split() or [info["tag"].lower()])[0]
            seen.append(info["id"] or f"{name}:{info['face']}")
        for want in (
            "tab-photo",
            "drop",
            "choose-folder",
            "summary:",
            "zoom-in",
            "dl-json",
            "dl-image",
        ):
            assert want in seen, (want, " ".join(seen))
        assert sum(s.startswith("marker:") for s in seen) == 6, seen
        assert sum(s.startswith("face-card:") for s in seen) == 6, seen
    finally:
        context.close()
    log.check()
