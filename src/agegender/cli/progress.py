"""The command line's progress line: on stderr, only when stderr is a terminal.

``analyzing 37/120 images  31%  4.2 img/s  ETA 0:20  elapsed 0:09``, redrawn at least
every :data:`REFRESH_S` seconds by a small thread (so rate, ETA and elapsed time move
even while one large image is analysed), and cleared before any log line, which is then
printed on its own line above it (:meth:`Progress.logging_above`). Our own code, not
tqdm or rich: the command needs only this, and importing it costs nothing.
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

#: Longest wait between two redraws, seconds.
REFRESH_S = 0.25
_CLEAR = "\r\x1b[K"


def clock(seconds: float | None) -> str:
    """``m:ss`` or ``h:mm:ss``; ``--:--`` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0 or seconds > 360_000:
        return "--:--"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


#: How a rate reads, per item unit: (per second, seconds per item).
UNITS = {"img": ("img/s", "s/img"), "frame": ("frames/s", "s/frame")}


def format_progress(
    n: int, total: int | None, elapsed: float, what: str = "images", unit: str = "img"
) -> str:
    """The text of the progress line after ``n`` of ``total`` items in ``elapsed`` seconds
    (``what``: the items' plural name; ``unit``: a key of :data:`UNITS`)."""
    rate = n / elapsed if elapsed > 0 else 0.0
    per_s, s_per = UNITS.get(unit, (f"{unit}/s", f"s/{unit}"))
    speed = f"{rate:.1f} {per_s}" if rate >= 1 or n == 0 else f"{elapsed / n:.1f} {s_per}"
    if total:
        pct = 100.0 * min(n, total) / total
        eta = (total - n) / rate if rate > 0 else None
        return (
            f"analyzing {n}/{total} {what}  {pct:3.0f}%  {speed}  ETA {clock(eta)}  "
            f"elapsed {clock(elapsed)}"
        )
    return f"analyzing {n} {what}  {speed}  elapsed {clock(elapsed)}"


class Progress:
    """A progress line for ``total`` items (``None``: unknown), shown only on a terminal.

    ``stream`` defaults to ``sys.stderr``; anything with ``write``, ``flush`` and
    ``isatty`` works (tests pass a fake terminal). ``clock_fn`` gives the time. ``what``
    and ``unit`` name the items (``"frames"``, ``"frame"`` for a video).
    """

    def __init__(
        self,
        total: int | None,
        enabled: bool = True,
        *,
        stream: IO[str] | None = None,
        refresh: float = REFRESH_S,
        clock_fn: Callable[[], float] = time.monotonic,
        what: str = "images",
        unit: str = "img",
    ) -> None:
        self.what, self.unit = what, unit
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(enabled and isatty is not None and isatty())
        self.total, self.n, self.refresh, self._clock = total, 0, refresh, clock_fn
        self.t0 = clock_fn()
        self.draws = 0
        self._lock = threading.RLock()
        self._shown = False
        self._closed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.enabled:
            self._thread = threading.Thread(target=self._tick, name="agegender-progress", daemon=True)
            self._thread.start()

    def _tick(self) -> None:
        while not self._stop.wait(self.refresh):
            self.draw()

    def line(self) -> str:
        """The current text, cut to the terminal's width (a wrapped line cannot be redrawn)."""
        width = shutil.get_terminal_size((100, 24)).columns
        text = format_progress(self.n, self.total, self._clock() - self.t0, self.what, self.unit)
        return text[: max(width - 1, 10)]

    def draw(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self._closed:
                return
            self.stream.write(_CLEAR + self.line())
            self.stream.flush()
            self._shown = True
            self.draws += 1

    def step(self, count: int = 1) -> None:
        """``count`` more items done."""
        with self._lock:
            self.n += count
        self.draw()

    def write_above(self, text: str) -> None:
        """Print ``text`` on its own line(s), above the progress line."""
        with self._lock:
            if self.enabled and self._shown:
                self.stream.write(_CLEAR)
            self.stream.write(text.rstrip("\n") + "\n")
            self.stream.flush()
            if self.enabled and self._shown:
                self.draw()

    def close(self) -> None:
        """Stop redrawing; leave the last line on screen, ended."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            if self.enabled and self._shown:
                self.stream.write(_CLEAR + self.line() + "\n")
                self.stream.flush()
            self._shown = False
            self._closed = True

    @contextmanager
    def logging_above(self) -> Iterator[None]:
        """While inside, log records that go to this stream are printed above the line."""
        if not self.enabled:
            yield
            return
        root = logging.getLogger()
        swapped: list[tuple[int, logging.Handler]] = []
        for i, h in enumerate(root.handlers):
            if isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) is self.stream:
                swapped.append((i, h))
                root.handlers[i] = _Above(h, self)
        try:
            yield
        finally:
            for i, h in swapped:
                root.handlers[i] = h


class _Above(logging.Handler):
    """Formats like the handler it stands in for; writes through :meth:`Progress.write_above`."""

    def __init__(self, inner: logging.Handler, progress: Progress) -> None:
        super().__init__(inner.level)
        self.inner, self.progress = inner, progress
        self.setFormatter(inner.formatter)
        for f in inner.filters:
            self.addFilter(f)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.progress.write_above(self.format(record))
        except Exception:  # noqa: BLE001 - as logging.Handler does
            self.handleError(record)
