"""Crowds on a phone: the 4x4 mosaic of group_t1.jpg at 390x844 (touch, DPR 2), analyzed
for real as the page sends it (the 96 faces and the few false boxes the detector finds).

Every face gets a marker at the fit zoom (the tag alone, small, when crowded), numbered
in reading order; no marker overlaps another or covers another face; selecting a marker
brings its card up as a bottom sheet with the marker still in view above it; a pinch
with two fingers zooms the picture.
"""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from tests.server.browser_kit import ServerThread, open_page, save_shot, upload

pytestmark = pytest.mark.browser

#: markers and face boxes in CSS pixels of the picture, from the page's own state
STATE = """async () => {
  const { shown } = await import('/static/photo.js');
  const pic = document.querySelector('#photo-canvas').getBoundingClientRect();
  const markers = [...document.querySelectorAll('.marker')].map((m) => {
    const b = m.getBoundingClientRect();
    return { face: Number(m.dataset.face), num: m.querySelector('.num').textContent,
             hidden: m.hidden, level: m.dataset.level,
             r: [b.left - pic.left, b.top - pic.top, b.right - pic.left, b.bottom - pic.top] }; });
  return { w: pic.width, h: pic.height, markers,
           boxes: shown.boxes.map((b) => [b.x, b.y, b.x + b.w, b.y + b.h]) }; }"""


def inter(a: list[float], b: list[float]) -> float:
    """The area shared by two rectangles [x1, y1, x2, y2]."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def check_crowd(s: dict[str, Any], what: str) -> None:
    """Every face has a marker inside the picture; none overlaps another marker or
    covers another face's box (0.5 px tolerance)."""
    shown = [m for m in s["markers"] if not m["hidden"]]
    assert len(shown) == len(s["markers"]) == len(s["boxes"]), (
        f"{what}: {len(s['markers']) - len(shown)} of {len(s['markers'])} faces have no marker"
    )
    for m in shown:
        x1, y1, x2, y2 = m["r"]
        assert x1 >= -0.5 and y1 >= -0.5 and x2 <= s["w"] + 0.5 and y2 <= s["h"] + 0.5, (what, m)
    overlaps = [
        (a["num"], b["num"]) for a, b in combinations(shown, 2) if inter(a["r"], b["r"]) > 0.5
    ]
    assert not overlaps, f"{what}: markers overlap: {overlaps[:10]}"
    covers = [
        (m["num"], j + 1)
        for m in shown
        for j, box in enumerate(s["boxes"])
        if j != m["face"] and inter(m["r"], box) > 0.5
    ]
    assert not covers, f"{what}: markers cover other faces (marker, face): {covers[:10]}"


def check_reading_order(boxes: list[list[float]]) -> None:
    """Face n+1 is to the right of face n in the same row, or in a lower row."""
    for n, (a, b) in enumerate(zip(boxes, boxes[1:]), start=1):
        ay, by = (a[1] + a[3]) / 2, (b[1] + b[3]) / 2
        h = max(a[3] - a[1], b[3] - b[1])
        same_row_right = abs(by - ay) <= h and b[0] > a[0]
        assert same_row_right or by > ay, f"face {n + 1} is neither right of face {n} nor below it"


def pinch(page: Any, cx: float, cy: float, start: float, end: float, steps: int = 8) -> None:
    """Two fingers on (cx, cy), moving apart horizontally from `start` to `end` px."""
    cdp = page.context.new_cdp_session(page)

    def points(d: float) -> list[dict[str, float]]:
        return [{"x": cx - d / 2, "y": cy, "id": 0}, {"x": cx + d / 2, "y": cy, "id": 1}]

    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points(start)})
    for k in range(1, steps + 1):
        d = start + (end - start) * k / steps
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": points(d)})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def test_mosaic_on_a_phone(server: ServerThread, browser: Any, photos: Path, mosaic: Path) -> None:
    context, page, log = open_page(browser, server.url, "phone", touch=True)
    try:
        # the real analysis of the mosaic as the page sends it (reduced to 3072 px)
        upload(page, mosaic, timeout=120_000)
        s = page.evaluate(STATE)
        with page.expect_download() as dl:
            page.click("#dl-json")
        answer = json.loads(Path(dl.value.path()).read_text())
        # the 96 faces (and the few false boxes the detector also finds on the glasses)
        assert len(s["boxes"]) == len(answer["faces"]) >= 96, len(s["boxes"])
        check_crowd(s, "mosaic at the fit zoom")
        assert [m["num"] for m in s["markers"]] == [str(i + 1) for i in range(len(s["boxes"]))]
        check_reading_order(s["boxes"])
        assert page.locator("#markers-note").is_hidden()
        page.locator("#picture").scroll_into_view_if_needed()
        save_shot(page, "crowd-mosaic-phone", full_page=False)

        # a tap on a marker: its card comes up as a sheet, the marker stays in view above it
        target = len(s["boxes"]) // 2
        page.tap(f'.marker[data-face="{target}"]')
        sheet = page.locator("#sheet")
        sheet.wait_for(state="visible")
        assert f"Face {target + 1}" in sheet.inner_text()
        top = page.evaluate("document.querySelector('#sheet').getBoundingClientRect().top")
        r = page.evaluate(
            f"(() => {{ const b = document.querySelector('.marker[data-face=\"{target}\"]')"
            ".getBoundingClientRect(); return [b.top, b.bottom]; })()"
        )
        bar = page.evaluate("document.querySelector('.topbar').getBoundingClientRect().bottom")
        assert r[0] >= bar and r[1] <= top, (
            f"the marker {r} is not in view above the sheet at {top}"
        )
        save_shot(page, "crowd-sheet-phone", full_page=False)
        sheet.get_by_role("button", name="Next").tap()
        assert f"Face {target + 2}" in sheet.inner_text()
        assert page.get_attribute(f'.marker[data-face="{target + 1}"]', "aria-pressed") == "true"
        sheet.get_by_role("button", name="Close").tap()
        sheet.wait_for(state="hidden")
        assert page.locator('.marker[aria-pressed="true"]').count() == 0

        # pinch: two fingers apart zoom the picture in, markers still well placed
        w0 = s["w"]
        box = page.locator("#picture-scroll").bounding_box()
        pinch(page, box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, 60, 150)
        page.wait_for_function(
            f"document.querySelector('#photo-canvas').getBoundingClientRect().width > {w0 * 2}"
        )
        assert page.inner_text("#zoom-level") != "fit"
        check_crowd(page.evaluate(STATE), "mosaic after a pinch")
    finally:
        context.close()
    log.check()
