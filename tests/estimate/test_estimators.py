"""Estimation with fake ONNX sessions: decoders, ensembles, TTA, preprocessing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from agegender.ages import gaussian_distribution
from agegender.errors import InputError
from agegender.estimate import Estimator, parse_spec
from agegender.estimate.onnx import OnnxModel
from agegender.faces import Faces
from agegender.models import ModelFile, ModelRecord, register
from agegender.models.card import Card


@pytest.fixture(autouse=True)
def _restore_registry(monkeypatch: pytest.MonkeyPatch):
    """Fake models registered here must not leak into other tests."""
    import importlib

    records = importlib.import_module("agegender.models.zoo")
    records.records()  # load the built-ins first
    monkeypatch.setattr(records, "_REGISTRY", dict(records._REGISTRY))
    monkeypatch.setattr(records, "_ALIASES", dict(records._ALIASES))


class FakeSession:
    """Stands in for onnxruntime.InferenceSession: returns fn(x) and records inputs."""

    def __init__(self, fn: Any) -> None:
        self.fn, self.seen = fn, []

    def get_inputs(self):
        return [type("I", (), {"name": "x"})()]

    def get_outputs(self):
        return [type("O", (), {"name": "y"})()]

    def run(self, outputs, feeds):
        x = feeds["x"]
        self.seen.append(x)
        return [self.fn(x)]


def _model(task: str, card: dict, fn: Any, name: str = "fake") -> OnnxModel:
    rec = ModelRecord(name=name, task=task, description="fake", license="MIT",
                      files=(ModelFile("f.onnx", None),), card=card)  # type: ignore[arg-type]
    m = OnnxModel(rec)
    m._session = FakeSession(fn)
    return m


AGE_CARD = {
    "input": {"size": 8, "layout": "NCHW", "channels": "RGB", "mean": 0, "std": 1},
    "crop": {"method": "box", "margin": 0.0},
    "output": {"decode": "expected_value", "ages": list(range(101)), "softmax": False},
}


def _chips(n: int = 2, size: int = 8) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (n, size, size, 3), dtype=np.uint8)


def test_expected_value_decoding():
    probs = gaussian_distribution(np.array([20.0, 60.0]), 1.0)
    m = _model("age", AGE_CARD, lambda x: probs[: len(x)])
    dist, years = m.predict(_chips())
    assert np.allclose(years, [20, 60], atol=1e-3) and np.allclose(dist, probs, atol=1e-6)


def test_cydral_style_ages_with_quarter_year():
    card = dict(AGE_CARD, output={"decode": "expected_value", "ages": [0.25] + list(range(1, 81)), "softmax": False})
    p = np.zeros((1, 81), np.float32)
    p[0, 0] = 1
    dist, years = _model("age", card, lambda x: p).predict(_chips(1))
    assert years[0] == pytest.approx(0.25) and dist[0, 0] == pytest.approx(1.0)


def test_groups_decoding_uses_adience_groups():
    card = dict(AGE_CARD, output={"decode": "groups"})
    logits = np.full((1, 8), -20.0, np.float32)
    logits[0, 4] = 20.0  # 25-32
    dist, years = _model("age", card, lambda x: logits).predict(_chips(1))
    assert 25 <= years[0] <= 32 and dist[0, 25:33].sum() > 0.99


def test_regression_decoding():
    card = dict(AGE_CARD, output={"decode": "regression", "sigma": 3.0})
    dist, years = _model("age", card, lambda x: np.array([[42.0]], np.float32)).predict(_chips(1))
    assert years[0] == pytest.approx(42.0) and np.argmax(dist[0]) == 42


@pytest.mark.parametrize(
    ("output", "raw", "p_male"),
    [
        ({"decode": "sigmoid"}, [[0.8]], 0.8),
        ({"decode": "sigmoid", "positive": "female"}, [[0.8]], 0.2),
        ({"decode": "sigmoid", "logits": True}, [[0.0]], 0.5),
        ({"decode": "softmax", "labels": ["male", "female"], "softmax": False}, [[0.3, 0.7]], 0.3),
        ({"decode": "softmax", "labels": ["female", "male"]}, [[0.0, np.log(3)]], 0.75),
    ],
)
def test_gender_decodings(output, raw, p_male):
    card = dict(AGE_CARD, output=output)
    p = _model("gender", card, lambda x: np.asarray(raw, np.float32)).predict(_chips(1))
    assert p[0] == pytest.approx(p_male, abs=1e-6)


def test_preprocessing_follows_card():
    card = dict(AGE_CARD, input={"size": 8, "layout": "NHWC", "channels": "BGR", "mean": [10, 20, 30], "std": 2})
    m = _model("age", card, lambda x: np.ones((len(x), 101), np.float32) / 101)
    chips = _chips(1)
    m.predict(chips)
    x = m._session.seen[0]
    assert x.shape == (1, 8, 8, 3) and x.dtype == np.float32
    expect = (chips[0, 0, 0, ::-1].astype(np.float32) - [10, 20, 30]) / 2
    assert np.allclose(x[0, 0, 0], expect)


@pytest.mark.parametrize(
    ("card", "msg"),
    [
        ({"input": {"size": 8}, "output": {"decode": "nope"}}, "output.decode"),
        ({"input": {"size": 3}, "output": {"decode": "groups"}}, "input.size"),
        ({"input": {"size": 8, "layout": "CHW"}, "output": {"decode": "groups"}}, "input.layout"),
        ({"input": {"size": 8}, "crop": {"method": "align"}, "output": {"decode": "groups"}}, "template"),
        ({"input": {"size": 8}, "output": {"decode": "expected_value"}}, "output.ages"),
    ],
)
def test_bad_cards_are_explained(card, msg):
    with pytest.raises(InputError, match=msg):
        Card.parse(card, task="age", where="my card")


def test_parse_spec():
    assert parse_spec("a:2+b") == [("a", 2.0), ("b", 1.0)]
    for bad in ("a+", "a:x", "a:-1"):
        with pytest.raises(InputError):
            parse_spec(bad)


def _register_fake(name: str, task: str, card: dict) -> None:
    register(ModelRecord(name=name, task=task, description="fake", license="MIT",  # type: ignore[arg-type]
                         files=(ModelFile("f.onnx", None),), card=card), replace=True)


def _image_and_faces() -> tuple[np.ndarray, Faces]:
    img = np.random.default_rng(1).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    f = Faces(boxes=[[5, 5, 25, 25], [30, 10, 50, 30]], scores=[0.9, 0.8],
              landmarks=np.full((2, 5, 2), np.nan))
    return img, f


def test_ensemble_is_weighted_mean_of_distributions():
    d1 = gaussian_distribution(np.array([20.0]), 2.0)
    d2 = gaussian_distribution(np.array([50.0]), 2.0)
    _register_fake("fake-a", "age", AGE_CARD)
    _register_fake("fake-b", "age", AGE_CARD)
    est = Estimator("age", "fake-a:3+fake-b:1", providers=["CPUExecutionProvider"])
    est.models[0]._session = FakeSession(lambda x: np.repeat(d1, len(x), 0))
    est.models[1]._session = FakeSession(lambda x: np.repeat(d2, len(x), 0))
    img, f = _image_and_faces()
    (out,) = est.estimate([img], [f])
    assert np.allclose(out.age_dist, 0.75 * d1 + 0.25 * d2, atol=1e-6)
    assert np.allclose(out.age_years, 0.75 * 20 + 0.25 * 50, atol=1e-3)


def test_tta_flip_and_oversample_average_views():
    _register_fake("fake-g", "gender", dict(AGE_CARD, output={"decode": "sigmoid"}))
    img, f = _image_and_faces()

    def left_brightness(x):  # depends on the view: mirrors and crops give other values
        return (x[:, 0, :, :2].mean(axis=(1, 2)) / 255.0).reshape(-1, 1).astype(np.float32)

    results = {}
    for tta, views in (("none", 1), ("flip", 2), ("oversample", 10)):
        est = Estimator("gender", "fake-g", tta=tta, providers=["CPUExecutionProvider"])
        sess = FakeSession(left_brightness)
        est.models[0]._session = sess
        (out,) = est.estimate([img], [f])
        x = sess.seen[0]
        assert x.shape[0] == views * len(f)
        expect = left_brightness(x).reshape(views, len(f)).mean(axis=0)
        assert np.allclose(out.gender_p, expect, atol=1e-6)
        results[tta] = out.gender_p
    assert not np.allclose(results["none"], results["flip"])
    assert not np.allclose(results["flip"], results["oversample"])


def test_no_faces_gives_empty_columns():
    _register_fake("fake-a", "age", AGE_CARD)
    est = Estimator("age", "fake-a", providers=["CPUExecutionProvider"])
    (out,) = est.estimate([np.zeros((10, 10, 3), np.uint8)], [Faces.empty()])
    assert len(out) == 0 and out.age_dist is not None


def test_temperature_widens_interval_but_keeps_years():
    probs = gaussian_distribution(np.array([40.0]), 2.0)
    plain = _model("age", AGE_CARD, lambda x: probs)
    card = dict(AGE_CARD, output=dict(AGE_CARD["output"], temperature=2.5))
    warm = _model("age", card, lambda x: probs)
    f = Faces(boxes=[[0, 0, 8, 8]], scores=[1], landmarks=np.zeros((1, 5, 2)))
    (d1, y1), (d2, y2) = plain.predict(_chips(1)), warm.predict(_chips(1))
    assert y1[0] == pytest.approx(y2[0])
    a, b = f.with_age(d1, y1), f.with_age(d2, y2)
    assert (b.age_high - b.age_low)[0] > 1.4 * (a.age_high - a.age_low)[0]
    assert d2.sum() == pytest.approx(1.0)


def test_gender_temperature_keeps_labels_and_softens():
    raw = np.array([[0.05, 0.95], [0.7, 0.3]], np.float32)
    out = {"decode": "softmax", "labels": ["female", "male"], "softmax": False}
    plain = _model("gender", dict(AGE_CARD, output=out), lambda x: raw).predict(_chips(2))
    warm = _model("gender", dict(AGE_CARD, output=dict(out, temperature=2.0)), lambda x: raw).predict(_chips(2))
    assert np.array_equal(plain >= 0.5, warm >= 0.5)
    assert abs(warm[0] - 0.5) < abs(plain[0] - 0.5)
    assert warm[0] == pytest.approx(1 / (1 + np.exp(-np.log(0.95 / 0.05) / 2)), abs=1e-5)


def _face() -> list[Faces]:
    return [Faces(boxes=np.array([[30, 30, 130, 130]], np.float32), scores=np.array([0.9], np.float32),
                  landmarks=np.array([[[60, 65], [100, 65], [80, 85], [65, 105], [95, 105]]], np.float32))]


def test_the_default_network_is_one_model_run_once_per_batch_for_both_tasks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The default pair names two outputs of one FaceRes graph: one model, one alignment and
    one run per batch give age and gender; a later batch runs it again; the answers equal
    those of an age and a gender estimator run apart."""
    import agegender.estimate as est
    import agegender.estimate.onnx as ox
    from agegender.analyzer import Analyzer

    rgb = np.full((160, 160, 3), 120, np.uint8)
    an = Analyzer(detector="hog", profile="accurate")
    assert an.estimator is not None and [m.name for m in an.estimator.models] == ["faceres"]
    assert an.estimator.models[0].tasks == ("age", "gender")
    runs, views = [], []
    real_pre, real_views = ox.OnnxModel.preprocess, est._views
    monkeypatch.setattr(ox.OnnxModel, "preprocess", lambda self, c: runs.append(1) or real_pre(self, c))
    monkeypatch.setattr(est, "_views", lambda *a, **k: views.append(1) or real_views(*a, **k))
    first = an.estimate([rgb], _face())[0]
    assert len(runs) == 1 and len(views) == 1
    again = an.estimate([rgb], _face())[0]
    assert len(runs) == 2 and len(views) == 2
    assert np.array_equal(first.age_dist, again.age_dist) and np.array_equal(first.gender_p, again.gender_p)
    apart = Estimator("gender", "faceres-gender").estimate([rgb], Estimator("age", "faceres-age").estimate(
        [rgb], _face()))[0]
    assert len(runs) == 4
    assert np.array_equal(first.age_dist, apart.age_dist) and np.array_equal(first.gender_p, apart.gender_p)
    assert first.age_years is not None and first.gender_p is not None


