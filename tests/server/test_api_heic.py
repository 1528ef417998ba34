"""HEIC/HEIF uploads (what iPhones save): sniffed from the bytes, their size read from the
header, analyzed as the library does, ``?preview=N`` for browsers that cannot draw them,
and a 415 that tells the client what to send when the server lacks the heic extra."""

from __future__ import annotations

import base64
import io
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "fastapi", reason="the server tests need the server extra: pip install '.[server]'"
)
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

import warnings  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about httpx vs httpx2
    from fastapi.testclient import TestClient  # noqa: E402

from agegender.faces import Faces  # noqa: E402
from agegender.io import heif  # noqa: E402
from agegender.server import ServerSettings, create_app  # noqa: E402
from agegender.server.settings import DEFAULT_ALLOWED_TYPES  # noqa: E402
from agegender.server.uploads import _warn_heif_once, header_size, sniff  # noqa: E402

NEEDS_EXTRA = "HEIC needs the heic extra (pillow-heif): pip install '.[heic]'"
HEIC_HEAD = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200


class Nothing:
    """Stands in for the Analyzer: finds no face (no model is loaded)."""

    def analyze(self, image: Any, *, channels: str | None = None) -> Faces:
        return Faces.empty()


def heic_of(path: Path) -> bytes:
    pytest.importorskip("pillow_heif", reason=NEEDS_EXTRA)
    from PIL import Image

    assert heif.register_heif()
    buf = io.BytesIO()
    with Image.open(path) as im:
        im.convert("RGB").save(buf, "HEIF", quality=90)
    return buf.getvalue()


@pytest.fixture(scope="module")
def group_heic(photos: Path) -> bytes:
    return heic_of(photos / "group_t1.jpg")


@pytest.fixture(scope="module")
def client(photos: Path) -> Iterator[tuple[TestClient, Any]]:
    """The app with the default models (loaded once for the module) and its Analyzer; ask
    for it after ``group_heic``, so that no model loads where pillow-heif is missing."""
    from agegender import Analyzer

    analyzer = Analyzer()
    analyzer.analyze(str(photos / "group_t1.jpg"))
    with TestClient(create_app(ServerSettings(rate_limit=0), analyzer=analyzer)) as c:
        yield c, analyzer


def test_heic_is_accepted_by_default() -> None:
    assert {"image/heic", "image/heif"} <= set(DEFAULT_ALLOWED_TYPES)
    assert sniff(HEIC_HEAD) == "image/heic"
    assert sniff(b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1miaf") == "image/heif"


def test_sniff_and_header_size_know_heic(group_heic: bytes) -> None:
    assert sniff(group_heic) == "image/heic"
    assert header_size(group_heic, "image/heic") == (1280, 886)


def test_heic_is_analyzed_as_the_library_does(
    group_heic: bytes, client: tuple[TestClient, Any]
) -> None:
    c, analyzer = client
    want = analyzer.analyze(group_heic).to_dict()
    assert len(want) == 6
    r = c.post("/v1/analyze", files={"image": ("IMG_0001.HEIC", group_heic, "image/heic")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["source"], body["width"], body["height"]) == ("IMG_0001.HEIC", 1280, 886)
    assert body["faces"] == want and "preview" not in body
    # the raw body, declared as either type or as bytes to sniff
    for declared in ("image/heic", "image/heif", "application/octet-stream"):
        raw = c.post("/v1/analyze", content=group_heic, headers={"Content-Type": declared})
        assert raw.status_code == 200 and raw.json()["faces"] == want, declared


def test_preview_and_annotate_draw_a_heic(group_heic: bytes, client: tuple[TestClient, Any]) -> None:
    from PIL import Image

    c, _ = client
    r = c.post("/v1/analyze?preview=512", files={"image": ("g.heic", group_heic, "image/heic")})
    assert r.status_code == 200, r.text
    url = r.json()["preview"]
    assert url.startswith("data:image/jpeg;base64,")
    small = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert small.format == "JPEG" and small.size == (512, 354)  # what a browser can draw
    r = c.post("/v1/annotate", files={"image": ("g.heic", group_heic, "image/heic")})
    assert r.status_code == 200 and r.headers["x-faces"] == "6"
    im = Image.open(io.BytesIO(r.content))
    assert im.format == "JPEG" and im.size == (1280, 886)


def test_without_the_extra_the_client_is_told_what_to_send(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    monkeypatch.setattr(heif, "_state", None)
    _warn_heif_once.cache_clear()  # the operator's line is logged once per process
    caplog.set_level(logging.INFO, logger="agegender")
    assert header_size(HEIC_HEAD, "image/heic") is None
    with TestClient(create_app(ServerSettings(rate_limit=0), analyzer=Nothing())) as c:
        r = c.post("/v1/analyze", files={"image": ("IMG_0001.HEIC", HEIC_HEAD, "image/heic")})
        raw = c.post("/v1/annotate", content=HEIC_HEAD, headers={"Content-Type": "image/heic"})
    for answer, name in ((r, "IMG_0001.HEIC"), (raw, "upload")):
        assert answer.status_code == 415, answer.text
        err = answer.json()["error"]
        assert err["type"] == "UnsupportedMediaTypeError"
        assert err["message"].startswith(f"{name}: a HEIC/HEIF image, which this server cannot")
        assert "JPEG" in err["message"] and "pip install" not in err["message"]
    assert 'pip install "agegender[heic]"' in caplog.text  # the operator's advice: the log
    assert caplog.text.count("pillow-heif is not installed here") == 1  # once, not per upload
