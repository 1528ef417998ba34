"""The `agegender` command as a user runs it (in a subprocess)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agegender.cli import main


def run(*args: str, stdin: bytes | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "agegender.cli", *args],
        input=stdin, capture_output=True, env=e, timeout=600,
    )


FACE_KEYS = {"box", "score", "landmarks", "age", "gender"}


def _check_shape(obj: dict) -> None:
    assert set(obj) == {"source", "width", "height", "faces", "error"}
    for f in obj["faces"]:
        assert set(f) == FACE_KEYS
        assert len(f["box"]) == 4 and isinstance(f["score"], float)
        assert len(f["landmarks"]) == 5 and all(len(p) == 2 for p in f["landmarks"])
        assert set(f["age"]) == {"years", "low", "high", "group"}
        assert set(f["gender"]) == {"label", "probability"} and f["gender"]["label"] in ("female", "male")


def test_group_photo_json(photos, tmp_path: Path):
    r = run("analyze", str(photos / "group_t1.jpg"), "--out", str(tmp_path / "out"), "--csv", str(tmp_path / "f.csv"))
    assert r.returncode == 0, r.stderr.decode()
    (line,) = r.stdout.decode().splitlines()
    obj = json.loads(line)
    _check_shape(obj)
    assert len(obj["faces"]) == 6 and obj["error"] is None
    assert (obj["width"], obj["height"]) == (1280, 886)
    assert (tmp_path / "out" / "group_t1.annotated.jpg").stat().st_size > 10_000
    with open(tmp_path / "f.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and rows[0]["gender"] in ("female", "male")


def test_folder_with_a_corrupt_file_is_processed_in_full(photos, tmp_path: Path):
    d = tmp_path / "in"
    d.mkdir()
    for name in ("astronaut.png", "Tom_Hanks_54745.png"):
        (d / name).write_bytes((photos / name).read_bytes())
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    r = run("analyze", str(d))
    assert r.returncode == 1
    objs = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert len(objs) == 3
    by = {Path(o["source"]).name: o for o in objs}
    assert by["broken.jpg"]["error"]["type"] == "ImageDecodeError"
    assert len(by["astronaut.png"]["faces"]) == 1 and len(by["Tom_Hanks_54745.png"]["faces"]) == 1
    err = r.stderr.decode()
    assert "broken.jpg" in err and "Traceback" not in err


def test_stdin(photos):
    r = run("analyze", "-", stdin=(photos / "Tom_Hanks_54745.png").read_bytes())
    assert r.returncode == 0
    obj = json.loads(r.stdout)
    assert obj["source"] == "<stdin>" and len(obj["faces"]) == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.jpg", "no such file"),
        (lambda p: (p / "e").mkdir() or p / "e", "holds no images"),
        (lambda p: (p / "z.jpg").write_bytes(b"") and p / "z.jpg" or p / "z.jpg", "empty"),
        (lambda p: (p / "t.txt.jpg").write_bytes(b"plain text, not an image") and p / "t.txt.jpg", "not a recognised image"),
    ],
    ids=["missing", "empty-folder", "empty-file", "not-image"],
)
def test_bad_inputs_one_line_no_traceback(tmp_path: Path, make, message):
    target = make(tmp_path)
    r = run("analyze", str(target))
    assert r.returncode == 1
    err = r.stderr.decode()
    assert message in err and "Traceback" not in err
    obj = json.loads(r.stdout)
    assert message in obj["error"]["message"] and obj["faces"] == []


def test_pixel_limit_and_usage_errors(photos):
    r = run("analyze", str(photos / "group_t1.jpg"), "--max-pixels", "1000")
    assert r.returncode == 1 and "above the limit" in r.stderr.decode()
    r = run("analyze", str(photos / "group_t1.jpg"), "--age-model", "nope")
    assert r.returncode == 2 and "no age model named 'nope'" in r.stderr.decode()
    assert "Traceback" not in r.stderr.decode()
    r = run("analyze")
    assert r.returncode == 2


def test_debug_shows_traceback(tmp_path):
    r = run("--debug", "analyze", str(tmp_path / "nope.png"), "--age-model", "nope")
    assert "Traceback" in r.stderr.decode()


def test_models_list_tells_the_truth(capsys, no_mirror):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out.split("\nDETECTOR ")[0]  # the models; detectors follow
    lines = {ln.split()[0]: ln for ln in out.splitlines()[1:]}
    assert {"cydral-age", "cydral-gender", "mtcnn", "hog", "yunet", "opencv-ssd"} <= set(lines)
    assert " yes " in lines["cydral-age"] and "CC0-1.0" in lines["cydral-age"]
    assert " yes " in lines["yunet"] and "pip:agegender/" in lines["yunet"]  # shipped
    assert " no " in lines["yunet-n"]  # not downloaded, no mirror


def test_models_pull_from_mirror_and_verify(capsys, use_mirror):
    assert main(["models", "pull", "yunet-n"]) == 0
    assert main(["models", "verify"]) == 0
    out = capsys.readouterr().out
    assert "yunet-n: ok" in out and "sha256 verified" in out


def test_gender_min_confidence(photos, tmp_path: Path):
    csv_path = tmp_path / "f.csv"
    r = run("analyze", str(photos / "group_t1.jpg"), "--gender-min-confidence", "0.99",
            "--csv", str(csv_path))
    assert r.returncode == 0, r.stderr.decode()
    genders = [f["gender"] for f in json.loads(r.stdout.decode())["faces"]]
    undetermined = [g for g in genders if g["label"] is None]
    assert undetermined, genders  # some faces of group_t1 are below 0.99
    assert all(g == {"label": None, "probability": g["probability"], "undetermined": True}
               and g["probability"] < 0.99 for g in undetermined)
    assert all(g["label"] in ("female", "male") and g["probability"] >= 0.99 and len(g) == 2
               for g in genders if g["label"] is not None)
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["gender"] or None for row in rows] == [g["label"] for g in genders]
    assert [float(row["gender_probability"]) for row in rows] == [g["probability"] for g in genders]
    for bad in ("0.3", "1.5", "often"):
        r = run("analyze", str(photos / "group_t1.jpg"), "--gender-min-confidence", bad)
        err = r.stderr.decode().strip()
        assert r.returncode == 2 and len(err.splitlines()) == 1 and "--gender-min-confidence" in err
