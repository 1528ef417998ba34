"""Bounded memory on the server: a budget of decoded pixels in flight, and giving memory back.

Every upload is decoded to a full-size RGB array (3 bytes a pixel, more while Pillow
decodes) that lives until its analysis is done. With one model thread, concurrent
uploads wait decoded in memory: 16 clients posting a 40-megapixel photo held 16 of them.
:class:`PixelBudget` caps the pixels that are decoding, decoded or being analyzed at
once; an upload waits (first come, first served) until its pixels fit, and one that is
larger than the whole budget runs alone, so nothing waits forever.

After a burst, glibc keeps the freed buffers of mid-sized allocations (Pillow's image
blocks, decoder buffers) in its arenas, so the resident size stays near the peak.
:func:`release_memory` asks glibc to return them (``malloc_trim(0)``); the budget calls it
when the last large image in flight is done. Elsewhere (musl, macOS) it does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from collections import deque
from collections.abc import Callable
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)

#: A burst whose images held at least this many pixels is followed by a trim.
TRIM_AFTER_PIXELS = 4_000_000


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], Any] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def release_memory() -> bool:
    """Return the allocator's free memory to the system (glibc); whether it could."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


class PixelBudget:
    """At most ``capacity`` decoded pixels in flight; used from the event loop only.

    ``capacity`` 0 turns the cap off. Waiters are served in arrival order, so a large
    image is not overtaken forever by small ones. ``on_idle`` runs (on the caller's
    behalf, e.g. to schedule :func:`release_memory`) when the budget becomes empty after
    at least :data:`TRIM_AFTER_PIXELS` pixels were held since it was last empty.
    """

    def __init__(self, capacity: int, on_idle: Callable[[], None] | None = None) -> None:
        self.capacity = int(capacity)
        self.used = 0
        self.peak = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._since_idle = 0
        self._on_idle = on_idle

    def _fits(self, pixels: int) -> bool:
        return self.capacity <= 0 or self.used == 0 or self.used + pixels <= self.capacity

    def _grant(self, pixels: int) -> None:
        self.used += pixels
        self._since_idle += pixels
        self.peak = max(self.peak, self.used)

    async def acquire(self, pixels: int) -> None:
        """Wait until ``pixels`` fit in the budget, then count them as in flight."""
        if not self._waiters and self._fits(pixels):
            self._grant(pixels)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((pixels, fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # granted just before the cancel
                self.release(pixels)
            else:
                self._wake()  # it may have been the head of the queue
            raise

    def release(self, pixels: int) -> None:
        """Give back pixels counted by :meth:`acquire`."""
        self.used -= pixels
        if self.used == 0 and self._since_idle >= TRIM_AFTER_PIXELS and self._on_idle:
            self._since_idle = 0
            self._on_idle()
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            pixels, fut = self._waiters[0]
            if fut.done():  # cancelled while waiting
                self._waiters.popleft()
                continue
            if not self._fits(pixels):
                return
            self._waiters.popleft()
            self._grant(pixels)
            fut.set_result(None)

    @property
    def waiting(self) -> int:
        """Uploads waiting for room in the budget."""
        return sum(1 for _, f in self._waiters if not f.done())
