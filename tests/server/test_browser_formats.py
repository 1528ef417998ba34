"""Every photo format the server reads works in the page: those Chromium decodes (AVIF,
16-bit PNG, CMYK JPEG) are drawn from the file, those it cannot (TIFF, HEIC with the heic
extra) from the downscaled preview in the server's answer. Each one shows its face, its card and a picture that is
not blank, with no page error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.server.browser_kit import ServerThread, open_page, save_shot, upload

pytestmark = pytest.mark.browser


def _write(rgb: Any, kind: str, dest: Path) -> Path:
    from PIL import Image

    img = Image.fromarray(rgb)
    if kind == "tiff":
        img.save(dest, "TIFF", compression="tiff_lzw")
    elif kind == "avif":
        img.save(dest, "AVIF", quality=80)
    elif kind == "png16":
        import cv2  # Pillow cannot write 16-bit colour PNGs; OpenCV can

        wide = rgb.astype(np.uint16) * 257  # 16 bits per channel, the same picture
        cv2.imwrite(str(dest), np.ascontiguousarray(wide[..., ::-1]))
    elif kind == "cmyk":
        img.convert("CMYK").save(dest, "JPEG", quality=90)
    elif kind == "heic":
        import pillow_heif

        pillow_heif.from_pillow(img).save(dest, quality=85)
    return dest


FORMATS = {
    "tiff": "photo.tiff",
    "avif": "photo.avif",
    "png16": "photo16.png",
    "cmyk": "cmyk.jpg",
    "heic": "IMG_0001.HEIC",
}


def _can_write(kind: str) -> bool:
    from importlib.util import find_spec

    from PIL import features

    if kind == "avif":
        return bool(features.check("avif"))
    if kind == "heic":
        return find_spec("pillow_heif") is not None  # the heic extra (in the test extra)
    return True


@pytest.fixture(scope="module")
def format_files(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from PIL import Image

    rgb = np.asarray(Image.open(photos / "astronaut.png").convert("RGB"))
    d = tmp_path_factory.mktemp("formats")
    out = {}
    for kind, name in FORMATS.items():
        if _can_write(kind):
            out[kind] = _write(rgb, kind, d / name)
    return out


@pytest.mark.parametrize("kind", list(FORMATS))
def test_each_format_shows_its_face_and_picture(
    server: ServerThread, browser: Any, format_files: dict[str, Path], kind: str
) -> None:
    from PIL import Image

    if kind not in format_files:
        pytest.skip(f"no writer for {kind} here (pip install '.[heic]' for HEIC); nor a reader")
    path = format_files[kind]
    if kind == "png16":
        assert path.read_bytes()[24] == 16  # IHDR bit depth: really 16 bits per channel
    if kind == "cmyk":
        assert Image.open(path).mode == "CMYK"
    context, page, log = open_page(browser, server.url, "desktop")
    try:
        upload(page, path)
        assert page.locator(".face-card").count() == 1
        assert page.locator(".marker").count() == 1  # drawn by the page, not by the server
        # the picture is drawn: the canvas is not one flat colour
        spread = page.evaluate("""() => {
          const c = document.querySelector('#photo-canvas');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let lo = 255, hi = 0;
          for (let i = 0; i < d.length; i += 97) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); }
          return hi - lo;
        }""")
        assert spread > 100, f"{kind}: the picture looks blank (spread {spread})"
        assert "512\u00d7512" in page.locator("#photo-summary").inner_text()
        thumb = page.locator(".face-card canvas.thumb").first
        assert thumb.count() == 1
        save_shot(page, f"format-{kind}", full_page=False)
    finally:
        context.close()
    log.check()


def _post(url: str, path: Path) -> dict[str, Any]:
    import json
    import urllib.request

    req = urllib.request.Request(
        url, data=path.read_bytes(), headers={"Content-Type": "application/octet-stream"}
    )
    with urllib.request.urlopen(req, timeout=60) as res:
        return dict(json.loads(res.read()))


def test_the_preview_is_asked_for_and_small(
    server: ServerThread, format_files: dict[str, Path]
) -> None:
    import base64
    import io

    from PIL import Image

    plain = _post(server.url + "/v1/analyze", format_files["tiff"])
    assert "preview" not in plain
    answer = _post(server.url + "/v1/analyze?preview=200", format_files["tiff"])
    head, b64 = answer["preview"].split(",", 1)
    assert head == "data:image/jpeg;base64"
    small = Image.open(io.BytesIO(base64.b64decode(b64)))
    assert small.format == "JPEG" and small.size == (200, 200)  # 512x512 within 200 px
    assert (answer["width"], answer["height"]) == (512, 512)  # the result stays in the photo's pixels
    assert answer["faces"] == plain["faces"]
