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

It has two faces over one count and one queue: threads :meth:`~PixelBudget.acquire` (the
CLI's decode thread, batch workers), coroutines ``await`` :meth:`~PixelBudget.acquire_async`
(the server's event loop); both :meth:`~PixelBudget.release`. ``on_idle`` runs when the
budget empties after a burst (the server gives memory back to the system then).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

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


#: A burst whose images held at least this many pixels calls ``on_idle`` when it is over.
IDLE_AFTER_PIXELS = 4_000_000


@dataclass(eq=False)
class _Waiter:
    """One acquire in line: a thread's (``future`` None) or a coroutine's."""

    pixels: int
    future: asyncio.Future[None] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    granted: bool = field(default=False)


class PixelBudget:
    """Decoded pixels in flight, capped at ``limit`` (0: no cap); thread-safe, with a
    thread face (:meth:`acquire`, :meth:`hold`) and an asyncio face (:meth:`acquire_async`).

    A waiter goes on when ``n`` more pixels fit, or nothing is held (an image larger than
    the whole budget goes alone); waiters of both kinds are served in arrival order.
    :meth:`release` gives pixels back. ``in_use`` (also ``used``), ``peak`` and
    :attr:`waiting` are for reports and tests. ``on_idle`` is called (in the releasing
    thread, outside the lock) when the budget becomes empty after at least
    ``idle_after`` pixels were held since it was last empty.
    """

    def __init__(self, limit: int, *, on_idle: Callable[[], None] | None = None,
                 idle_after: int = IDLE_AFTER_PIXELS) -> None:
        if int(limit) < 0:
            raise InputError(f"the in-flight pixel budget must be positive (or 0: no cap), got {limit}")
        self.limit = int(limit)
        self.in_use = 0
        self.peak = 0
        self._cond = threading.Condition()
        self._queue: deque[_Waiter] = deque()
        self._on_idle = on_idle
        self._idle_after = idle_after
        self._since_idle = 0

    @classmethod
    def default(cls) -> PixelBudget:
        return cls(max_inflight_pixels_default())

    @property
    def used(self) -> int:
        """Pixels in flight (``in_use``)."""
        return self.in_use

    @property
    def capacity(self) -> int:
        """The cap (``limit``; 0: none)."""
        return self.limit

    @property
    def waiting(self) -> int:
        """Acquires waiting for room."""
        with self._cond:
            return sum(1 for w in self._queue if not w.granted and not (w.future and w.future.done()))

    def _fits(self, n: int) -> bool:
        return self.limit <= 0 or self.in_use == 0 or self.in_use + n <= self.limit

    def _grant(self, n: int) -> None:
        self.in_use += n
        self._since_idle += n
        self.peak = max(self.peak, self.in_use)

    def _wake(self) -> None:
        """Under the lock: grant the coroutines at the head of the line that fit, and let
        the threads look (a thread at the head grants itself)."""
        while self._queue:
            w = self._queue[0]
            if w.future is None:
                break
            if w.future.done():  # cancelled while waiting
                self._queue.popleft()
                continue
            if not self._fits(w.pixels):
                break
            self._queue.popleft()
            self._grant(w.pixels)
            w.granted = True
            assert w.loop is not None
            w.loop.call_soon_threadsafe(_resolve, w.future)
        self._cond.notify_all()

    def acquire(
        self, n: int, timeout: float | None = None, cancel: threading.Event | None = None
    ) -> bool:
        """Reserve ``n`` pixels, waiting (up to ``timeout`` seconds) for them to fit.

        Returns False, with nothing reserved, when the timeout passed first or ``cancel``
        was set while waiting (it is checked every 0.1 s; the place in line is kept).
        """
        n = max(int(n), 0)
        ticket = _Waiter(n)
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
                        self._grant(n)
                        return True
            finally:
                self._queue.remove(ticket)
                self._wake()

    async def acquire_async(self, n: int) -> None:
        """Reserve ``n`` pixels from a coroutine: waits (without blocking the event loop)
        until they fit. Cancelling the wait gives back what it was granted."""
        n = max(int(n), 0)
        with self._cond:
            if not self._queue and self._fits(n):
                self._grant(n)
                return
            loop = asyncio.get_running_loop()
            w = _Waiter(n, loop.create_future(), loop)
            self._queue.append(w)
        assert w.future is not None
        try:
            await w.future
        except asyncio.CancelledError:
            with self._cond:
                if not w.granted and w in self._queue:
                    self._queue.remove(w)
                    self._wake()
            if w.granted:
                self.release(n)
            raise

    def release(self, n: int) -> None:
        """Give back ``n`` pixels reserved by :meth:`acquire` or :meth:`acquire_async`."""
        idle = False
        with self._cond:
            self.in_use = max(self.in_use - max(int(n), 0), 0)
            if self.in_use == 0 and self._on_idle is not None and self._since_idle >= self._idle_after:
                self._since_idle = 0
                idle = True
            self._wake()
        if idle and self._on_idle is not None:
            self._on_idle()

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


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
