"""The REST API and the WebSocket through FastAPI's TestClient (no network, no browser)."""

from __future__ import annotations

import io
import json
import logging
import re
import struct
import threading
import time
import zlib
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
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from agegender.errors import InputError  # noqa: E402
from agegender.faces import Faces  # noqa: E402
from agegender.server import ServerSettings, create_app  # noqa: E402
from agegender.server.ratelimit import RateLimiter  # noqa: E402
from agegender.server.uploads import sniff  # noqa: E402

STATIC = Path(__file__).resolve().parents[2] / "src" / "agegender" / "server" / "static"


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def analyzer(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One Analyzer (yunet from the shared mirror) for the whole module: models load once."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGEGENDER_MIRROR", str(mirror))
        mp.setenv("AGEGENDER_HOME", str(tmp_path_factory.mktemp("home")))
        from agegender import Analyzer

        return Analyzer()


def make_client(analyzer: Any, **settings: Any) -> TestClient:
    return TestClient(create_app(ServerSettings().with_(**settings), analyzer=analyzer))


@pytest.fixture(scope="module")
def client(analyzer: Any) -> Iterator[TestClient]:
    with make_client(analyzer, rate_limit=0) as c:
        yield c


@pytest.fixture(scope="module")
def group_jpg(photos: Path) -> bytes:
    return (photos / "group_t1.jpg").read_bytes()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (1-bit grey), with a token IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def assert_error(r: Any, status: int, kind: str | None = None) -> dict[str, str]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}, body
    if kind:
        assert body["error"]["type"] == kind, body
    return body["error"]


# ----------------------------------------------------------------------------- analyze / annotate


