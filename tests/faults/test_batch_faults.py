"""Fault injection for ``agegender batch`` (issue 23): each test reproduces one fault a user
hit, without the real models (a fake analyzer in the workers), every process and wait
bounded in time.

- the output folder is one clean Parquet data set (pyarrow.dataset, pandas, DuckDB);
- part files honour the umask;
- SIGTERM keeps the finished rows as SIGINT does, and leaves no ``pymp-*`` folder;
- workers print no traceback when the main process dies;
- a full disk (ENOSPC) or a read-only folder (EROFS, EPERM) gives one line naming the path,
  a non-zero exit, and leaves what was written complete.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyarrow", reason="batch needs pyarrow: pip install -e '.[test]'")

REPO = Path(__file__).resolve().parents[2]
#: marker folder of the fake analyzer (one empty file per input it has finished)
MARKS_ENV = "AGEGENDER_FAULTS_MARKS"
#: seconds the fake analyzer takes per input
DELAY_ENV = "AGEGENDER_FAULTS_DELAY"


class _FakeResult:
    def __init__(self, name: str) -> None:
        self.name = name

    def to_dict(self, **options: Any) -> dict[str, Any]:
        face = {"box": [1.0, 2.0, 30.0, 40.0], "score": 0.9, "landmarks": None,
                "age": {"years": 30.0, "low": 25.0, "high": 35.0, "group": "25-32"},
                "gender": {"label": "female", "probability": 0.9}}
        return {"source": self.name, "width": 64, "height": 48, "faces": [face], "error": None}


class FakeAnalyzer:
    """Analyzer-like: one face per input, no model, no decoding; optional delay and marks."""

    gender_min_confidence = 0.5

    def __init__(self) -> None:
        self.delay = float(os.environ.get(DELAY_ENV, "0"))
        self.marks = os.environ.get(MARKS_ENV)

    def analyze_arrays(self, images: Any) -> list[_FakeResult]:
        return [_FakeResult("array") for _ in images]

    def load(self) -> None:
        """Nothing to load (the workers warm their analyzer up with it)."""

    def describe(self) -> dict[str, Any]:
        return {"models": [{"task": "age", "name": "fake", "license": None, "sha256": []}]}

    def analyze_many(self, sources: Any, **kw: Any) -> Any:
        for s in sources:
            if self.delay:
                time.sleep(self.delay)
            if self.marks:
                Path(self.marks, Path(s.name).name).touch()
            yield _FakeResult(s.name)


def fake_analyzer(model_kwargs: dict[str, Any]) -> FakeAnalyzer:
    """The batch factory of these tests (module level: it is pickled to the workers)."""
    return FakeAnalyzer()


def make_inputs(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"img-{i:04d}.jpg").write_bytes(b"\xff\xd8 not decoded by the fake")
    return folder


#: runs `agegender batch ARGS` with the fake analyzer; PATCH (from the environment) injects
#: a fault into this process's writes (as a sitecustomize would), then main() runs
SCRIPT = r'''
import errno, functools, os, sys
import agegender.batch.api as api
from tests.faults.test_batch_faults import fake_analyzer

api.batch = functools.partial(api.batch, factory=fake_analyzer)
patch, out = os.environ.get("FAULT"), os.environ.get("FAULT_OUT", "")
if patch == "enospc":  # the 2nd part file hits a full disk half-way through
    import pyarrow.parquet as pq
    real, calls = pq.write_table, []
    def write_table(table, where, **kw):
        calls.append(where)
        if len(calls) >= 2:
            with open(where, "wb") as f:
                f.write(b"PAR1" + b"\0" * 100)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(table, where, **kw)
    pq.write_table = write_table
elif patch == "erofs":  # every file created under OUT: a read-only file system
    real_open = os.open
    def ro_open(path, flags, *a, **kw):
        if str(path).startswith(out) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *a, **kw)
    os.open = ro_open

if __name__ == "__main__":
    from agegender.cli import main
    sys.exit(main(["batch", *sys.argv[1:]]))
'''


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "src"), env.get("PYTHONPATH", "")])
    env["TMPDIR"] = str(tmp)  # multiprocessing's pymp-* folders go here, to be checked
    env.update(extra)
    return env


def _script(tmp_path: Path) -> Path:
    p = tmp_path / "run_batch.py"
    p.write_text(SCRIPT)
    return p


def _rows(out: Path) -> list[dict[str, Any]]:
    import pyarrow.dataset as ds

    return ds.dataset(str(out), format="parquet").to_table().to_pylist()


def test_output_folder_reads_as_one_parquet_data_set_three_ways(tmp_path: Path) -> None:
    import pyarrow.dataset as ds

    from agegender.batch import batch

    pd = pytest.importorskip("pandas", reason="pip install -e '.[test]' (pandas)")
    duckdb = pytest.importorskip("duckdb", reason="pip install -e '.[test]' (duckdb)")
    src = make_inputs(tmp_path / "in", 30)
    out = tmp_path / "out"
    s = batch([str(src)], out, workers=1, factory=fake_analyzer, part_rows=10)
    assert s.done == 30 and s.errors == 0 and len(s.paths) == 3
    # the manifest is kept, where no reader looks
    (manifest,) = (out / "_run").glob("run-*.json")
    assert json.loads(manifest.read_text())["format"] == "parquet"
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("part-")) == ["_run"]

    n_arrow = ds.dataset(f"{out}/", format="parquet").to_table().num_rows
    n_pandas = len(pd.read_parquet(f"{out}/"))
    n_duck = duckdb.connect().execute(
        f"SELECT count(*), count(DISTINCT source) FROM read_parquet('{out}/*.parquet')"
    ).fetchall()
    assert n_arrow == n_pandas == 30 and n_duck == [(30, 30)]

    # resume still works, and the folder stays clean: only the new input is analyzed
    (src / "img-new.jpg").write_bytes(b"new")
    s2 = batch([str(src)], out, workers=1, factory=fake_analyzer, resume=True)
    assert (s2.skipped, s2.done) == (30, 1)
    assert len(list((out / "_run").glob("run-*.json"))) == 2
    assert len(pd.read_parquet(f"{out}/")) == 31


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_part_files_honour_the_umask(tmp_path: Path, umask: int) -> None:
    from agegender.batch import batch

    src = make_inputs(tmp_path / "in", 4)
    old = os.umask(umask)
    try:
        batch([str(src)], tmp_path / "out", workers=1, factory=fake_analyzer)
    finally:
        os.umask(old)
    files = list((tmp_path / "out").glob("part-*")) + list((tmp_path / "out" / "_run").glob("*"))
    assert len(files) == 2
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~umask, (f, oct(f.stat().st_mode))


def _start(tmp_path: Path, n: int, delay: float, *args: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    src = make_inputs(tmp_path / "in", n)
    marks = tmp_path / "marks"
    marks.mkdir()
    out = tmp_path / "out"
    p = subprocess.Popen(
        [sys.executable, str(_script(tmp_path)), str(src), "--out", str(out), "--workers", "1",
         "--batch-size", "4", *args],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=_env(tmp_path, **{MARKS_ENV: str(marks), DELAY_ENV: str(delay)}),
    )
    return p, out, marks


def _wait_marks(p: subprocess.Popen[bytes], marks: Path, n: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and p.poll() is None:
        count = len(list(marks.iterdir()))
        if count >= n:
            return count
        time.sleep(0.1)
    p.kill()
    out, err = p.communicate(timeout=30)
    pytest.fail(f"the batch did not reach {n} inputs in {timeout} s: {err.decode()[-2000:]}")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_keeps_finished_rows_like_sigint(tmp_path: Path, sig: int, code: int) -> None:
    p, out, marks = _start(tmp_path, 2000, 0.02)
    try:
        _wait_marks(p, marks, 40)
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate(timeout=30)
    stderr = err.decode()
    assert p.returncode == code, stderr
    n_marks = len(list(marks.iterdir()))
    rows = _rows(out)
    sources = [r["source"] for r in rows]
    assert len(sources) == len(set(sources))  # each input once
    assert 40 - 8 <= len(rows) <= n_marks  # finished rows kept (a chunk may be in flight)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert "rerun with --resume" in stderr
    assert not list(tmp_path.glob("pymp-*")), "multiprocessing left its temporary folder"
    assert not list(out.glob(".part-*"))


def test_workers_print_no_traceback_when_the_main_process_dies(tmp_path: Path) -> None:
    p, out, marks = _start(tmp_path, 2000, 0.02)
    try:
        _wait_marks(p, marks, 20)
        p.kill()  # SIGKILL: no clean-up; the workers find the pipe broken
        # stderr ends when every process holding it (the workers too) has exited
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    stderr = err.decode()
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


def _run_cli(tmp_path: Path, src: Path, out: Path, fault: str | None, *args: str) -> subprocess.CompletedProcess[bytes]:
    extra = {"FAULT_OUT": str(out)}
    if fault:
        extra["FAULT"] = fault
    return subprocess.run(
        [sys.executable, str(_script(tmp_path)), str(src), "--out", str(out), "--workers", "1",
         *args],
        cwd=tmp_path, capture_output=True, timeout=300, env=_env(tmp_path, **extra),
    )


def _one_error_line(stderr: str, path: str, todo: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("agegender: error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert path in errors[0] and todo in errors[0], errors[0]
    return errors[0]


def test_full_disk_stops_cleanly_and_keeps_complete_parts(tmp_path: Path) -> None:
    """ENOSPC simulated by a patched pyarrow.parquet.write_table (no tiny file system here)
    that writes half a file then raises, on the second part file."""
    src = make_inputs(tmp_path / "in", 30)
    out = tmp_path / "out"
    r = _run_cli(tmp_path, src, out, "enospc", "--part-rows", "10")
    stderr = r.stderr.decode()
    assert r.returncode == 1, stderr
    line = _one_error_line(stderr, str(out / "part-"), "free some space")
    assert "No space left on device" in line and "--resume" in line
    assert not list(out.glob(".part-*")), "a half-written temporary was left"
    parts = list(out.glob("part-*.parquet"))
    assert len(parts) == 1 and len(_rows(out)) == 10  # the part written before is complete
    # once there is room, --resume completes the data set, each input once
    r2 = _run_cli(tmp_path, src, out, None, "--resume")
    assert r2.returncode == 0, r2.stderr.decode()
    rows = _rows(out)
    assert len(rows) == 30 and len({x["source"] for x in rows}) == 30


def test_read_only_folder_gives_one_line_before_any_work(tmp_path: Path) -> None:
    """EROFS simulated by a patched os.open that refuses to create files under --out (as root,
    chmod does not make a folder read-only)."""
    src = make_inputs(tmp_path / "in", 5)
    out = tmp_path / "out"
    out.mkdir()
    r = _run_cli(tmp_path, src, out, "erofs")
    assert r.returncode == 1, r.stderr.decode()
    line = _one_error_line(r.stderr.decode(), str(out), "choose a writable --out")
    assert "Read-only file system" in line
    assert list(out.iterdir()) == []


def test_folder_that_cannot_be_created_gives_one_line(tmp_path: Path) -> None:
    """A real, mount-free unwritable place: sysfs refuses mkdir even to root (EPERM)."""
    target = Path("/sys/agegender-faults-test/out")
    if not Path("/sys/kernel").is_dir():
        pytest.skip("no sysfs on this system (a Linux /sys is the read-only place used here)")
    src = make_inputs(tmp_path / "in", 2)
    r = _run_cli(tmp_path, src, target, None)
    assert r.returncode == 1, r.stderr.decode()
    _one_error_line(r.stderr.decode(), str(target.parent), "choose a writable --out")
