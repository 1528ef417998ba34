"""Shared fixtures: where ../shared is, and skips with a clear reason when it is absent;
the markers every test gets from where it is and what it uses (``slow``, ``browser``,
``shared``, ``train``: see pyproject's ``[tool.pytest.ini_options]``).

The fast selection, for feedback while working: ``python -m pytest -m "not slow"``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    env = os.environ.get("AGEGENDER_SHARED")
    p = Path(env) if env else REPO.parent / "shared"
    return p if p.is_dir() else None


def _need(sub: str) -> Path:
    root = shared_dir()
    if root is None:
        if os.environ.get("CI"):
            pytest.fail("../shared is missing in CI; it must be beside the checkout")
        pytest.skip("needs ../shared (set AGEGENDER_SHARED) with real faces and model files")
    p = root / sub
    if not p.exists():
        pytest.skip(f"needs {p}, which is absent from this copy of shared/")
    return p


#: Test modules (under tests/) whose tests take seconds each (models loaded in a subprocess,
#: whole videos, worker processes, data sets): ``slow``. Browser and training tests are slow
#: too. Measured with ``pytest --durations``; move a module here when it slows the fast set.
SLOW_MODULES = frozenset({
    "batch/test_local.py", "batch/test_ray.py", "cli/test_main.py", "cli/test_hardening.py",
    "cli/test_serve.py", "cli/test_long_argv.py", "cli/test_batch_progress.py",
    "cli/test_models_cli.py", "convert/test_tfjs_reference.py", "detect/test_haar.py",
    "eval/test_eval_end_to_end.py", "faults/test_batch_faults.py", "faults/test_cli_faults.py",
    "faults/test_video_faults.py", "models/test_faceres_deep.py", "models/test_every_model.py",
    "test_video.py", "test_weights.py", "test_environment.py", "server/test_stream_tracking.py",
    "server/test_hardening.py", "server/test_api.py", "models/test_extra.py",
})
#: Single tests of several seconds (a CLI in a subprocess, a data set) in otherwise fast
#: modules: ``slow`` (node id prefixes under tests/).
SLOW_TESTS = (
    "models/test_profiles.py::test_cli_", "test_analyzer.py::test_utkface_floor",
    "detect/test_mtcnn.py::test_utkface_recall", "eval/test_adience_csv.py::test_eval_on_the_staged_fold",
    "test_public_api.py::test_readme_calls",
)
#: fixtures that read ../shared (real faces, photos, the model mirror)
SHARED_FIXTURES = frozenset({"shared", "photos", "utkface", "mirror", "use_mirror"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``browser`` for tests/server/test_browser*, ``train`` for tests/train/, ``shared`` for
    tests that use ../shared, ``slow`` for those, :data:`SLOW_MODULES` and :data:`SLOW_TESTS`."""
    tests = REPO / "tests"
    for item in items:
        path = Path(str(item.fspath))
        rel = path.relative_to(tests).as_posix() if path.is_relative_to(tests) else path.name
        browser = rel.startswith("server/test_browser")
        train = rel.startswith("train/")
        if browser:
            item.add_marker(pytest.mark.browser)
        if train:
            item.add_marker(pytest.mark.train)
        if SHARED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.shared)
        test = f"{rel}::{item.name}"
        if browser or train or rel in SLOW_MODULES or test.startswith(SLOW_TESTS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared/ folder (real photos, labeled faces, model mirror)."""
    return _need(".")


@pytest.fixture(scope="session")
def photos() -> Path:
    return _need("data/photos")


@pytest.fixture(scope="session")
def utkface() -> Path:
    return _need("data/utkface")


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The model mirror folder, for AGEGENDER_MIRROR."""
    return _need("models")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never let tests touch the user's real cache; each test starts with an empty one."""
    monkeypatch.setenv("AGEGENDER_HOME", str(tmp_path / "agegender-home"))


@pytest.fixture
def use_mirror(mirror: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point AGEGENDER_MIRROR at shared/models (the offline copy of upstream files)."""
    monkeypatch.setenv("AGEGENDER_MIRROR", str(mirror))
    return mirror


@pytest.fixture
def no_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what pip installed: no mirror, so only package-shipped models are available."""
    monkeypatch.delenv("AGEGENDER_MIRROR", raising=False)


def utk_sample(root: Path, n: int, split: str = "test") -> list[dict[str, str]]:
    """n rows of a UTKFace split spread evenly over it (the file is sorted by age)."""
    import csv

    import numpy as np

    with open(root / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == split and r["gender"]]
    return [rows[int(i)] for i in np.linspace(0, len(rows) - 1, n)]
