"""Small page behaviours: a reload on #live does not scroll the page; the saved image is
the same whatever the viewer's theme."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from tests.server.browser_kit import ServerThread, open_page, upload

pytestmark = pytest.mark.browser

SAVED = """async () => {
  const { annotatedBlob, shown } = await import('/static/photo.js');
  const blob = await annotatedBlob(shown.entry);
  return Array.from(new Uint8Array(await blob.arrayBuffer())); }"""


def test_reload_on_live_keeps_the_top(server: ServerThread, browser: Any) -> None:
    context, page, log = open_page(browser, server.url, "phone")
    try:
        page.goto(server.url + "/#live")
        page.reload()
        page.wait_for_timeout(300)
        assert page.get_attribute("#tab-live", "aria-selected") == "true"
        assert page.evaluate("window.scrollY") == 0
    finally:
        context.close()
    log.check()


def test_saved_image_does_not_depend_on_the_theme(
    server: ServerThread, browser: Any, photos: Path
) -> None:
    digests = {}
    for scheme in ("light", "dark"):
        context, page, log = open_page(browser, server.url, "desktop", color_scheme=scheme)
        try:
            upload(page, photos / "group_t1.jpg")
            data = bytes(page.evaluate(SAVED))
            assert data[:2] == b"\xff\xd8", "not a JPEG"
            digests[scheme] = hashlib.sha256(data).hexdigest()
        finally:
            context.close()
        log.check()
    assert digests["light"] == digests["dark"], digests
