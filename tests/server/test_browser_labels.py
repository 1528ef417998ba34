"""Photo results in the browser: labels placed without collisions, cards, selection.

Every visible marker (a face's number and label) must lie inside the picture and
intersect no other marker, on group_t1.jpg and on a 4x4 mosaic of it (96 faces), at a
laptop size and a phone size; selecting a marker selects its card and the other way
round, by mouse, touch and keyboard.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from tests.server.browser_kit import VIEWPORTS, ServerThread, open_page, save_shot, upload

GEOMETRY = """() => {
  const pic = document.querySelector('#photo-canvas').getBoundingClientRect();
  const r = (e) => { const b = e.getBoundingClientRect();
    return [b.left - pic.left, b.top - pic.top, b.right - pic.left, b.bottom - pic.top]; };
  const all = [...document.querySelectorAll('.marker')];
  return { w: pic.width, h: pic.height, faces: all.length,
           shown: all.filter((m) => !m.hidden).map(r),
           full: all.filter((m) => !m.hidden && m.dataset.level === '0').length }; }"""


def assert_placed_well(g: dict[str, Any], what: str) -> None:
    eps = 0.5
    for x1, y1, x2, y2 in g["shown"]:
        assert x1 >= -eps and y1 >= -eps and x2 <= g["w"] + eps and y2 <= g["h"] + eps, (
            f"{what}: a label leaves the {g['w']}x{g['h']} picture: {(x1, y1, x2, y2)}"
        )
    for a, b in combinations(g["shown"], 2):
        apart = a[2] <= b[0] + eps or b[2] <= a[0] + eps or a[3] <= b[1] + eps or b[3] <= a[1] + eps
        assert apart, f"{what}: labels overlap: {a} and {b}"


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_labels_stay_inside_and_never_overlap(
    server: ServerThread, browser: Any, photos: Path, mosaic: Path, viewport: str
) -> None:
    context, page, log = open_page(browser, server.url, viewport)
    try:
        upload(page, photos / "group_t1.jpg")
        g = page.evaluate(GEOMETRY)
        assert g["faces"] == 6 and len(g["shown"]) == 6, g
        assert_placed_well(g, f"group_t1 at {viewport}")
        if viewport == "desktop":
            assert g["full"] == 6, "at 1366x768 every label should have room for its full text"
        save_shot(page, f"labels-group-{viewport}")

        upload(page, mosaic, timeout=150_000)  # 18 MP: decoded and reduced in the page
        g = page.evaluate(GEOMETRY)
        assert g["faces"] >= 90, g["faces"]
        assert_placed_well(g, f"mosaic at {viewport}")
        # most faces keep at least their number; the rest are said to have no room
        assert len(g["shown"]) >= 0.75 * g["faces"], (len(g["shown"]), g["faces"])
        if len(g["shown"]) < g["faces"]:
            assert page.locator("#markers-note").is_visible()
        save_shot(page, f"labels-mosaic-{viewport}", full_page=False)
        # zoomed in twice, every face has its marker, still without collisions
        page.click("#zoom-in")
        page.click("#zoom-in")
        g = page.evaluate(GEOMETRY)
        assert_placed_well(g, f"mosaic zoomed 3x at {viewport}")
        assert len(g["shown"]) == g["faces"], (len(g["shown"]), g["faces"])
        assert page.locator("#markers-note").is_hidden()
    finally:
        context.close()
    log.check()


def selected(page: Any) -> tuple[list[str], list[str]]:
    """The data-face of the pressed markers and of the pressed cards."""
    faces = lambda sel: page.eval_on_selector_all(  # noqa: E731
        sel, "els => els.map((e) => e.dataset.face)"
    )
    return faces('.marker[aria-pressed="true"]'), faces('.face-card[aria-pressed="true"]')


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_marker_and_card_select_each_other(
    server: ServerThread, browser: Any, photos: Path, viewport: str
) -> None:
    touch = viewport == "phone"
    context, page, log = open_page(browser, server.url, viewport, touch=touch)
    try:
        upload(page, photos / "group_t1.jpg")
        act = (lambda sel: page.tap(sel)) if touch else (lambda sel: page.click(sel))
        act('.marker[data-face="2"]')
        assert selected(page) == (["2"], ["2"])
        # on a phone the selected card also comes up in the bottom sheet (a copy, hidden from
        # screen readers); the list's own card is the one that is announced
        assert page.locator('.face-card[data-face="2"]:not([aria-hidden="true"])').is_visible()
        act('.face-card[data-face="4"]')
        assert selected(page) == (["4"], ["4"])
        act('.face-card[data-face="4"]')  # again: deselects
        assert selected(page) == ([], [])

        # keyboard: focus a marker, Enter selects, arrows move, Escape clears
        page.focus('.marker[data-face="0"]')
        page.keyboard.press("Enter")
        assert selected(page) == (["0"], ["0"])
        page.keyboard.press("ArrowRight")
        assert selected(page) == (["1"], ["1"])
        assert page.evaluate("document.activeElement.dataset.face") == "1"
        save_shot(page, f"selected-{viewport}")
        page.keyboard.press("Escape")
        assert selected(page) == ([], [])
    finally:
        context.close()
    log.check()
