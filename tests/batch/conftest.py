"""Fixtures of the batch tests: 300 UTKFace faces + 3 corrupt files, analyzed once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.batch.helpers import analyze_reference, make_inputs


@pytest.fixture(scope="module")
def faces300(utkface: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_inputs(utkface, tmp_path_factory.mktemp("in300"), 300)[0].parent


@pytest.fixture(scope="module")
def reference300(faces300: Path) -> dict:
    """`agegender analyze` on the same 303 inputs: the rows batch must reproduce."""
    return analyze_reference(faces300)
