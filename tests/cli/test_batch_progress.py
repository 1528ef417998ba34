"""The progress line and the summary line of `agegender batch` (no models needed)."""

from __future__ import annotations

import io

import pytest

from agegender.batch.api import BatchSummary
from agegender.cli.batch import BatchProgress, summary_line


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_shows_done_total_rates_errors_and_eta(monkeypatch: pytest.MonkeyPatch):
    err = _Tty()
    monkeypatch.setattr("sys.stderr", err)
    s = BatchSummary("out", "local", 2, total=110, skipped=10)
    p = BatchProgress(enabled=True, every=0.0)
    for i in range(50):
        s.count(1, 1 if i % 10 else 0, "x.jpg: broken" if i == 3 else None)
    s.seconds = 10.0  # 50 inputs in 10 s: 5 img/s, 45 faces -> 4.5 faces/s, 50 left -> 10 s
    p(s)
    p.close()
    line = err.getvalue().strip("\r\n").split("\r")[-1]
    assert "batch 50/100 inputs" in line and "5.0 img/s" in line and "4.5 faces/s" in line
    assert "1 errors" in line and "ETA 0:10" in line
    assert err.getvalue().endswith("\n")


def test_progress_is_silent_off_a_terminal(monkeypatch: pytest.MonkeyPatch):
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    s = BatchSummary("out", "local", 1, total=3)
    p = BatchProgress(enabled=True, every=0.0)
    s.count(1, 1, None)
    p(s)
    p.close()
    assert err.getvalue() == ""


def test_summary_line_counts():
    s = BatchSummary("out", "ray", 4, total=12, skipped=2)
    for i in range(10):
        s.count(2, 2, None if i else "bad.jpg: empty")
    s.seconds, s.paths, s.worker_cpu_seconds = 5.0, ["a", "b"], 7.5
    line = summary_line(s)
    assert line.startswith("batch: 10 inputs analyzed (1 failed), 2 already there (--resume), 20 faces")
    assert "2.0 img/s" in line and "ray engine, 4 workers, 7.5 CPU s in workers" in line
    assert "2 part files written under out" in line
