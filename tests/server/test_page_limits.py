"""/healthz states the upload limits, which the web page reduces photos to."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the server needs pip install '.[server]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

from fastapi.testclient import TestClient  # noqa: E402

from agegender.server import ServerSettings, create_app  # noqa: E402


@pytest.mark.parametrize(
    ("max_bytes", "max_pixels"), [(10_000_000, 40_000_000), (2_500_000, 8_000_000)]
)
def test_healthz_states_the_limits(max_bytes: int, max_pixels: int) -> None:
    settings = ServerSettings(max_upload_bytes=max_bytes, max_pixels=max_pixels, preload=False)
    client = TestClient(create_app(settings, analyzer=object()))  # no lifespan: nothing loads
    body = client.get("/healthz").json()
    assert body["limits"] == {"max_upload_bytes": max_bytes, "max_pixels": max_pixels}
    assert body["status"] == "ok"
