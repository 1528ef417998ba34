"""Many photos at once in the browser: a batch of 5, a gallery with face counts that
opens each result, and the CSV and JSON exports, checked against the REST API's answers
for the same files."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.server.browser_kit import ServerThread, open_page, save_shot

COLUMNS = "source,face,x1,y1,x2,y2,score,age_years,age_low,age_high,age_group,gender,gender_probability,error"


@pytest.fixture(scope="module")
def batch(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Five photos: the three shared ones, group_t1 mirrored, and a blank picture (no face)."""
    from PIL import Image, ImageOps

    d = tmp_path_factory.mktemp("batch")
    mirrored = d / "group_mirrored.jpg"
    ImageOps.mirror(Image.open(photos / "group_t1.jpg")).save(mirrored, quality=90)
    blank = d / "blank.png"
    Image.new("RGB", (320, 240), (200, 200, 200)).save(blank)
    names = ("group_t1.jpg", "astronaut.png", "Tom_Hanks_54745.png")
    return [photos / n for n in names] + [mirrored, blank]


def api_answer(base: str, path: Path) -> dict[str, Any]:
    """POST /v1/analyze of one file (multipart), as the page sends it."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{path.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + path.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    req = urllib.request.Request(
        base + "/v1/analyze",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def test_a_batch_of_five_exports_csv_and_json(
    server: ServerThread, browser: Any, batch: list[Path]
) -> None:
    from playwright.sync_api import expect

    expected = {p.name: api_answer(server.url, p) for p in batch}
    assert [len(expected[p.name]["faces"]) for p in batch] == [6, 1, 1, 6, 0]

    context, page, log = open_page(browser, server.url, "desktop")
    try:
        page.set_input_files("#file", [str(p) for p in batch])
        expect(page.locator("#gallery-title")).to_have_text(
            "5 photos \u00b7 5 analyzed", timeout=60_000
        )
        shots = page.locator("#gallery-list .shot")
        counts = [shots.nth(i).get_attribute("data-faces") for i in range(5)]
        assert counts == ["6", "1", "1", "6", "0"]
        # the first photo's result opened by itself; a thumbnail opens another
        assert page.get_attribute("#photo-result", "data-source") == "group_t1.jpg"
        shots.nth(1).click()
        page.wait_for_selector('#photo-result[data-source="astronaut.png"]')
        assert page.locator(".face-card").count() == 1
        assert shots.nth(1).get_attribute("aria-current") == "true"
        save_shot(page, "batch-desktop")

        with page.expect_download() as dl:
            page.click("#export-csv")
        text = Path(dl.value.path()).read_text(encoding="utf-8")
        with page.expect_download() as dl:
            page.click("#export-json")
        exported = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))

        # the Photo settings apply to the whole batch: its counts and exports follow them
        def side(f: dict[str, Any]) -> float:
            return min(f["box"][2] - f["box"][0], f["box"][3] - f["box"][1])

        sides = sorted(side(f) for p in batch for f in expected[p.name]["faces"])
        min_face = int(sides[len(sides) // 2]) + 1
        kept = [sum(side(f) >= min_face for f in expected[p.name]["faces"]) for p in batch]
        assert 0 < sum(kept) < len(sides)
        page.click("#photo-settings summary")
        page.fill("#photo-minface", str(min_face))
        page.dispatch_event("#photo-minface", "change")
        expect(shots.nth(0)).to_have_attribute("data-faces", str(kept[0]))
        assert [shots.nth(i).get_attribute("data-faces") for i in range(5)] == [str(k) for k in kept]
        with page.expect_download() as dl:
            page.click("#export-csv")
        filtered = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text("utf-8"))))
        for p, k in zip(batch, kept):
            faces = [r for r in filtered if r["source"] == p.name and r["face"]]
            assert len(faces) == k, (p.name, len(faces), k)
            assert all(float(r["x2"]) - float(r["x1"]) >= min_face - 0.2 for r in faces)
    finally:
        context.close()
    log.check()

    assert text.splitlines()[0] == COLUMNS
    rows = list(csv.DictReader(io.StringIO(text)))
    # one row per face, in file order; a photo with no face gets one row without a face
    want = [(p.name, str(i + 1)) for p in batch for i in range(len(expected[p.name]["faces"]))]
    want.insert(len(want), ("blank.png", ""))
    assert [(r["source"], r["face"]) for r in rows] == want
    for r in rows:
        if not r["face"]:
            assert r["score"] == r["age_years"] == r["gender"] == "" and r["error"] == ""
            continue
        # the page numbers faces in reading order (rows, then left to right): the server's
        # face with this box is the one the row describes
        box = [float(r[k]) for k in ("x1", "y1", "x2", "y2")]
        f = min(expected[r["source"]]["faces"],
                key=lambda e: sum(abs(a - b) for a, b in zip(e["box"], box)))
        assert box == pytest.approx(f["box"], abs=0.11)
        assert float(r["score"]) == pytest.approx(f["score"])
        assert float(r["age_years"]) == pytest.approx(f["age"]["years"])
        assert (float(r["age_low"]), float(r["age_high"])) == pytest.approx(
            (f["age"]["low"], f["age"]["high"])
        )
        assert r["age_group"] == f["age"]["group"]
        assert r["gender"] == f["gender"]["label"]
        assert float(r["gender_probability"]) == pytest.approx(f["gender"]["probability"])

    assert [e["source"] for e in exported] == [p.name for p in batch]
    assert [len(e["faces"]) for e in exported] == [6, 1, 1, 6, 0]
    # the same faces as the server's answer, in the page's reading order
    assert sorted(exported[0]["faces"], key=lambda f: f["box"]) == sorted(
        expected["group_t1.jpg"]["faces"], key=lambda f: f["box"])
    assert len({tuple(f["box"]) for f in exported[0]["faces"]}) == 6
