"""YuNet is put into the package by setup.py when it builds (it is not kept in git); a build
that could not include it still finds the file in the mirror or cache, or downloads it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from agegender import models
from agegender.errors import ModelUnavailableError
from agegender.models import store

REPO = Path(__file__).resolve().parents[2]


def _setup_constant(name: str) -> str:
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return ast.literal_eval(node.value)  # type: ignore[no-any-return]
    raise AssertionError(f"setup.py has no {name}")


def test_setup_includes_the_file_the_record_checks() -> None:
    (f,) = models.get("yunet").files
    assert _setup_constant("NAME") == f.filename
    assert _setup_constant("SHA256") == f.sha256
    assert _setup_constant("URL") == f.url


def test_without_the_package_file_it_is_found_in_the_mirror(
    shared: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rec = models.get("yunet")
    real = store.package_file
    monkeypatch.setattr(store, "package_file",
                        lambda pkg, res: None if res.endswith(".onnx") and "yunet" in res
                        else real(pkg, res))
    monkeypatch.setenv("AGEGENDER_HOME", str(tmp_path))
    monkeypatch.delenv("AGEGENDER_MIRROR", raising=False)
    with pytest.raises(ModelUnavailableError, match="AGEGENDER_MIRROR"):
        rec.paths(fetch=False)
    assert not rec.available()
    monkeypatch.setenv("AGEGENDER_MIRROR", str(shared / "models"))
    assert rec.paths(fetch=False) == [shared / "models" / "yunet" / "yunet_s_dynamic.onnx"]