class TwoHeads(FakeSession):
    """A graph with an age head ``a`` (softmax over 0..100) and a gender head ``g``."""

    def get_outputs(self):
        return [type("O", (), {"name": n})() for n in ("g", "a", "e")]

    def run(self, outputs, feeds):
        x = feeds["x"]
        self.seen.append(x)
        n = len(x)
        age = np.zeros((n, 101), np.float32)
        age[:, 30] = 1.0
        return [np.full((n, 1), 0.8, np.float32), age, np.tile([[3.0, 4.0]], (n, 1)).astype(np.float32)]


MULTI_CARD = {"input": AGE_CARD["input"], "crop": AGE_CARD["crop"], "outputs": {
    "age": {"decode": "expected_value", "ages": list(range(101)), "softmax": False, "name": "a"},
    "gender": {"decode": "sigmoid", "name": "g"},
    "embedding": {"decode": "l2", "name": "e"}}}


def _register_multi() -> None:
    register(ModelRecord(name="fake-net", task="multi", description="fake", license="MIT",
                         files=(ModelFile("f.onnx", None),), card=MULTI_CARD),
             outputs={"fake-net-age": "age", "fake-net-gender": "gender"})


def test_a_multi_output_record_runs_once_for_every_task_it_serves() -> None:
    _register_multi()
    est = Estimator({"age": "fake-net-age", "gender": "fake-net", "embedding": "fake-net"},
                    providers=["CPUExecutionProvider"])
    assert [m.name for m in est.models] == ["fake-net"] and est.tasks == ("age", "gender", "embedding")
    sess = TwoHeads(None)
    est.models[0]._session = sess
    img = np.zeros((40, 40, 3), np.uint8)
    f = Faces(boxes=np.array([[5, 5, 35, 35], [0, 0, 20, 20]], np.float32),
              scores=np.ones(2, np.float32), landmarks=np.full((2, 5, 2), np.nan, np.float32))
    (out,) = est.estimate([img], [f])
    assert len(sess.seen) == 1  # one run for three outputs
    assert out.age_years == pytest.approx([30.0, 30.0]) and out.gender_p == pytest.approx([0.8, 0.8])
    assert out.embedding == pytest.approx(np.array([[0.6, 0.8], [0.6, 0.8]]))
    (none,) = est.estimate([img], [Faces.empty()])
    assert len(none) == 0 and none.embedding is not None and none.gender_p is not None


