"""Fault injection, video through the command line (issue 23): a damaged file that ends
early, progress and a summary on a terminal, a full stdout, ``--out FILE.mp4`` with several
videos. Every run is a subprocess with a time limit; the clips are small synthetic ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from .test_cli_faults import LIMIT_S, one_error_line, run_cli

FRAMES = 120


def clip(path: Path, n: int = FRAMES) -> Path:
    """A 160x120 mp4 (mp4v) of ``n`` frames at 30 frames/s: moving noise on grey, no face."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (160, 120))
    assert w.isOpened()
    rng = np.random.default_rng(0)
    for i in range(n):
        f = np.full((120, 160, 3), (2 * i) % 255, np.uint8)
        f[40:80, i % 120 : i % 120 + 40] = rng.integers(0, 255, (40, 40, 3))
        w.write(f)
    w.release()
    return path


def damaged(path: Path, src: Path) -> Path:
    """``src`` with its frame data zeroed after the first 3%: the header still announces
    all the frames, FFmpeg decodes a handful and then ends (as the audit's corrupt mp4)."""
    data = bytearray(src.read_bytes())
    mdat, moov = data.find(b"mdat"), data.find(b"moov")
    assert 0 < mdat < moov  # OpenCV writes the index at the end
    start = mdat + 4 + int((moov - mdat) * 0.03)
    data[start : moov - 8] = bytes(moov - 8 - start)
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("clips")
    good = clip(d / "good.mp4")
    return good, damaged(d / "corrupt.mp4", good)


def test_a_video_that_ends_early_is_an_error_for_that_input_only(clips: tuple[Path, Path]) -> None:
    good, corrupt = clips
    r = run_cli("analyze", str(corrupt), str(good))
    assert r.returncode == 1  # was 0: 3 of 120 frames, silently
    err = one_error_line(r.stderr)
    assert f"{corrupt} ended after" in err and f"of the {FRAMES} frames its header announces" in err
    assert "[mpeg4 @" not in err  # FFmpeg's own decoder messages stay out
    rows = [json.loads(x) for x in r.stdout.decode().splitlines()]
    errors = [x for x in rows if x.get("error")]
    assert [x["source"] for x in errors] == [str(corrupt)]
    assert "truncated or damaged" in errors[0]["error"]["message"]
    good_frames = [x for x in rows if x["source"] == str(good) and "frame" in x]
    assert len(good_frames) == FRAMES  # the next input went on, whole
    assert "1 of 2 inputs failed" in err


def test_a_whole_video_exits_0_with_a_summary_line(clips: tuple[Path, Path]) -> None:
    good, _ = clips
    r = run_cli("analyze", str(good), "--max-frames", "30")
    assert r.returncode == 0
    err = one_error_line(r.stderr)
    assert f"{good}: 30 frames analyzed in " in err and "frames/s" in err and "0 tracks" in err
    assert run_cli("-q", "analyze", str(good), "--max-frames", "5").stderr == b""  # -q: silent


def _with_a_terminal_on_stderr(*args: str) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal; its exit code and what it showed."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "agegender.cli", *args],
                            stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                b = os.read(master, 4096)
            except OSError:  # the other end closed
                return
            if not b:
                return
            chunks.append(b)

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    try:
        rc = proc.wait(timeout=LIMIT_S)
    finally:
        proc.kill()
    t.join(timeout=10)
    os.close(master)
    return rc, b"".join(chunks).decode(errors="replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_progress_and_summary_on_a_terminal(clips: tuple[Path, Path]) -> None:
    good, _ = clips
    rc, shown = _with_a_terminal_on_stderr("analyze", str(good), "--every", "2")
    assert rc == 0, shown
    assert f"analyzing {FRAMES // 2}/{FRAMES // 2} frames" in shown and "100%" in shown
    assert "frames/s" in shown and "\x1b[K" in shown  # a redrawn line
    assert f"{good}: {FRAMES // 2} frames analyzed" in shown


def test_video_lines_to_a_full_stdout_stop_with_one_line(clips: tuple[Path, Path]) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    good, _ = clips
    with open("/dev/full", "wb") as full:
        r = run_cli("analyze", str(good), stdout=full.fileno())
    assert r.returncode == 1
    err = one_error_line(r.stderr)
    assert "cannot write the results (stdout: /dev/full): No space left on device" in err


def test_out_file_mp4_for_two_videos_is_a_usage_error(clips: tuple[Path, Path], tmp_path: Path) -> None:
    good, corrupt = clips
    out = tmp_path / "x.mp4"
    r = run_cli("analyze", str(good), str(corrupt), "--out", str(out))
    assert r.returncode == 2
    err = one_error_line(r.stderr)
    assert err.count("\n") == 1 and "one FILE.mp4 takes one video" in err and not out.exists()


def _file_size_limit(limit: int) -> None:
    """In the child: files may not grow past ``limit`` bytes; a write beyond it fails with
    EFBIG (SIGXFSZ ignored), as on a full disk, for the C library's writes too."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_an_annotated_video_on_a_full_disk_is_an_error_not_a_broken_file(
    clips: tuple[Path, Path], tmp_path: Path
) -> None:
    """OpenCV's writer fails silently when the disk fills up: the run used to exit 0 with
    a truncated out.mp4. Now the file is read back, is not given the name asked for (what
    was written stays under its hidden name, given in the message), and the input fails."""
    good, _ = clips
    out = tmp_path / "out.mp4"
    cmd = [sys.executable, "-m", "agegender.cli", "analyze", str(good), "--out", str(out)]
    r = subprocess.run(
        cmd, capture_output=True, timeout=LIMIT_S, check=False,
        preexec_fn=lambda: _file_size_limit(20_000),
    )  # fmt: skip
    assert r.returncode == 1, r.stderr.decode()
    err = one_error_line(r.stderr)
    assert f"cannot write video {out}" in err and "is the disk full" in err, err
    assert "Failed to write frame" not in err  # OpenCV's own warnings are ours to give
    assert not out.exists() and f"is in {tmp_path / '.out.partial.mp4'}" in err
    # the same run with room: exit 0 and the whole video
    r = subprocess.run(cmd, capture_output=True, timeout=LIMIT_S, check=False)
    assert r.returncode == 0, r.stderr.decode()
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    cap.release()
