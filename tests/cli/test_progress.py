"""The progress line: its text, its redraws, and log lines printed above it (with a fake
terminal, so no real one is needed)."""

from __future__ import annotations

import io
import logging
import time

import pytest

from agegender.cli.progress import REFRESH_S, Progress, clock, format_progress

CLEAR = "\r\x1b[K"


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_line_has_count_percentage_rate_and_eta():
    line = format_progress(30, 120, elapsed=10.0)
    assert line.startswith("analyzing 30/120 images")
    assert " 25%" in line and "3.0 img/s" in line
    assert "ETA 0:30" in line and "elapsed 0:10" in line  # 90 left at 3 per second
    assert "ETA --:--" in format_progress(0, 120, elapsed=0.0)
    assert "%" not in format_progress(5, None, elapsed=2.0)  # total unknown: no percentage
    assert "4.0 s/img" in format_progress(2, 10, elapsed=8.0)  # slow: seconds per image


@pytest.mark.parametrize(("s", "text"), [(5, "0:05"), (65, "1:05"), (3725, "1:02:05"), (None, "--:--")])
def test_clock(s, text):
    assert clock(s) == text


def test_redrawn_at_least_twice_a_second_without_steps():
    assert REFRESH_S <= 0.5
    out, fake = FakeTTY(), FakeClock()
    p = Progress(10, stream=out, clock_fn=fake)
    deadline = time.monotonic() + 5
    while p.draws < 3 and time.monotonic() < deadline:
        fake.t += 1.0  # the ETA and elapsed time move between draws
        time.sleep(0.05)
    p.close()
    assert p.draws >= 3
    assert out.getvalue().count(CLEAR) >= 3


def test_each_step_is_shown_not_batches():
    out, fake = FakeTTY(), FakeClock()
    p = Progress(4, stream=out, clock_fn=fake, refresh=60)
    for _ in range(4):
        fake.t += 0.5
        p.step()
    p.close()
    shown = [s for s in out.getvalue().split(CLEAR) if s]
    counts = [s.split()[1] for s in shown]
    assert counts[:4] == ["1/4", "2/4", "3/4", "4/4"]
    assert out.getvalue().endswith("\n")


def test_log_lines_go_above_the_progress_line():
    out, fake = FakeTTY(), FakeClock()
    p = Progress(3, stream=out, clock_fn=fake, refresh=60)
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("agegender: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with p.logging_above():
            p.step()
            logging.getLogger("agegender").error("bad.jpg: not a recognised image format")
            p.step()
        assert handler in root.handlers  # put back
    finally:
        root.removeHandler(handler)
        p.close()
    lines = out.getvalue().split("\n")
    # each finished line, after its last clear, is either the error alone or a progress line
    visible = [ln.rsplit(CLEAR, 1)[-1] for ln in lines if ln]
    assert "agegender: bad.jpg: not a recognised image format" in visible
    assert all(v.startswith(("agegender: bad.jpg", "analyzing ")) for v in visible)
    err_line = next(ln for ln in lines if "bad.jpg" in ln)
    assert err_line.startswith(CLEAR) or CLEAR in err_line  # the bar was cleared first


def test_not_a_terminal_writes_nothing():
    out = io.StringIO()
    p = Progress(3, stream=out)
    p.step()
    p.close()
    assert out.getvalue() == "" and not p.enabled
