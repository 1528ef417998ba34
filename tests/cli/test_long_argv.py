"""The command line as a shell glob makes it: many long file arguments, and nothing written
outside AGEGENDER_HOME and the outputs asked for (the onnxruntime pin in pyproject.toml)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def test_import_onnxruntime_with_a_long_command_line():
    args = ["x" * 80] * 600
    r = subprocess.run([sys.executable, "-c", "import onnxruntime", *args], capture_output=True, timeout=120)
    assert r.returncode == 0, f"import onnxruntime died with a long argv (exit {r.returncode}); see the pin's comment"


def test_analyze_1000_file_arguments_and_no_files_outside_home(tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(1000):
        p = folder / f"photo-from-a-long-archive-folder-name-{i:04d}-{'x' * 30}.png"
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    home, tmp, cache = tmp_path / "home", tmp_path / "tmp", tmp_path / "agegender-home"
    home.mkdir()
    tmp.mkdir()
    env = dict(os.environ, HOME=str(home), TMPDIR=str(tmp), AGEGENDER_HOME=str(cache))
    env.pop("XDG_CACHE_HOME", None)
    r = subprocess.run(
        [sys.executable, "-m", "agegender.cli", "-q", "analyze", *paths],
        capture_output=True, env=env, timeout=900,
    )
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    rows = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert [row["source"] for row in rows] == paths
    assert all(row["error"] is None for row in rows)
    stray = [str(p) for p in (*home.rglob("*"), *tmp.rglob("*")) if p.is_file()]
    assert stray == [], f"files written outside AGEGENDER_HOME: {stray[:5]}"
