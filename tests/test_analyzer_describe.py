"""Analyzer.describe(): the one public answer to what an Analyzer runs; Analyzer.load()."""

from __future__ import annotations

import pytest

from agegender import Analyzer


def test_describe_names_the_detector_chain_models_profile_and_versions() -> None:
    an = Analyzer(detector="hog-mtcnn", profile="accurate", gender_min_confidence=0.8)
    d = an.describe()
    assert d["detector"] == {"name": "hog-mtcnn", "chain": ["hog", "mtcnn"]}
    assert (d["age_model"], d["gender_model"], d["tta"]) == ("faceres-age", "faceres-gender", "none")
    by_task = {(m["task"], m["name"]) for m in d["models"]}
    assert {("detect", "hog"), ("age", "faceres"), ("gender", "faceres")} <= by_task
    faceres = next(m for m in d["models"] if m["name"] == "faceres")
    assert "non-commercial" in faceres["license"] and len(faceres["sha256"][0]) == 64
    assert d["profile"]["name"] == "accurate" and d["profile"]["commercial_use"] is False
    assert d["gender_min_confidence"] == 0.8
    assert d["versions"]["agegender"] and "numpy" in d["versions"]


def test_describe_without_models_and_load_opens_every_session() -> None:
    an = Analyzer(detector="hog", profile="permissive", age_model="cydral-age", gender_model=None)
    d = an.describe()
    # HOG's record and dlib's 5-point model it loads, then the one age model
    assert d["gender_model"] is None and [m["task"] for m in d["models"]] == ["detect", "landmarks", "age"]
    assert d["models"][-1]["license"] == "CC0-1.0"
    assert an.estimator is not None
    an.load()
    assert all(m._session is not None for m in an.estimator.models)  # noqa: SLF001


@pytest.mark.parametrize("profile", ["accurate", "permissive"])
def test_one_estimator_per_analyzer(profile: str) -> None:
    an = Analyzer(detector="hog", profile=profile)
    assert an.estimator is not None and an.estimator.tasks == ("age", "gender")
    assert len(an.estimator.models) == (1 if profile == "accurate" else 2)  # FaceRes: one network
