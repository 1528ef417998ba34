"""Which detected faces a request keeps (:mod:`agegender.server.filters`): the checks of
``threshold`` and ``min_face``, the filter, and both on ``/v1/analyze``, ``/v1/annotate``
(query parameters), the live stream's session and ``/healthz`` (the detector's own).

The API tests with a stand-in analyzer load no model; those on the shared group photo
(6 faces) compare the filtered answer with the unfiltered one, and skip without ../shared.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from agegender.faces import Faces
from agegender.server.errors import BadRequestError
from agegender.server.filters import MAX_MIN_FACE, check_filter, face_filter, keep_faces

# ----------------------------------------------------------------------------- check_filter


@pytest.mark.parametrize(
    ("threshold", "min_face", "expected"),
    [
        (None, None, (None, 0)),
        ("", "", (None, 0)),
        (" ", " ", (None, 0)),
        ("0.8", "40", (0.8, 40)),
        (" 0 ", " 0 ", (0.0, 0)),
        ("1", str(MAX_MIN_FACE), (1.0, MAX_MIN_FACE)),
        (0.5, 40, (0.5, 40)),  # the stream's JSON numbers
        (1, 40.7, (1.0, 40)),  # a JSON min_face with a fraction is cut to whole pixels
    ],
)
def test_good_values(threshold: Any, min_face: Any, expected: tuple[float | None, int]) -> None:
    assert check_filter(threshold, min_face) == expected


@pytest.mark.parametrize(
    "bad", ["abc", "-1", "1.5", "nan", "inf", "0.5x", -0.1, 2, float("nan"), True, [0.5]]
)
def test_bad_threshold_is_named_with_its_range_and_value(bad: Any) -> None:
    with pytest.raises(BadRequestError) as e:
        check_filter(bad, "40")
    message = str(e.value)
    assert message.startswith("threshold must be") and "0..1" in message, message
    assert message.endswith(f"got {bad!r}"), message


@pytest.mark.parametrize(
    "bad", ["abc", "-1", "4.5", "nan", "1e3", str(MAX_MIN_FACE + 1), -1, 1e9, float("nan"), True]
)
def test_bad_min_face_is_named_with_its_range_and_value(bad: Any) -> None:
    with pytest.raises(BadRequestError) as e:
        check_filter("0.5", bad)
    message = str(e.value)
    assert message.startswith("min_face must be") and f"0..{MAX_MIN_FACE}" in message, message
    assert message.endswith(f"got {bad!r}"), message


def test_a_long_value_is_cut_in_the_message() -> None:
    with pytest.raises(BadRequestError) as e:
        check_filter("x" * 10_000, None)
    assert len(str(e.value)) < 200


# ----------------------------------------------------------------------------- keep_faces


def three_faces() -> Faces:
    """Scores 0.9, 0.6, 0.95; shorter box sides 50, 100, 20 px."""
    return Faces(
        boxes=[[0, 0, 50, 80], [100, 0, 200, 100], [300, 0, 340, 20]],
        scores=[0.9, 0.6, 0.95],
        landmarks=np.full((3, 5, 2), np.nan),
    )


def scores_of(faces: Faces) -> list[float]:
    return [round(float(s), 2) for s in faces.scores]


def test_keep_faces() -> None:
    faces = three_faces()
    assert keep_faces(faces, None, 0) is faces  # nothing set: the same object
    assert scores_of(keep_faces(faces, 0.7, 0)) == [0.9, 0.95]
    assert scores_of(keep_faces(faces, None, 50)) == [0.9, 0.6]  # a side of 50 is enough
    assert scores_of(keep_faces(faces, 0.7, 50)) == [0.9]
    assert len(keep_faces(faces, 1.0, 0)) == 0
    assert len(keep_faces(Faces.empty(), 0.7, 50)) == 0


def test_face_filter_checks_and_keeps() -> None:
    assert face_filter(None, None) is None and face_filter("", "0") is None
    keep = face_filter("0.7", "50")
    assert keep is not None and scores_of(keep(three_faces())) == [0.9]
    with pytest.raises(BadRequestError, match="min_face"):
        face_filter("0.7", "4.5")


# ----------------------------------------------------------------------------- the stream


def test_the_stream_session_uses_the_same_checks() -> None:
    pytest.importorskip("fastapi", reason="the server needs pip install '.[server]'")
    from agegender.server.stream import LiveSession

    s = LiveSession()
    assert s.configure({"min_face": 50}) == {"threshold": None, "min_face": 50}
    assert s.configure({"threshold": 0.7}) == {"threshold": 0.7, "min_face": 50}
    with pytest.raises(BadRequestError, match=r"0\.\.1"):
        s.configure({"threshold": 2, "min_face": 10})
    assert (s.threshold, s.min_face) == (0.7, 50)  # a refused message changes nothing
    assert scores_of(s._keep(three_faces())) == [0.9]
    assert s.configure({"threshold": None})["threshold"] is None


# ----------------------------------------------------------------------------- the API


def make_client(analyzer: Any) -> Any:
    """A TestClient of the app (rate limit off) around ``analyzer``."""
    pytest.importorskip("fastapi", reason="the server tests need pip install '.[server]'")
    pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's notice about httpx vs httpx2
        from fastapi.testclient import TestClient
    from agegender.server import ServerSettings, create_app

    return TestClient(create_app(ServerSettings(rate_limit=0), analyzer=analyzer))


class StandIn:
    """Answers every image with :func:`three_faces` (no model loads)."""

    class detector:  # noqa: N801 - read as analyzer.detector.name, .threshold, .min_face
        name = "stand-in"
        threshold = 0.5
        min_face = 20

    def analyze(self, image: Any, *, channels: str | None = None) -> Faces:
        return three_faces()

    def detect(self, images: list[Any]) -> list[Faces]:
        return [three_faces() for _ in images]

    def estimate(self, images: list[Any], faces: list[Faces]) -> list[Faces]:
        return faces


@pytest.fixture(scope="module")
def png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (400, 120), (90, 90, 90)).save(buf, "PNG")
    return buf.getvalue()


def post(client: Any, path: str, data: bytes, query: str = "") -> Any:
    return client.post(path + query, content=data, headers={"Content-Type": "image/jpeg"})


def test_analyze_and_annotate_keep_the_faces_asked_for(png: bytes) -> None:
    with make_client(StandIn()) as c:
        assert len(post(c, "/v1/analyze", png).json()["faces"]) == 3
        assert len(post(c, "/v1/analyze", png, "?threshold=&min_face=").json()["faces"]) == 3
        r = post(c, "/v1/analyze", png, "?threshold=0.7&min_face=50")
        assert r.status_code == 200, r.text
        assert [(f["box"], f["score"]) for f in r.json()["faces"]] == [([0, 0, 50, 80], 0.9)]
        assert post(c, "/v1/annotate", png).headers["x-faces"] == "3"
        a = post(c, "/v1/annotate", png, "?threshold=0.7")
        assert a.status_code == 200 and a.headers["content-type"] == "image/jpeg"
        assert a.headers["x-faces"] == "2"


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("?threshold=abc", "threshold"),
        ("?threshold=1.5", "threshold"),
        ("?threshold=nan", "threshold"),
        ("?min_face=-1", "min_face"),
        ("?min_face=4.5", "min_face"),
        ("?threshold=0.5&min_face=abc", "min_face"),
    ],
)
def test_a_bad_value_is_400_naming_it(png: bytes, query: str, name: str) -> None:
    with make_client(StandIn()) as c:
        for path in ("/v1/analyze", "/v1/annotate"):
            r = post(c, path, png, query)
            assert r.status_code == 400, r.text
            error = r.json()["error"]
            assert error["type"] == "BadRequestError", error
            assert error["message"].startswith(f"{name} must be"), error
            assert repr(query.rsplit("=", 1)[1]) in error["message"], error


def test_openapi_declares_both_on_both_endpoints() -> None:
    spec = make_client(StandIn()).get("/openapi.json").json()["paths"]
    for path in ("/v1/analyze", "/v1/annotate"):
        params = {p["name"]: p for p in spec[path]["post"]["parameters"]}
        assert {"threshold", "min_face"} <= set(params), path
        assert "changes nothing" in params["threshold"]["description"]


def test_healthz_states_the_detectors_own_options() -> None:
    from agegender.detect.cascade import CascadeDetector

    def health(analyzer: Any) -> Any:
        return make_client(analyzer).get("/healthz").json()["detector"]

    assert health(None) is None  # the models are not loaded yet
    assert health(StandIn()) == {"name": "stand-in", "threshold": 0.5, "min_face": 20}

    # a cascade (hog-mtcnn) states its first stage's
    first = SimpleNamespace(name="hog", threshold=0.6, min_face=30)
    then = SimpleNamespace(name="mtcnn", threshold=0.9, min_face=40)
    cascade = SimpleNamespace(detector=CascadeDetector(first, then, name="hog-mtcnn"))
    assert health(cascade) == {"name": "hog-mtcnn", "threshold": 0.6, "min_face": 30}


# ----------------------------------------------------------------------------- the group photo


@pytest.fixture(scope="module")
def real(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A client around an Analyzer with the default models (from the shared mirror)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGEGENDER_MIRROR", str(mirror))
        mp.setenv("AGEGENDER_HOME", str(tmp_path_factory.mktemp("home")))
        from agegender import Analyzer

        with make_client(Analyzer()) as c:
            yield c


@pytest.fixture(scope="module")
def group_jpg(photos: Path) -> bytes:
    return (photos / "group_t1.jpg").read_bytes()


def cut(values: list[float]) -> float:
    """Midway across the widest gap between the sorted values: some below, some above."""
    v = sorted(values)
    i = max(range(1, len(v)), key=lambda k: v[k] - v[k - 1])
    return (v[i - 1] + v[i]) / 2


def side(face: dict[str, Any]) -> float:
    x1, y1, x2, y2 = face["box"]
    return float(min(x2 - x1, y2 - y1))


@pytest.mark.slow
def test_the_filtered_answer_is_the_unfiltered_one_filtered(real: Any, group_jpg: bytes) -> None:
    full = post(real, "/v1/analyze", group_jpg).json()["faces"]
    assert len(full) == 6
    t = round(cut([f["score"] for f in full]), 4)
    m = round(cut([side(f) for f in full]))
    cases = {
        f"?threshold={t}": lambda f: f["score"] >= t,
        f"?min_face={m}": lambda f: side(f) >= m,
        f"?threshold={t}&min_face={m}": lambda f: f["score"] >= t and side(f) >= m,
        "?threshold=0&min_face=": lambda f: True,  # below the detector's own: no change
    }
    for query, kept in cases.items():
        r = post(real, "/v1/analyze", group_jpg, query)
        assert r.status_code == 200, r.text
        assert [f["box"] for f in r.json()["faces"]] == [f["box"] for f in full if kept(f)], query
    assert 0 < sum(side(f) >= m for f in full) < 6
    a = post(real, "/v1/annotate", group_jpg, f"?min_face={m}")
    assert a.status_code == 200 and a.headers["x-faces"] == str(sum(side(f) >= m for f in full))
    assert post(real, "/v1/annotate", group_jpg).headers["x-faces"] == "6"


@pytest.mark.slow
def test_healthz_states_the_running_detector(real: Any) -> None:
    from agegender.inventory import detector_chain

    detector = real.app.state.service.analyzer().detector
    first = detector_chain(detector)[0]
    stated = real.get("/healthz").json()["detector"]
    assert stated == {
        "name": detector.name,
        "threshold": first.threshold,
        "min_face": first.min_face,
    }
    assert 0 < stated["threshold"] < 1 and stated["min_face"] >= 0