def test_analyze_matches_the_cli_json(
    client: TestClient,
    photos: Path,
    group_jpg: bytes,
    use_mirror: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    r = client.post("/v1/analyze", files={"image": ("group_t1.jpg", group_jpg, "image/jpeg")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["faces"]) == 6
    assert (body["source"], body["width"], body["height"], body["error"]) == (
        "group_t1.jpg",
        1280,
        886,
        None,
    )

    from agegender.cli import main

    assert main(["analyze", str(photos / "group_t1.jpg")]) == 0
    cli = json.loads(capsys.readouterr().out.splitlines()[0])
    assert body == {**cli, "source": "group_t1.jpg"}

    # the raw body works too, and its source is "upload"; the field may be called "file"
    raw = client.post("/v1/analyze", content=group_jpg, headers={"Content-Type": "image/jpeg"})
    assert raw.json() == {**cli, "source": "upload"}
    alt = client.post(
        "/v1/analyze", files={"file": ("a/b\\c.jpg", group_jpg, "application/octet-stream")}
    )
    assert alt.json()["source"] == "c.jpg" and len(alt.json()["faces"]) == 6


def test_annotate_returns_a_jpeg(client: TestClient, group_jpg: bytes) -> None:
    from PIL import Image

    r = client.post("/v1/annotate", files={"image": ("g.jpg", group_jpg, "image/jpeg")})
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg" and r.headers["x-faces"] == "6"
    im = Image.open(io.BytesIO(r.content))
    assert im.format == "JPEG" and im.size == (1280, 886)


def test_models_healthz_and_pages(client: TestClient) -> None:
    models = client.get("/v1/models").json()
    names = {m["name"]: m for m in models["models"]}
    assert {"cydral-age", "cydral-gender", "yunet"} <= set(names)
    assert set(names["cydral-age"]) >= {"name", "task", "license", "source", "available"}
    assert names["cydral-age"]["available"] is True and names["cydral-age"]["license"] == "CC0-1.0"
    in_use = models["in_use"]
    assert {k: in_use[k] for k in ("detector", "age", "gender", "profile")} == {
        "detector": "yunet", "age": "faceres-age", "gender": "faceres-gender", "profile": "accurate"}
    assert "non-commercial" in in_use["license"]

    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["models_loaded"] is True

    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/openapi.json").json()["paths"]["/v1/analyze"]["post"]["requestBody"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/v1/annotate" in docs.text and "<script" not in docs.text
    assert client.get("/redoc").status_code == 404


def test_static_files_load_nothing_from_the_internet(client: TestClient) -> None:
    for f in (p for p in STATIC.iterdir() if p.is_file()):  # samples/: photos
        text = f.read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), f.name
        assert "@import" not in text and "@font-face" not in text, f.name
    assert "cdn" not in client.get("/docs").text.lower()


# ----------------------------------------------------------------------------- errors


def test_bad_uploads_are_refused_and_the_server_goes_on(
    client: TestClient, analyzer: Any, group_jpg: bytes
) -> None:
    jpeg = {"Content-Type": "image/jpeg"}
    assert_error(client.post("/v1/analyze", content=b"hello, not an image", headers=jpeg), 400)
    assert_error(client.post("/v1/analyze", content=b"", headers=jpeg), 400)
    err = assert_error(
        client.post("/v1/analyze", content=group_jpg[: len(group_jpg) // 3], headers=jpeg),
        400,
        "ImageDecodeError",
    )
    assert "truncated" in err["message"]
    files = {"image": ("x.jpg", b"GIF89a...", "image/jpeg")}
    assert_error(client.post("/v1/analyze", files=files), 400)

    bomb = png_header_only(30_000, 30_000)
    assert len(bomb) < 200
    t0 = time.perf_counter()
    err = assert_error(
        client.post("/v1/analyze", files={"image": ("bomb.png", bomb, "image/png")}),
        413,
        "ImageTooLargeError",
    )
    assert time.perf_counter() - t0 < 2.0 and "900,000,000" in err["message"]

    assert_error(
        client.post("/v1/analyze", content=b"hi", headers={"Content-Type": "text/plain"}),
        415,
        "UnsupportedMediaTypeError",
    )
    assert_error(client.post("/v1/analyze", files={"image": ("a.txt", b"hi", "text/plain")}), 415)
    assert_error(client.post("/v1/analyze", content=b"\xff\xd8\xff"), 415)  # no content type
    assert_error(
        client.post("/v1/analyze", files={"other": ("a.jpg", group_jpg, "image/jpeg")}), 400
    )
    assert_error(client.get("/v1/nothing"), 404, "NotFound")
    assert_error(client.get("/v1/analyze"), 405, "MethodNotAllowed")

    with make_client(analyzer, max_upload_bytes=50_000) as small:
        err = assert_error(small.post("/v1/analyze", content=group_jpg, headers=jpeg), 413)
        assert "PayloadTooLarge" in err["type"]
        files = {"image": ("g.jpg", group_jpg, "image/jpeg")}
        assert_error(small.post("/v1/analyze", files=files), 413)

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams in
            for i in range(0, len(group_jpg), 8192):
                yield group_jpg[i : i + 8192]

        assert_error(small.post("/v1/analyze", content=chunks(), headers=jpeg), 413)

    r = client.post("/v1/analyze", files={"image": ("g.jpg", group_jpg, "image/jpeg")})
    assert r.status_code == 200 and len(r.json()["faces"]) == 6


def test_api_key(analyzer: Any, group_jpg: bytes) -> None:
    with make_client(analyzer, api_key="s3cret", rate_limit=0) as c:
        files = {"image": ("g.jpg", group_jpg, "image/jpeg")}
        assert_error(c.post("/v1/analyze", files=files), 401, "UnauthorizedError")
        assert_error(c.get("/v1/models", headers={"X-API-Key": "wrong"}), 401)
        assert_error(c.get("/v1/models", headers={"Authorization": "Bearer wrong"}), 401)
        assert c.get("/v1/models", headers={"X-API-Key": "s3cret"}).status_code == 200
        r = c.post("/v1/analyze", files=files, headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200 and len(r.json()["faces"]) == 6
        assert c.get("/healthz").status_code == 200 and c.get("/").status_code == 200

        with c.websocket_connect("/v1/stream") as ws:
            assert ws.receive_json()["error"]["type"] == "UnauthorizedError"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4401
        with c.websocket_connect("/v1/stream?key=s3cret") as ws:
            ws.send_bytes(group_jpg)
            assert len(ws.receive_json()["faces"]) == 6


def test_rate_limit(analyzer: Any) -> None:
    with make_client(analyzer, rate_limit=2) as c:
        assert c.get("/v1/models").status_code == 200
        assert c.get("/v1/models").status_code == 200
        r = c.get("/v1/models")
        assert_error(r, 429, "RateLimitedError")
        assert int(r.headers["retry-after"]) >= 1
        assert c.get("/healthz").status_code == 200  # not limited


def test_token_bucket_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])  # one token per second, burst 60
    assert all(limiter.acquire("a") == 0 for _ in range(60))
    assert limiter.acquire("a") == 1 and limiter.acquire("b") == 0
    now[0] += 1.0
    assert limiter.acquire("a") == 0 and limiter.acquire("a") >= 1
    assert RateLimiter(0).acquire("x") == 0


class SlowAnalyzer:
    """Stands in for the Analyzer: sleeps, finds nothing."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0
        self.threads: set[str] = set()

    def analyze(self, image: Any, *, channels: str | None = None) -> Faces:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        time.sleep(self.seconds)
        return Faces.empty()


def test_time_limit_gives_504(group_jpg: bytes) -> None:
    with make_client(SlowAnalyzer(0.6), request_timeout=0.2) as c:
        t0 = time.perf_counter()
        r = c.post("/v1/analyze", content=group_jpg, headers={"Content-Type": "image/jpeg"})
        assert_error(r, 504, "AnalysisTimeoutError")
        assert time.perf_counter() - t0 < 0.55


def test_analyses_run_on_one_model_thread(group_jpg: bytes) -> None:
    slow = SlowAnalyzer(0.01)
    with make_client(slow) as c:
        for _ in range(3):
            r = c.post("/v1/analyze", content=group_jpg, headers={"Content-Type": "image/jpeg"})
            assert r.json()["faces"] == []
    assert (
        slow.calls == 3
        and len(slow.threads) == 1
        and next(iter(slow.threads)).startswith("agegender-model")
    )


def test_uploads_never_touch_the_disk(
    client: TestClient, group_jpg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    import starlette.formparsers

    def no_disk(*a: Any, **k: Any) -> None:
        raise AssertionError("an upload was spooled to a temporary file")

    for name in ("SpooledTemporaryFile", "NamedTemporaryFile", "TemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, no_disk)
    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", no_disk)
    big = group_jpg + b"\x00" * 3_000_000  # > Starlette's 1 MB spooling threshold
    r = client.post("/v1/analyze", files={"image": ("big.jpg", big, "image/jpeg")})
    assert r.status_code == 200 and len(r.json()["faces"]) == 6


def test_logs_hold_no_file_names_or_keys(
    analyzer: Any, group_jpg: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="agegender")
    with make_client(analyzer, api_key="k-secret-123", rate_limit=0) as c:
        files = {"image": ("private-name.jpg", group_jpg, "image/jpeg")}
        c.post("/v1/analyze", files=files, headers={"X-API-Key": "k-secret-123"})
        c.post("/v1/analyze", files={"image": ("other-private.jpg", b"junk", "image/jpeg")})
        with c.websocket_connect("/v1/stream?key=k-secret-123") as ws:
            ws.send_bytes(group_jpg)
            ws.receive_json()
    assert "POST /v1/analyze 200" in caplog.text
    for secret in ("private-name", "other-private", "k-secret-123"):
        assert secret not in caplog.text


def test_cors_is_off_unless_configured(analyzer: Any) -> None:
    pre = {"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    with make_client(analyzer) as c:
        assert "access-control-allow-origin" not in c.options("/v1/analyze", headers=pre).headers
    with make_client(analyzer, cors_origins="https://example.org") as c:
        r = c.options("/v1/analyze", headers=pre)
        assert r.headers["access-control-allow-origin"] == "https://example.org"


# ----------------------------------------------------------------------------- WebSocket


def test_stream_answers_the_newest_frame(client: TestClient, group_jpg: bytes) -> None:
    with client.websocket_connect("/v1/stream") as ws:
        for _ in range(3):
            ws.send_bytes(group_jpg)
        answers = []
        while not answers or answers[-1]["frame"] < 3:
            answers.append(ws.receive_json())
            assert len(answers) <= 3
        last = answers[-1]
        assert set(last) == {"frame", "width", "height", "faces", "people", "ms", "dropped"}
        assert (last["width"], last["height"]) == (1280, 886) and len(last["faces"]) == 6
        assert last["ms"] > 0 and len(answers) + last["dropped"] == 3
        # a bad frame gets an error answer and the stream goes on
        ws.send_bytes(b"not a jpeg")
        assert ws.receive_json()["error"]["type"] == "BadRequestError"
        ws.send_bytes(group_jpg)
        assert len(ws.receive_json()["faces"]) == 6


def test_stream_refuses_a_foreign_origin(client: TestClient) -> None:
    with client.websocket_connect("/v1/stream", headers={"Origin": "https://evil.example"}) as ws:
        assert "origin" in ws.receive_json()["error"]["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4403


# ----------------------------------------------------------------------------- settings


def test_settings_from_env_and_overrides() -> None:
    env = {
        "AGEGENDER_MAX_UPLOAD_BYTES": "2e6",
        "AGEGENDER_RATE_LIMIT": "7",
        "AGEGENDER_API_KEY": "abc",
        "AGEGENDER_CORS_ORIGINS": "https://a.example, https://b.example",
        "AGEGENDER_REQUEST_TIMEOUT": "2.5",
    }
    s = ServerSettings.from_env(env, rate_limit=9)
    assert (s.max_upload_bytes, s.rate_limit, s.api_key, s.request_timeout) == (
        2_000_000,
        9,
        "abc",
        2.5,
    )
    assert s.cors_origins == ("https://a.example", "https://b.example")
    d = ServerSettings.from_env({})
    assert (d.max_upload_bytes, d.max_pixels, d.rate_limit, d.api_key, d.cors_origins) == (
        10_000_000,
        40_000_000,
        120,
        None,
        (),
    )
    with pytest.raises(InputError, match="unknown server setting"):
        ServerSettings.from_env({}, colour="red")
    with pytest.raises(InputError, match="AGEGENDER_RATE_LIMIT"):
        ServerSettings.from_env({"AGEGENDER_RATE_LIMIT": "lots"})


def test_sniff() -> None:
    assert sniff(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(png_header_only(1, 1)) == "image/png"
    assert sniff(b"%!PS-Adobe-3.0 EPSF") is None  # never handed to Pillow's EPS plugin
