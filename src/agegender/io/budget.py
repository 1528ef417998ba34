"""A cap on decoded pixels held at once: the memory budget of a run.

Each decoded image holds ``width * height * 3`` bytes until it is done with. A
:class:`PixelBudget` counts the pixels of the images in flight (decoded, being
analysed, not yet released) and makes a decoder wait while the next image would go
above the cap. An image larger than the whole budget is let through alone, once
nothing else is held, so the budget never refuses an image (the pixel limit does
that): large images are simply decoded one at a time.

Use it around anything that decodes (the CLI's :meth:`Analyzer.analyze_many` does;
a server can share one budget across its request threads)::

    from agegender.io.budget import PixelBudget
    from agegender.io.images import open_image

    budget = PixelBudget(128_000_000)          # or PixelBudget.default()
    opened = open_image(data, max_pixels=...)  # header only: the size is known
    with budget.hold(opened.pixels):           # waits while the budget is spent
        rgb = opened.decode()
        faces = analyzer.analyze(rgb, channels="RGB")
    # the pixels are released here; the next waiter goes on

Waiters are served first come, first served, so a large image is not starved by a
stream of small ones.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import InputError

#: Default cap on decoded pixels in flight: 128 million (about 384 MB of RGB). One image
#: at the 100-megapixel limit fits, two do not: a run over such images decodes them one
#: at a time, and stays under about 2 GB in all (docs/architecture.md, "Memory").
DEFAULT_MAX_INFLIGHT_PIXELS = 128_000_000


def max_inflight_pixels_default() -> int:
    """``AGEGENDER_MAX_INFLIGHT_PIXELS`` when set (a positive whole number), else the default."""
    env = os.environ.get("AGEGENDER_MAX_INFLIGHT_PIXELS")
    if not env:
        return DEFAULT_MAX_INFLIGHT_PIXELS
    try:
        value = int(env)
    except ValueError:
        value = 0
    if value <= 0:
        raise InputError(
            f"AGEGENDER_MAX_INFLIGHT_PIXELS must be a positive whole number of pixels, got {env!r}"
        )
    return value


class PixelBudget:
    """Decoded pixels in flight, capped at ``limit``; thread-safe.

    :meth:`acquire` waits until ``n`` more pixels fit (or nothing is held, for an image
    larger than the whole budget); :meth:`release` gives them back; :meth:`hold` does
    both around a block. ``in_use`` and ``peak`` are for reports and tests.
    """

    def __init__(self, limit: int) -> None:
        if int(limit) <= 0:
            raise InputError(f"the in-flight pixel budget must be positive, got {limit}")
        self.limit = int(limit)
        self.in_use = 0
        self.peak = 0
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()

    @classmethod
    def default(cls) -> PixelBudget:
        return cls(max_inflight_pixels_default())

    def _fits(self, n: int) -> bool:
        return self.in_use == 0 or self.in_use + n <= self.limit

    def acquire(
        self, n: int, timeout: float | None = None, cancel: threading.Event | None = None
    ) -> bool:
        """Reserve ``n`` pixels, waiting (up to ``timeout`` seconds) for them to fit.

        Returns False, with nothing reserved, when the timeout passed first or ``cancel``
        was set while waiting (it is checked every 0.1 s; the place in line is kept).
        """
        n = max(int(n), 0)
        ticket = object()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._queue.append(ticket)
            try:
                while True:
                    if cancel is not None and cancel.is_set():
                        return False
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return False
                    step = left if cancel is None else min(0.1, left if left is not None else 0.1)
                    if self._cond.wait_for(
                        lambda: self._queue[0] is ticket and self._fits(n), step
                    ):
                        self.in_use += n
                        self.peak = max(self.peak, self.in_use)
                        return True
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()

    def release(self, n: int) -> None:
        """Give back ``n`` pixels reserved by :meth:`acquire`."""
        with self._cond:
            self.in_use = max(self.in_use - max(int(n), 0), 0)
            self._cond.notify_all()

    @contextmanager
    def hold(self, n: int) -> Iterator[None]:
        """Reserve ``n`` pixels for the duration of the block (waits as :meth:`acquire`)."""
        self.acquire(n)
        try:
            yield
        finally:
            self.release(n)

    def __repr__(self) -> str:
        return f"PixelBudget(limit={self.limit:,}, in_use={self.in_use:,}, peak={self.peak:,})"
