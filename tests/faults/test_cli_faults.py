"""Fault injection, command line: each fault a new user met in issue 23 (camera indexes,
usage errors, full and read-only disks), tried through ``python -m agegender.cli`` in a
subprocess with a time limit.

A full or read-only disk is simulated inside the subprocess: a ``sitecustomize`` on its
``PYTHONPATH`` wraps ``builtins.open`` (used by Pillow, ``csv`` and our writers) for files
under one folder. ENOSPC lets the first ``AGEGENDER_FAULT_BYTES`` bytes through, then
writes what fits and fails, as a filling disk does; EROFS fails at open, as a read-only
mount does. (Tests run as root here, and root ignores ``chmod``, so a read-only folder
cannot be made for real.) A full stdout is ``/dev/full``.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

#: Any subprocess here ends within this many seconds, or the test fails.
LIMIT_S = 240

SITECUSTOMIZE = '''
import builtins, io, os

_DIR = os.path.realpath(os.environ["AGEGENDER_FAULT_DIR"])
_ERRNO = int(os.environ["AGEGENDER_FAULT_ERRNO"])
_left = [int(os.environ.get("AGEGENDER_FAULT_BYTES", "0"))]
_open = builtins.open


def _fail():
    return OSError(_ERRNO, os.strerror(_ERRNO))


class _Filling:
    def __init__(self, f):
        self._f = f

    def write(self, data):
        if len(data) > _left[0]:
            if _left[0] > 0:
                self._f.write(data[: _left[0]])
                self._f.flush()
            _left[0] = 0
            raise _fail()
        _left[0] -= len(data)
        return self._f.write(data)

    def fileno(self):  # no fd: writers (Pillow's encoders) go through write()
        raise io.UnsupportedOperation("fileno")

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __iter__(self):
        return iter(self._f)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def open(file, mode="r", *args, **kwargs):
    inside = isinstance(file, (str, bytes, os.PathLike)) and os.path.realpath(
        os.fsdecode(file)).startswith(_DIR + os.sep)
    if not inside or not any(c in mode for c in "wax+"):
        return _open(file, mode, *args, **kwargs)
    if _ERRNO == 30:  # EROFS: a read-only file system refuses the open itself
        raise _fail()
    return _Filling(_open(file, mode, *args, **kwargs))


builtins.open = open
'''


def png(path: Path, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(path)
    return path


def run_cli(
    *args: str, env: dict[str, str] | None = None, stdout: int | None = subprocess.PIPE,
    timeout: float = LIMIT_S,
) -> subprocess.CompletedProcess[bytes]:
    """``agegender ARGS`` in a subprocess, bounded in time."""
    return subprocess.run(
        [sys.executable, "-m", "agegender.cli", *args], stdout=stdout, stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})}, timeout=timeout, check=False,
    )


def fault_env(tmp_path: Path, folder: Path, err: int, budget: int = 0) -> dict[str, str]:
    """Environment that makes files under ``folder`` fail with ``err`` after ``budget`` bytes."""
    site = tmp_path / "fault-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "AGEGENDER_FAULT_DIR": str(folder),
            "AGEGENDER_FAULT_ERRNO": str(err), "AGEGENDER_FAULT_BYTES": str(budget)}


def one_error_line(stderr: bytes) -> str:
    """The run's error lines: no traceback, no Python noise at exit; returns the text."""
    text = stderr.decode()
    assert "Traceback" not in text and "Exception ignored" not in text, text
    return text


# ------------------------------------------------------------------ cameras, usage errors
@pytest.mark.parametrize("index", ["-1", "-2", "100", "1000000", "x"])
def test_camera_index_out_of_range_is_a_usage_error_not_a_segfault(index: str) -> None:
    r = run_cli("analyze", "--camera", index)
    assert r.returncode == 2, (r.returncode, r.stderr)  # was 139 (SIGSEGV) for -1 and -2
    err = one_error_line(r.stderr)
    assert err.count("\n") == 1 and "--camera" in err and "0..99" in err or "camera index" in err
    assert r.stdout == b""


