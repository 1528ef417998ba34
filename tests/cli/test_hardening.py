"""The command line as a new user meets it: usage errors, special files, folder scans,
a model that cannot be had."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agegender.cli import build_parser, main


def _png(path: Path) -> Path:
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return _png(tmp_path / "good.png")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold", "5"], "--threshold: must be within 0..1"),
        (["--threshold", "-1"], "--threshold: must be within 0..1"),
        (["--threshold", "high"], "--threshold: expected a number"),
        (["--min-face", "-3"], "--min-face: must be 0 or more"),
        (["--csv", "/nonexistent/dir/x.csv"], "the folder /nonexistent/dir does not exist"),
        (["--out", "GOOD"], "is an existing file"),
        (["--max-pixels", "-5"], "--max-pixels: must be more than 0"),
        (["--max-inflight-pixels", "0"], "--max-inflight-pixels: must be more than 0"),
        (["--detect-me"], "unrecognized arguments"),
    ],
    ids=["threshold-5", "threshold-neg", "threshold-word", "min-face", "csv-dir", "out-file",
         "max-pixels", "inflight", "unknown"],
)
def test_bad_option_values_are_one_line_usage_errors(good, capsys, args, message):
    args = [str(good) if x == "GOOD" else x for x in args]
    with pytest.raises(SystemExit) as exc:
        main(["analyze", str(good), *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(("agegender analyze: error: ", "agegender: error: "))
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("flag", ["-q", "--quiet", "--debug", "-v"])
def test_global_flags_before_or_after_the_subcommand(flag):
    p = build_parser()
    dest = {"-q": "quiet", "--quiet": "quiet", "--debug": "debug", "-v": "verbose"}[flag]
    assert getattr(p.parse_args([flag, "analyze", "x.jpg"]), dest) is True
    assert getattr(p.parse_args(["analyze", "x.jpg", flag]), dest) is True
    assert getattr(p.parse_args(["analyze", "x.jpg"]), dest) is False
    assert getattr(p.parse_args(["models", "list", flag]), dest) is True


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for default in ("(default: none)", "(default: 100,000,000",
                    "(default: 128,000,000", "(default: auto)", "(default: 1)"):
        assert default in out


def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agegender.cli", *args],
        capture_output=True, env=dict(os.environ, **(env or {})), timeout=timeout,
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_fifo_and_folder_scan_through_the_cli(tmp_path: Path, good: Path):
    fifo = tmp_path / "fifo.jpg"
    os.mkfifo(fifo)
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    _png(folder / "a.png")
    (folder / "notes.txt").write_text("x")
    (folder / "sub" / "loop").symlink_to(folder)
    r = _run("analyze", str(good), str(fifo), str(folder), "-v", timeout=600)  # never blocks
    assert r.returncode == 1
    rows = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert [Path(x["source"]).name for x in rows] == ["good.png", "fifo.jpg", "a.png"]
    assert rows[0]["error"] is None and rows[2]["error"] is None
    assert "FIFO" in rows[1]["error"]["message"]
    err = r.stderr.decode()
    assert "Traceback" not in err
    assert f"skipped {folder / 'notes.txt'}: not an image extension (.txt)" in err
    assert f"skipped {folder / 'sub' / 'loop'}: a symlink loop" in err
    assert "skipped 2 entries in the folders given" in err


def test_missing_model_fails_once_before_any_input_and_leaves_no_folder(tmp_path: Path, good: Path):
    home = tmp_path / "agegender-home"
    env = {"AGEGENDER_HOME": str(home), "AGEGENDER_MIRROR": "",
           "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9",
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "no_proxy": "", "NO_PROXY": ""}
    inputs = [str(good)] * 5
    r = _run("analyze", *inputs, "--detector", "yunet-n", env=env, timeout=120)
    assert r.returncode != 0
    assert r.stdout == b""  # no input was analysed
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    msg = lines[0]
    assert "yunet_n_dynamic.onnx" in msg  # what
    assert str(home / "models" / "yunet-n") in msg and "AGEGENDER_MIRROR" in msg  # where it looked
    assert "agegender models pull yunet-n" in msg  # how to fix
    left = [p for p in home.rglob("*")] if home.exists() else []
    assert left == [] and not home.exists()
