"""Server hardening (issue 16): one file per request, AVIF, 413s that help the client,
python-multipart's log lines, HEAD /, and the budget of decoded pixels in flight."""

from __future__ import annotations

import asyncio
import io
import logging
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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
from agegender.io.budget import PixelBudget  # noqa: E402
from agegender.server import (  # noqa: E402
    ServerSettings,
    create_app,
    memory,  # noqa: E402
)
from agegender.server.memory import release_memory  # noqa: E402
from agegender.server.uploads import header_size, sniff  # noqa: E402


class FakeAnalyzer:
    """Stands in for the Analyzer: finds nothing after ``seconds``; records the budget in use."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.service: Any = None
        self.in_flight: list[int] = []

    def analyze(self, image: Any, *, channels: str | None = None) -> Faces:
        if self.service is not None:
            self.in_flight.append(self.service.budget.used)
        time.sleep(self.seconds)
        return Faces.empty()


def fake_client(fake: FakeAnalyzer, **settings: Any) -> TestClient:
    app = create_app(ServerSettings().with_(rate_limit=0, **settings), analyzer=fake)
    fake.service = app.state.service
    return TestClient(app)


def jpeg(width: int, height: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (120, 90, 60)).save(buf, "JPEG", quality=70)
    return buf.getvalue()


def error_of(r: Any, status: int) -> dict[str, str]:
    assert r.status_code == status, r.text
    return r.json()["error"]


@pytest.fixture(scope="module")
def small() -> bytes:
    return jpeg(64, 48)


# ----------------------------------------------------------------------------- one file


def test_a_second_file_is_refused_not_ignored(small: bytes) -> None:
    with fake_client(FakeAnalyzer()) as c:
        two = [("image", ("a.jpg", small, "image/jpeg")), ("image", ("b.jpg", small, "image/jpeg"))]
        err = error_of(c.post("/v1/analyze", files=two), 400)
        assert err["type"] == "BadRequestError"
        assert "2 files" in err["message"] and "one image per request" in err["message"]
        mixed = [
            ("image", ("a.jpg", small, "image/jpeg")),
            ("extra", ("b.jpg", small, "image/jpeg")),
        ]
        err = error_of(c.post("/v1/annotate", files=mixed), 400)
        assert "'image', 'extra'" in err["message"]
        # one file and a plain text field is one image: accepted
        r = c.post("/v1/analyze", files={"image": ("a.jpg", small, "image/jpeg")}, data={"n": "1"})
        assert r.status_code == 200 and r.json()["source"] == "a.jpg"
        err = error_of(c.post("/v1/analyze", files={"other": ("a.jpg", small, "image/jpeg")}), 400)
        assert "'other'" in err["message"] and "'image'" in err["message"]


# ----------------------------------------------------------------------------- AVIF


def avif_of(path: Path) -> bytes:
    from PIL import Image, features

    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF codec")
    buf = io.BytesIO()
    with Image.open(path) as im:
        im.convert("RGB").save(buf, "AVIF", quality=85)
    return buf.getvalue()


def test_sniff_and_header_size_know_avif(photos: Path) -> None:
    data = avif_of(photos / "group_t1.jpg")
    assert sniff(data) == "image/avif"
    assert header_size(data, "image/avif") == (1280, 886)
    # a HEIF container that lists AVIF among its compatible brands
    heif = b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif" + b"\x00" * 8
    assert sniff(heif) == "image/avif"
    # HEIC is not AVIF (tests/server/test_api_heic.py)
    assert sniff(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic") == "image/heic"


def test_avif_is_analyzed_as_the_cli_does(photos: Path, mirror: Path, tmp_path: Path) -> None:
    data = avif_of(photos / "group_t1.jpg")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGEGENDER_MIRROR", str(mirror))
        from agegender import Analyzer

        analyzer = Analyzer()
        want = analyzer.analyze(data).to_dict()  # the library reads the same bytes
        with TestClient(create_app(ServerSettings(rate_limit=0), analyzer=analyzer)) as c:
            r = c.post("/v1/analyze", files={"image": ("g.avif", data, "image/avif")})
            raw = c.post("/v1/analyze", content=data, headers={"Content-Type": "image/avif"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["width"], body["height"]) == (1280, 886) and len(body["faces"]) >= 5
    assert body["faces"] == want and raw.json()["faces"] == want


# ----------------------------------------------------------------------------- 413


def test_too_many_pixels_tells_the_client_what_to_do(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agegender")
    fake = FakeAnalyzer()
    with fake_client(fake, max_pixels=1_000_000) as c:
        err = error_of(c.post("/v1/analyze", files={"image": ("p.jpg", jpeg(3000, 2000))}), 413)
    assert err["type"] == "ImageTooLargeError"
    msg = err["message"]
    assert "3000x2000 = 6,000,000 pixels" in msg and "1,000,000" in msg
    assert "downscale it to at most 1224x816" in msg  # 1224 x 816 = 998,784 pixels
    for operator_words in ("--max-pixels", "AGEGENDER_MAX_PIXELS", "max_pixels"):
        assert operator_words not in msg
    assert "AGEGENDER_MAX_PIXELS" in caplog.text and "p.jpg" not in caplog.text
    assert fake.in_flight == []  # refused from the header: nothing decoded or analyzed


def test_too_many_bytes_tells_the_client_what_to_do(small: bytes) -> None:
    with fake_client(FakeAnalyzer(), max_upload_bytes=100) as c:
        for r in (
            c.post("/v1/analyze", content=small, headers={"Content-Type": "image/jpeg"}),
            c.post("/v1/analyze", files={"image": ("a.jpg", small + b"\0" * 70_000)}),
        ):
            msg = error_of(r, 413)["message"]
            assert "send a smaller file" in msg and "AGEGENDER" not in msg


# ----------------------------------------------------------------------------- logs, HEAD


_MALFORMED = """
import logging, sys, warnings
warnings.simplefilter("ignore")
from fastapi.testclient import TestClient
from agegender.server import ServerSettings, create_app