def test_names_of_one_output_resolve_to_their_network_for_that_task_only() -> None:
    from agegender.errors import UnknownModelError
    from agegender.models import get

    _register_multi()
    assert get("fake-net-age", "age").name == "fake-net" == get("fake-net", "gender").name
    assert get("fake-net", "embedding").tasks == ("age", "gender", "embedding")
    with pytest.raises(UnknownModelError, match="the age output of model 'fake-net'"):
        get("fake-net-age", "gender")
    assert get("faceres-age", "age") is get("faceres-gender", "gender") is get("default-age")
    assert get("faceres-age.deep", "age") is get("faceres-gender.deep", "gender")
    assert get("cydral-age", "age") is not get("cydral-gender", "gender")  # two networks


def test_an_ensemble_mixes_a_multi_output_network_with_one_output_models() -> None:
    _register_multi()
    register(ModelRecord(name="fake-a", task="age", description="fake", license="MIT",
                         files=(ModelFile("f.onnx", None),), card=AGE_CARD))
    est = Estimator({"age": "fake-net-age:1+fake-a:3", "gender": "fake-net-gender"},
                    providers=["CPUExecutionProvider"], tta="flip")
    assert [m.name for m in est.models] == ["fake-net", "fake-a"]
    heads, one = TwoHeads(None), FakeSession(lambda x: np.eye(101, dtype=np.float32)[[50] * len(x)])
    est.models[0]._session, est.models[1]._session = heads, one
    (out,) = est.estimate([np.zeros((40, 40, 3), np.uint8)], [Faces(
        boxes=np.array([[5, 5, 35, 35]], np.float32), scores=np.ones(1, np.float32),
        landmarks=np.full((1, 5, 2), np.nan, np.float32))])
    assert len(heads.seen) == 1 and len(one.seen) == 1 and len(heads.seen[0]) == 2  # 2 views
    assert out.age_years == pytest.approx([0.25 * 30 + 0.75 * 50]) and out.gender_p == pytest.approx([0.8])


def test_create_estimator_checks_the_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    from agegender.estimate import create_estimator

    with pytest.raises(InputError, match="not allowed under the permissive profile"):
        create_estimator("age", "faceres-age", profile="permissive")
    with pytest.raises(InputError, match="not allowed under the permissive profile"):
        create_estimator("gender", "cydral-gender+faceres-gender", profile="permissive")
    monkeypatch.setenv("AGEGENDER_PROFILE", "permissive")
    assert [m.name for m in create_estimator("age").models] == ["cydral-age"]  # the profile's
    with pytest.raises(InputError, match="permissive"):
        create_estimator("age", "faceres-age")
    assert [m.name for m in create_estimator("age", "faceres-age", profile="accurate").models] == ["faceres"]
