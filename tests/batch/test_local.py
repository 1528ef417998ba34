"""`agegender batch` with the local engine, run as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.batch.helpers import (
    assert_each_once,
    assert_same_as_analyze,
    by_source,
    make_inputs,
    read_rows,
    run_cli,
)


def test_local_engine_gives_the_rows_of_analyze(faces300: Path, reference300: dict, tmp_path: Path):
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    r = run_cli("batch", str(faces300), "--out", str(out), "--workers", "2", "--part-rows", "100")
    assert r.returncode == 1, r.stderr.decode()  # 3 inputs failed
    err = r.stderr.decode()
    assert "Traceback" not in err and "303 inputs analyzed (3 failed)" in err
    rows = read_rows(out)
    assert_same_as_analyze(rows, reference300)
    errors = [x for x in rows if x["error_type"]]
    assert sorted(Path(x["source"]).name for x in errors) == [
        "zz-empty.png", "zz-not-an-image.jpg", "zz-truncated.jpg"]
    assert len(list(out.glob("part-*.parquet"))) >= 3  # rolled every 100 rows
    meta = pq.read_schema(next(out.glob("part-*.parquet"))).metadata
    models = json.loads(meta[b"agegender.models"])
    assert {m["task"] for m in models} >= {"detect", "age", "gender"}
    assert all(m["license"] and m["sha256"] for m in models)
    assert meta[b"agegender.version"].decode()


def test_kill_the_run_then_resume_gives_every_input_once(faces300: Path, reference300: dict, tmp_path: Path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "agegender", "batch", str(faces300), "--out", str(out),
           "--workers", "2", "--part-rows", "10", "--batch-size", "4"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 300
    while len(list(out.glob("part-*.parquet"))) < 5 and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)  # the main process and its workers, mid-run
    p.wait(timeout=30)
    first = by_source(read_rows(out))
    assert 0 < len(first) < len(reference300), "the run was not killed halfway"
    r = run_cli("batch", str(faces300), "--out", str(out), "--workers", "2", "--resume")
    assert r.returncode == 1, r.stderr.decode()
    assert f"{len(first)} already there (--resume)" in r.stderr.decode()
    rows = read_rows(out)
    assert_same_as_analyze(rows, reference300)  # each input exactly once, none lost
    assert not list(out.glob(".*.tmp"))
    again = run_cli("batch", str(faces300), "--out", str(out), "--resume")
    assert again.returncode == 0 and "0 inputs analyzed" in again.stderr.decode()
    assert len(read_rows(out)) == len(rows)


def test_dead_workers_are_replaced_and_a_killer_input_becomes_an_error_row(utkface: Path, tmp_path: Path):
    import functools

    from agegender.batch import batch
    from tests.batch.helpers import crashing_analyzer

    folder = tmp_path / "in"
    paths = make_inputs(utkface, folder, 12, corrupt=False)
    (folder / "poison.jpg").write_bytes(paths[0].read_bytes())
    (folder / "crash-once.jpg").write_bytes(paths[1].read_bytes())
    factory = functools.partial(crashing_analyzer, str(tmp_path))
    s = batch([folder], tmp_path / "out", workers=2, batch_size=4, factory=factory)
    rows = by_source(read_rows(tmp_path / "out"))
    assert len(rows) == 14
    assert_each_once(rows)
    (poison,) = rows[str(folder / "poison.jpg")]
    assert poison["error_type"] == "WorkerDiedError" and "2 times" in poison["error_message"]
    assert rows[str(folder / "crash-once.jpg")][0]["face"] == 0  # retried, then analyzed
    assert (tmp_path / "crash-once.jpg.crashed").exists()
    assert s.errors == 1 and s.done == 14
    assert s.faces == sum(r["face"] is not None for v in rows.values() for r in v) >= 13


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_jsonl_and_csv_formats_resume_too(utkface: Path, tmp_path: Path, fmt: str):
    import csv

    from agegender.batch import batch
    from agegender.batch.rows import COLUMNS
    from agegender.batch.sinks import CSV_COLUMNS

    folder = tmp_path / "in"
    make_inputs(utkface, folder, 4)
    s = batch([folder], tmp_path / "out", workers=1, format=fmt)
    (part,) = (tmp_path / "out").glob(f"part-*.{fmt}")
    if fmt == "jsonl":
        rows = [json.loads(x) for x in part.read_text().splitlines()]
        assert all(list(r) == COLUMNS for r in rows)
    else:
        with open(part, newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
        assert reader.fieldnames == CSV_COLUMNS
    assert len(rows) == 7 and s.errors == 3
    assert sum(bool(r["error_type"]) for r in rows) == 3
    again = batch([folder], tmp_path / "out", workers=1, format=fmt, resume=True)
    assert again.done == 0 and again.skipped == 7


def test_input_list_on_a_file_uri(utkface: Path, tmp_path: Path):
    from agegender.batch import batch

    paths = make_inputs(utkface, tmp_path / "in", 6, corrupt=False)
    lst = tmp_path / "list.txt"
    lines = [str(p) for p in paths[:3]] + [p.as_uri() for p in paths[3:]]
    lst.write_text("# six faces\n" + "\n".join(lines) + "\n")
    s = batch([], tmp_path / "out", workers=1, list_file=lst.as_uri())
    rows = by_source(read_rows(tmp_path / "out"))
    assert set(rows) == set(lines)
    assert all(v[0]["face"] == 0 and v[0]["source_size"] > 0 for v in rows.values())
    assert s.done == 6 and s.errors == 0


def test_usage_errors_exit_2_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    from agegender.cli import main

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "part-x-000000.parquet").write_bytes(b"")
    assert main(["batch", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "--resume" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    assert main(["batch", str(tmp_path), "--out", str(tmp_path / "o2"), "--engine", "ray"]) == 2
    err = capsys.readouterr().err
    assert 'pip install "agegender[distributed]"' in err and "Traceback" not in err
    assert main(["batch", "--out", str(tmp_path / "o3")]) == 2
    assert main(["batch", str(tmp_path), "--out", "s3://bucket/faces"]) == 2
    assert "shared storage" in capsys.readouterr().err
    assert main(["batch", str(tmp_path), "--out", str(tmp_path / "o4"), "--batch-size", "0"]) == 2
    assert "batch-size must be 1 or more" in capsys.readouterr().err


def test_import_stays_light():
    code = ("import sys, agegender, agegender.batch; "
            "bad = [m for m in ('pyarrow', 'ray', 'numpy', 'onnxruntime') if m in sys.modules]; "
            "assert not bad, bad; assert callable(agegender.batch)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
