"""Perceived gender left undetermined below a threshold: the server's setting and the
per-request ``?gender_min_confidence=P`` (a stand-in analyzer, so no model loads)."""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the server tests need the server extra")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from agegender.errors import InputError  # noqa: E402
from agegender.faces import Faces  # noqa: E402
from agegender.server import ServerSettings, create_app  # noqa: E402


class StandIn:
    """Answers every image with two faces, perceived male with p 0.62 and 0.97."""

    class detector:  # noqa: N801 - read as analyzer.detector.name
        name = "stand-in"

    def analyze(self, image: Any, *, channels: str | None = None) -> Faces:
        return Faces(boxes=[[1, 1, 20, 20], [30, 1, 50, 20]], scores=[0.9, 0.9],
                     landmarks=np.full((2, 5, 2), np.nan), gender_p=[0.62, 0.97])


@pytest.fixture(scope="module")
def png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 32), (90, 90, 90)).save(buf, "PNG")
    return buf.getvalue()


def labels(client: TestClient, png: bytes, query: str = "") -> list[Any]:
    r = client.post(f"/v1/analyze{query}", content=png, headers={"Content-Type": "image/png"})
    assert r.status_code == 200, r.text
    return [f["gender"] for f in r.json()["faces"]]


def test_per_request_threshold(png: bytes) -> None:
    with TestClient(create_app(ServerSettings(rate_limit=0), analyzer=StandIn())) as c:
        assert [g["label"] for g in labels(c, png)] == ["male", "male"]  # default 0.5
        strict = labels(c, png, "?gender_min_confidence=0.9")
        assert strict[0] == {"label": None, "probability": 0.62, "undetermined": True}
        assert strict[1] == {"label": "male", "probability": 0.97}
        assert [g["label"] for g in labels(c, png, "?gender_min_confidence=0.99")] == [None, None]
        for bad in ("0.2", "x"):
            r = c.post(f"/v1/analyze?gender_min_confidence={bad}", content=png,
                       headers={"Content-Type": "image/png"})
            assert r.status_code == 400, r.text
            assert "gender_min_confidence must be" in r.json()["error"]["message"]
        r = c.post("/v1/annotate?gender_min_confidence=0.9", content=png,
                   headers={"Content-Type": "image/png"})
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        spec = c.get("/openapi.json").json()["paths"]["/v1/analyze"]["post"]
        assert any(p["name"] == "gender_min_confidence" for p in spec["parameters"])


def test_setting_from_env_reaches_the_analyzer() -> None:
    s = ServerSettings.from_env({"AGEGENDER_GENDER_MIN_CONFIDENCE": "0.9"})
    assert s.gender_min_confidence == 0.9
    assert s.analyzer_options()["gender_min_confidence"] == 0.9
    assert ServerSettings.from_env({}).analyzer_options()["gender_min_confidence"] == 0.5
    assert ServerSettings.from_env({}, gender_min_confidence=None).gender_min_confidence == 0.5
    with pytest.raises(InputError, match="gender_min_confidence must be within 0.5..1"):
        ServerSettings.from_env({"AGEGENDER_GENDER_MIN_CONFIDENCE": "0.2"})
    with pytest.raises(InputError, match="AGEGENDER_GENDER_MIN_CONFIDENCE"):
        ServerSettings.from_env({"AGEGENDER_GENDER_MIN_CONFIDENCE": "high"})