def test_a_camera_that_is_not_there_is_a_clear_error_for_that_input(tmp_path: Path) -> None:
    if Path("/dev/video99").exists():
        pytest.skip("this machine has a /dev/video99")
    good = png(tmp_path / "good.png")
    r = run_cli("analyze", "--camera", "99", str(good))
    assert r.returncode == 1
    err = one_error_line(r.stderr)
    assert "no camera 99" in err
    rows = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert [x["source"] for x in rows] == ["99", str(good)]  # the image still went on
    assert "no camera 99" in rows[0]["error"]["message"] and rows[1]["error"] is None


def test_a_bare_number_is_a_camera_unless_a_file_has_that_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agegender.cli.video import split_inputs

    monkeypatch.chdir(tmp_path)
    assert split_inputs(["0", "7"]) == (["0", "7"], [])
    assert split_inputs(["100"]) == ([], ["100"])  # no camera index: a (missing) file
    (tmp_path / "0").write_bytes(png(tmp_path / "p.png").read_bytes())
    assert split_inputs(["0"]) == ([], ["0"])


def test_analyze_0_opens_camera_0_not_a_file(tmp_path: Path) -> None:
    if Path("/dev/video0").exists():
        pytest.skip("this machine has a camera 0")
    r = subprocess.run([sys.executable, "-m", "agegender.cli", "analyze", "0"], cwd=tmp_path,
                       capture_output=True, timeout=LIMIT_S, check=False)
    assert r.returncode == 1
    err = one_error_line(r.stderr)
    assert "no camera 0" in err and "no such file" not in err.lower() and "not found" not in err


@pytest.mark.parametrize("option", ["--every", "--detect-every", "--estimate-every", "--max-frames"])
@pytest.mark.parametrize("value", ["0", "-3"])
def test_zero_or_negative_frame_options_are_usage_errors(option: str, value: str) -> None:
    r = run_cli("analyze", "clip.mp4", option, value)
    assert r.returncode == 2  # was 1, reported per input with Python names (detect_every=0)
    err = one_error_line(r.stderr)
    assert err.count("\n") == 1 and f"argument {option}: must be more than 0, got {value}" in err
    assert "_every" not in err and r.stdout == b""


def test_out_file_mp4_with_images_is_a_usage_error_and_makes_nothing(tmp_path: Path) -> None:
    good = png(tmp_path / "good.png")
    out = tmp_path / "x.mp4"
    r = run_cli("analyze", str(good), "--out", str(out))
    assert r.returncode == 2
    err = one_error_line(r.stderr)
    assert err.count("\n") == 1 and "--out for images is a folder" in err
    assert not out.exists() and r.stdout == b""  # was: a folder named x.mp4


# ------------------------------------------------------------------ full and read-only disks
def _images(folder: Path, n: int) -> list[str]:
    folder.mkdir()
    return [str(png(folder / f"img{i:02d}.png", seed=i)) for i in range(n)]


def test_out_on_a_full_disk_stops_with_one_line_and_what_was_written_is_valid(tmp_path: Path) -> None:
    inputs = _images(tmp_path / "in", 27)
    out = tmp_path / "out"
    env = fault_env(tmp_path, out, errno.ENOSPC, budget=60_000)
    r = run_cli("analyze", *inputs, "--out", str(out), env=env)
    assert r.returncode == 1
    err = one_error_line(r.stderr)
    assert "No space left on device" in err and str(out) in err and "free some space" in err
    written = sorted(out.iterdir())
    assert 0 < len(written) < 27, len(written)  # the disk filled part way
    assert all(p.name.endswith(".annotated.jpg") for p in written)  # no half-written temporaries
    for p in written:
        with Image.open(p) as im:
            im.load()  # each whole
    assert f"stopped after {len(written)}" in err or "stopped after" in err
    rows = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert len(rows) <= len(written) + 1 and all(x["error"] is None for x in rows)


def test_csv_on_a_full_disk_keeps_whole_rows(tmp_path: Path) -> None:
    inputs = _images(tmp_path / "in", 12)
    disk = tmp_path / "disk"
    disk.mkdir()
    csv_path = disk / "faces.csv"
    r = run_cli("analyze", *inputs, "--csv", str(csv_path),
                env=fault_env(tmp_path, disk, errno.ENOSPC, budget=600))
    assert r.returncode == 1
    err = one_error_line(r.stderr)
    assert f"cannot write the CSV file {csv_path}: No space left on device" in err
    text = csv_path.read_text()
    assert text.endswith("\n") and 1 < len(text.splitlines()) < 13
    assert all(line.count(",") == 13 for line in text.splitlines())  # no half row