class Nothing:
    def analyze(self, image, *, channels=None):
        raise AssertionError("never reached")

level = sys.argv[1]
if level != "none":  # as serve() sets up its log: our logger only, prefixed
    ours = logging.getLogger("agegender.server")
    ours.setLevel(level)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("agegender: %(message)s"))
    ours.addHandler(handler)
with TestClient(create_app(ServerSettings(rate_limit=0), analyzer=Nothing())) as c:
    for body in (b"--xyz\\r\\nhello", b"garbage"):
        r = c.post("/v1/analyze", content=body,
                   headers={"Content-Type": "multipart/form-data; boundary=abc"})
        assert r.status_code == 400 and "malformed multipart" in r.text, r.text
"""


@pytest.mark.parametrize("level", ["none", "DEBUG"])
def test_malformed_multipart_logs_nothing_unprefixed(level: str) -> None:
    """In a fresh process (pytest's own log handlers would hide the problem)."""
    r = subprocess.run(
        [sys.executable, "-c", _MALFORMED, level], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert all(ln.startswith("agegender: ") for ln in lines), lines
    parser_lines = [ln for ln in lines if "boundary character" in ln]
    if level == "DEBUG":  # the parser's words, prefixed and marked as python-multipart's
        assert parser_lines and all("agegender: python-multipart: " in ln for ln in parser_lines)
    else:
        assert parser_lines == []


def test_head_of_the_page_is_200() -> None:
    with fake_client(FakeAnalyzer()) as c:
        r = c.head("/")
        get = c.get("/")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-length"] == get.headers["content-length"]


# ----------------------------------------------------------------------------- pixel budget


def run(coro: Any) -> Any:
    """``asyncio.run`` on a thread of its own: other tests (Playwright's sync API) may leave
    an event loop running in the main thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_budget_waits_for_room_in_arrival_order() -> None:
    async def scenario() -> list[str]:
        budget = PixelBudget(100)
        order: list[str] = []

        async def job(name: str, pixels: int, hold: float) -> None:
            await budget.acquire_async(pixels)
            order.append(name)
            assert budget.used <= 100 or budget.used == pixels
            await asyncio.sleep(hold)
            budget.release(pixels)

        first = asyncio.create_task(job("a60", 60, 0.05))
        await asyncio.sleep(0)
        rest = [
            asyncio.create_task(job("b60", 60, 0.01)),  # must wait for a60
            asyncio.create_task(job("c10", 10, 0.01)),  # fits, but may not overtake b60
            asyncio.create_task(job("d500", 500, 0.01)),  # larger than the budget: alone
        ]
        await asyncio.gather(first, *rest)
        assert budget.used == 0 and budget.peak <= 500
        return order

    assert run(scenario()) == ["a60", "b60", "c10", "d500"]


def test_budget_forgets_a_cancelled_waiter_and_trims_after_a_burst() -> None:
    idle: list[int] = []

    async def scenario() -> None:
        budget = PixelBudget(10_000_000, on_idle=lambda: idle.append(budget.used))
        await budget.acquire_async(8_000_000)
        waiter = asyncio.create_task(budget.acquire_async(8_000_000))
        await asyncio.sleep(0)
        assert budget.waiting == 1
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert budget.waiting == 0 and budget.used == 8_000_000
        budget.release(8_000_000)
        await budget.acquire_async(1_000)  # a small image afterwards: no trim for it alone
        budget.release(1_000)

    run(scenario())
    assert idle == [0]  # once, when the burst (>= TRIM_AFTER_PIXELS) was over
    assert memory.TRIM_AFTER_PIXELS <= 8_000_000


def test_release_memory_on_glibc() -> None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")
    assert release_memory() is True


def _post_all(c: TestClient, data: bytes, n: int) -> list[int]:
    codes: list[int] = []

    def one() -> None:
        r = c.post("/v1/analyze", content=data, headers={"Content-Type": "image/jpeg"})
        codes.append(r.status_code)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return codes


@pytest.fixture(scope="module")
def picture() -> Iterator[bytes]:
    yield jpeg(800, 500)  # 400,000 pixels


def test_decoded_pixels_in_flight_are_capped(picture: bytes) -> None:
    capped = FakeAnalyzer(0.05)
    with fake_client(capped, max_inflight_pixels=800_000) as c:  # room for two
        assert _post_all(c, picture, 6) == [200] * 6
        service = c.app.state.service  # type: ignore[attr-defined]
        assert service.budget.peak <= 800_000 and service.budget.used == 0
    assert max(capped.in_flight) <= 800_000

    free = FakeAnalyzer(0.05)
    with fake_client(free, max_inflight_pixels=10**12) as c:  # no cap: all six at once
        assert _post_all(c, picture, 6) == [200] * 6
        assert c.app.state.service.budget.peak > 800_000  # type: ignore[attr-defined]


class GatedAnalyzer:
    """Finds nothing once ``go`` is set; ``started`` tells that an analysis is running."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.go = threading.Event()

    def analyze(self, image: Any, *, channels: str | None = None) -> Faces:
        self.started.set()
        assert self.go.wait(30)
        return Faces.empty()


def test_an_abandoned_analysis_keeps_its_pixels_until_it_ends(picture: bytes) -> None:
    """A request that times out (or whose client goes) while its analysis runs: the answer
    goes at once, the analysis finishes in the background and its pixels stay counted."""
    from agegender.server.uploads import Upload
    from agegender.server.worker import AnalysisService

    gate = GatedAnalyzer()
    service = AnalysisService(ServerSettings(request_timeout=60), gate)

    async def scenario() -> None:
        request = asyncio.create_task(service.analyze(Upload(picture, "p.jpg", "image/jpeg")))
        while not gate.started.is_set():
            await asyncio.sleep(0.01)
        request.cancel()  # what the time limit or a vanished client does
        with pytest.raises(asyncio.CancelledError):
            await request
        assert service.budget.used == 400_000 and service.pending == 0
        gate.go.set()
        for _ in range(1000):
            if service.budget.used == 0:
                break
            await asyncio.sleep(0.01)
        assert service.budget.used == 0 and not service._background

    try:
        run(scenario())
    finally:
        gate.go.set()
        service.close()


def test_a_preload_failure_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="agegender")
    settings = ServerSettings(preload=True, detector="no-such-detector")
    with TestClient(create_app(settings)) as c:
        deadline = time.monotonic() + 10
        while "could not be loaded" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.get("/healthz").json()["models_loaded"] is False
    assert "the models could not be loaded" in caplog.text and "no-such-detector" in caplog.text
