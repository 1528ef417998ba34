"""The live WebSocket closes a connection that sends nothing for ``stream_idle_timeout``
seconds (code 4408, with a message saying why); frames and text keep-alives keep it open."""

from __future__ import annotations

import time
import warnings
from typing import Any

import pytest

from agegender.server.errors import STREAM_IDLE_CODE


class NoFaces:
    """A stand-in analyzer that loads no model (these tests send no frame it would see)."""

    def analyze(self, image: Any, *, channels: str | None = None) -> Any:
        raise AssertionError("no frame is sent in these tests")


def client(idle: float) -> Any:
    pytest.importorskip("fastapi", reason="the server tests need pip install '.[server]'")
    pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's notice about httpx vs httpx2
        from fastapi.testclient import TestClient
    from agegender.server import ServerSettings, create_app

    settings = ServerSettings(rate_limit=0, stream_idle_timeout=idle)
    return TestClient(create_app(settings, analyzer=NoFaces()))


def test_an_idle_stream_is_told_why_and_closed() -> None:
    from starlette.websockets import WebSocketDisconnect

    t0 = time.monotonic()
    with client(0.3).websocket_connect("/v1/stream") as ws:
        error = ws.receive_json()["error"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == STREAM_IDLE_CODE == 4408
    assert error["type"] == "StreamIdleError"
    assert "no frame or message for 0.3 s" in error["message"] and "reconnect" in error["message"]
    assert 0.25 < time.monotonic() - t0 < 10


def test_keep_alives_keep_it_open() -> None:
    """Text keep-alives every 0.1 s for 0.8 s hold a stream whose idle limit is 0.4 s;
    an options message is answered on it afterwards."""
    with client(0.4).websocket_connect("/v1/stream") as ws:
        for _ in range(8):
            ws.send_text("ping")
            time.sleep(0.1)
        ws.send_json({"min_face": 40})
        assert ws.receive_json() == {"config": {"threshold": None, "min_face": 40}}


def test_waiting_for_an_answer_is_not_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    """A frame whose analysis takes longer than the idle limit is answered, not closed:
    the client (the page sends its next frame on each answer) waits for us."""
    import io

    from PIL import Image

    from agegender.faces import Faces
    from agegender.server.stream import LiveSession

    def slow(self: Any, analyzer: Any, rgb: Any, index: int) -> Faces:
        time.sleep(1.0)  # on the model thread: more than three idle limits
        return Faces.empty()

    monkeypatch.setattr(LiveSession, "process", slow)
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (80, 80, 80)).save(buf, "JPEG")
    with client(0.3).websocket_connect("/v1/stream") as ws:
        ws.send_bytes(buf.getvalue())
        answer = ws.receive_json()
    assert answer["frame"] == 1 and answer["faces"] == [], answer


def test_the_setting_is_checked() -> None:
    from agegender.errors import InputError
    from agegender.server import ServerSettings

    with pytest.raises(InputError, match="stream_idle_timeout"):
        ServerSettings.from_env({"AGEGENDER_STREAM_IDLE_TIMEOUT": "0"})
    assert (
        ServerSettings.from_env({"AGEGENDER_STREAM_IDLE_TIMEOUT": "2.5"}).stream_idle_timeout == 2.5
    )
