"""Shared fixtures: where ../shared is, and skips with a clear reason when it is absent."""

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
