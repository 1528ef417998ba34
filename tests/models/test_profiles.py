"""Profiles: ``accurate`` (default, FaceRes, research use) and ``permissive`` (only models
that allow commercial use), chosen by name, ``AGEGENDER_PROFILE``, ``Analyzer(profile=...)``
or ``--profile``. Needs no ../shared: the models used here ship with pip."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agegender.errors import InputError
from agegender.models.profiles import ENV, PROFILES, get_profile


@pytest.fixture(autouse=True)
def _no_profile_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.delenv("AGEGENDER_MIRROR", raising=False)  # only what pip ships


def test_default_is_accurate():
    p = get_profile()
    assert p.name == "accurate" and not p.commercial_use
    assert (p.age_model, p.gender_model) == ("faceres-age", "faceres-gender")
    assert "non-commercial" in p.license


def test_environment_variable_and_explicit_name(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ENV, " Permissive ")
    p = get_profile()
    assert p.name == "permissive" and p.commercial_use
    assert (p.age_model, p.gender_model) == ("cydral-age", "cydral-gender")
    assert get_profile("accurate").name == "accurate"  # a name beats the environment


def test_unknown_profile_lists_the_choices(monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(InputError, match="unknown profile 'fast'") as e:
        get_profile("fast")
    assert all(name in str(e.value) for name in PROFILES)
    monkeypatch.setenv(ENV, "cheap")
    with pytest.raises(InputError, match=f"'cheap' \\(from {ENV}\\)") as e:
        get_profile()
    assert all(name in str(e.value) for name in PROFILES)


def test_analyzer_models_follow_the_profile(monkeypatch: pytest.MonkeyPatch):
    from agegender.analyzer import Analyzer

    an = Analyzer(profile="permissive")
    assert (an.profile.name, an.age_model, an.gender_model) == ("permissive", "cydral-age", "cydral-gender")
    an = Analyzer()
    assert (an.profile.name, an.age_model, an.gender_model) == ("accurate", "faceres-age", "faceres-gender")
    monkeypatch.setenv(ENV, "permissive")
    an = Analyzer(gender_model=None)
    assert an.age_model == "cydral-age" and an.gender_model is None


@pytest.mark.parametrize("kwargs", [
    {"age_model": "faceres-age"},
    {"gender_model": "faceres-gender"},
    {"age_model": "cydral-age+faceres-age"},  # an ensemble member counts too
    {"age_model": "default-age"},  # the alias of the shipped FaceRes age model
])
def test_permissive_refuses_research_models(kwargs: dict[str, str]):
    from agegender.analyzer import Analyzer

    with pytest.raises(InputError, match="not allowed under the permissive profile") as e:
        Analyzer(profile="permissive", **kwargs)
    name = next(iter(kwargs.values())).split("+")[-1]
    assert f"'{name}'" in str(e.value) and "non-commercial" in str(e.value)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if k not in (ENV, "AGEGENDER_MIRROR")}
    return subprocess.run([sys.executable, "-m", "agegender.cli", *args], capture_output=True,
                          text=True, env={**e, **(env or {})}, timeout=300)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "noise.png"
    rgb = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path)
    return path


def test_cli_refuses_a_research_model_under_permissive(image: Path):
    r = _cli("analyze", str(image), "--profile", "permissive", "--age-model", "faceres-age")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "faceres-age" in lines[0] and "permissive" in lines[0]
    assert r.stdout == ""  # refused before any input was read


def test_cli_unknown_profile_in_the_environment(image: Path):
    r = _cli("analyze", str(image), env={ENV: "cheap"})
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert ENV in lines[0] and "accurate" in lines[0] and "permissive" in lines[0]


def test_the_permissive_list_is_read_from_the_records_licenses() -> None:
    from agegender.models import ModelFile, ModelRecord, zoo
    from agegender.models.profiles import (
        COMPOSITES,
        PERMISSIVE_MODELS,
        check_allowed,
        commercial_use,
    )

    assert {"cydral-age", "cydral-gender", "yunet", "mtcnn", "hog", "haar", "hog-mtcnn", "auto"} <= PERMISSIVE_MODELS
    assert not {"faceres", "faceres.deep", "ssrnet-age.imdb", "levi-hassner-age", "opencv-ssd"} & PERMISSIVE_MODELS
    assert commercial_use("CC0-1.0") and commercial_use("BSL-1.0 (dlib); CC0-1.0 (landmark model)")
    for lic in ("Apache-2.0 (weights: academic/non-commercial training data)", "unknown", "MIT research use"):
        assert not commercial_use(lic), lic
    assert set(COMPOSITES["hog-mtcnn"]) <= PERMISSIVE_MODELS
    permissive = PROFILES["permissive"]
    rec = ModelRecord(name="my-open-age", task="age", description="x", license="MIT",
                      files=(ModelFile("f.onnx", None),), card={})
    zoo.register(rec, replace=True)
    try:
        check_allowed(permissive, ["my-open-age"])  # a new record needs no list kept by hand
        zoo.register(dataclasses.replace(rec, license="CC-BY-NC-4.0, non-commercial"), replace=True)
        with pytest.raises(InputError, match="not allowed under the permissive profile"):
            check_allowed(permissive, ["my-open-age"])
    finally:
        zoo._REGISTRY.pop("my-open-age", None)
