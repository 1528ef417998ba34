"""The live WebSocket tracks faces per connection, as ``agegender analyze VIDEO`` does:
ids that stay with each person, aggregated answers, per-connection threshold and
minimum face size."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the server needs pip install '.[server]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

from fastapi.testclient import TestClient  # noqa: E402

from agegender.server import ServerSettings, create_app  # noqa: E402


@pytest.fixture(scope="module")
def client(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGEGENDER_MIRROR", str(mirror))
        mp.setenv("AGEGENDER_HOME", str(tmp_path_factory.mktemp("home")))
        from agegender import Analyzer

        app = create_app(ServerSettings(rate_limit=0), analyzer=Analyzer())
        with TestClient(app) as c:
            yield c


@pytest.fixture(scope="module")
def frames(photos: Path) -> list[bytes]:
    """12 JPEG frames of group_t1 at 640 px, shaken by up to 4 px, with noise."""
    from PIL import Image

    base = Image.open(photos / "group_t1.jpg").convert("RGB").resize((640, 443))
    rgb = np.asarray(base)
    rng = np.random.default_rng(1)
    out = []
    for _ in range(12):
        dy, dx = (int(v) for v in rng.integers(-4, 5, 2))
        f = np.roll(rgb, (dy, dx), axis=(0, 1)).astype(np.float32)
        f = np.clip(f + rng.normal(0, 6, f.shape), 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(f).save(buf, "JPEG", quality=75)
        out.append(buf.getvalue())
    return out


def one_by_one(ws: Any, frames: list[bytes]) -> list[dict[str, Any]]:
    answers = []
    for f in frames:
        ws.send_bytes(f)
        answers.append(ws.receive_json())
    return answers


def test_each_person_keeps_an_id_and_a_steadying_answer(
    client: TestClient, frames: list[bytes]
) -> None:
    with client.websocket_connect("/v1/stream") as ws:
        answers = one_by_one(ws, frames)
    ids = [sorted(f["track_id"] for f in a["faces"]) for a in answers]
    assert all(i == [1, 2, 3, 4, 5, 6] for i in ids), ids
    assert answers[-1]["people"] == 6
    # the same person's shown age moves less and less: its answer is aggregated
    by_id: dict[int, list[float]] = {}
    for a in answers:
        for f in a["faces"]:
            by_id.setdefault(f["track_id"], []).append(f["age"]["years"])
    late = max(abs(np.diff(v[-4:])).max() for v in by_id.values())
    early = max(abs(np.diff(v[:4])).max() for v in by_id.values())
    assert late <= early, (early, late)
    # a new connection is a new tracker: ids start from 1 again
    with client.websocket_connect("/v1/stream") as ws:
        again = one_by_one(ws, frames[:2])
    assert sorted(f["track_id"] for f in again[-1]["faces"]) == [1, 2, 3, 4, 5, 6]


def test_threshold_and_min_face_per_connection(client: TestClient, frames: list[bytes]) -> None:
    with client.websocket_connect("/v1/stream") as ws:
        first = one_by_one(ws, frames[:1])[0]
        sides = sorted(
            min(x2 - x1, y2 - y1) for x1, y1, x2, y2 in (f["box"] for f in first["faces"])
        )
        cut = (sides[1] + sides[2]) / 2  # between the 2nd and 3rd smallest face
        ws.send_text(f'{{"min_face": {round(cut)}}}')
        assert ws.receive_json() == {"config": {"threshold": None, "min_face": round(cut)}}
        after = one_by_one(ws, frames[1:4])[-1]
        assert 0 < len(after["faces"]) < 6  # the smallest faces are gone
        assert all(
            min(x2 - x1, y2 - y1) >= round(cut)
            for x1, y1, x2, y2 in (f["box"] for f in after["faces"])
        )
        ws.send_text('{"threshold": 1.0, "min_face": 0}')
        assert ws.receive_json()["config"] == {"threshold": 1.0, "min_face": 0}
        assert one_by_one(ws, frames[4:5])[0]["faces"] == []
        ws.send_text('{"threshold": 2}')
        bad = ws.receive_json()
        assert bad["config"] is None and "0..1" in bad["error"]["message"]
        ws.send_text("ping")  # a keep-alive gets no answer; the next frame does
        assert "faces" in one_by_one(ws, frames[5:6])[0]