def test_csv_header_that_does_not_fit_is_one_line(tmp_path: Path) -> None:
    inputs = _images(tmp_path / "in", 2)
    disk = tmp_path / "disk"
    disk.mkdir()
    r = run_cli("analyze", *inputs, "--csv", str(disk / "f.csv"),
                env=fault_env(tmp_path, disk, errno.ENOSPC, budget=10))
    assert r.returncode == 1
    err = one_error_line(r.stderr)
    assert err.count("\n") == 1 and "No space left on device" in err and "f.csv" in err


def test_out_on_a_read_only_disk_stops_with_one_line(tmp_path: Path) -> None:
    # simulated (root ignores chmod): open() under out/ raises EROFS
    inputs = _images(tmp_path / "in", 5)
    out = tmp_path / "out"
    out.mkdir()
    r = run_cli("analyze", *inputs, "--out", str(out), env=fault_env(tmp_path, out, errno.EROFS))
    assert r.returncode == 1
    err = one_error_line(r.stderr)
    assert "Read-only file system" in err and "write to a writable folder" in err
    assert list(out.iterdir()) == []


def test_stdout_on_a_full_disk_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    inputs = _images(tmp_path / "in", 3)
    with open("/dev/full", "wb") as full:
        r = run_cli("analyze", *inputs, stdout=full.fileno())
    assert r.returncode == 1
    err = one_error_line(r.stderr)
    assert "cannot write the results (stdout: /dev/full): No space left on device" in err
    assert err.count("\n") <= 2  # the reason, and where it stopped


def test_stdout_in_a_file_on_a_full_disk_keeps_whole_lines(tmp_path: Path) -> None:
    """stdout redirected to a file on a disk that fills mid-line: cut back to whole lines."""
    from agegender.errors import AgeGenderError
    from agegender.io.writers import StdoutLines

    class Filling:
        """A text stream whose third write gets 5 characters out, then ENOSPC."""

        def __init__(self, f: Any) -> None:
            self.f, self.n = f, 0

        def write(self, s: str) -> int:
            self.n += 1
            if self.n == 3:
                self.f.write(s[:5])
                self.f.flush()
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return int(self.f.write(s))

        def flush(self) -> None:
            self.f.flush()

        def fileno(self) -> int:
            return int(self.f.fileno())

    disk = tmp_path / "stdout.jsonl"
    with open(disk, "w") as fh:
        lines = StdoutLines(Filling(fh))  # type: ignore[arg-type]
        lines.write('{"a": 1}')
        lines.write('{"a": 2}')
        with pytest.raises(AgeGenderError, match="No space left on device; the disk is full"):
            lines.write('{"a": 3}')
    assert disk.read_text() == '{"a": 1}\n{"a": 2}\n'  # the half line was cut off


# ------------------------------------------------------------------ small things a user sees
def test_repr_of_faces_is_short_count_columns_and_a_preview() -> None:
    from agegender.faces import Faces

    n = 5
    faces = Faces(
        boxes=np.tile(np.array([[178.4, 63.9, 265.6, 172.9]], np.float32), (n, 1)),
        scores=np.full(n, 0.9993, np.float32), landmarks=np.zeros((n, 5, 2), np.float32),
    ).with_age(np.full((n, 101), 1 / 101, np.float32)).with_gender(np.full(n, 0.004, np.float32))
    one = repr(faces[0])
    assert len(one) < 300, len(one)  # was 2,280 characters
    assert one.startswith("Faces(1 face; boxes, scores, landmarks, age_dist, age_years")
    assert "box=[178.4, 63.9, 265.6, 172.9] score=0.999 age=50.0 p_male=0.004" in one
    many = repr(faces)
    assert many.startswith("Faces(5 faces;") and many.endswith("; +3 more)") and len(many) < 400
    assert repr(faces[[]]) == "Faces(0 faces; boxes, scores, landmarks, age_dist, age_years, " \
        "age_low, age_high, age_group, gender_p)"
