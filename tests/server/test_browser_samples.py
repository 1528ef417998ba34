"""The sample photos shipped with the page (public domain): a new visitor tries the page
at once with one click."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.server.browser_kit import ServerThread, open_page, save_shot

pytestmark = pytest.mark.browser
SAMPLES = Path(__file__).resolve().parents[2] / "src/agegender/server/static/samples"


def test_every_sample_is_listed_with_its_license() -> None:
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    photos = sorted(p.name for p in SAMPLES.iterdir() if p.suffix in {".jpg", ".png"})
    assert photos, "no sample photo"
    for name in photos:
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{name}`")), "")
        assert "public domain" in row, f"{name}: no row saying it is public domain"


@pytest.mark.parametrize(
    ("viewport", "button", "name"),
    [
        ("desktop", "astronaut (NASA, public domain)", "astronaut.jpg"),
        ("phone", "astronaut (NASA, public domain)", "astronaut.jpg"),
        ("phone", "Grace Hopper (US Navy, public domain)", "grace_hopper.jpg"),
    ],
)
def test_a_sample_is_analyzed_with_one_click(
    server: ServerThread, browser: Any, viewport: str, button: str, name: str
) -> None:
    context, page, log = open_page(browser, server.url, viewport)
    try:
        buttons = page.locator("button.sample")
        assert sorted(
            buttons.nth(i).get_attribute("data-sample") for i in range(buttons.count())
        ) == sorted(
            p.name for p in SAMPLES.iterdir() if p.suffix in {".jpg", ".png"}
        )  # a button per sample photo, and no button without one
        page.get_by_role("button", name=button).click()
        page.wait_for_selector(f'#photo-result[data-source="{name}"]', timeout=60_000)
        assert page.locator(".face-card").count() == 1
        assert page.locator(".marker:not([hidden])").count() == 1
        save_shot(page, f"sample-{name.split('.')[0]}-{viewport}", full_page=False)
    finally:
        context.close()
    log.check()
