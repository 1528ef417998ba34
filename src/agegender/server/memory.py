"""Bounded memory on the server: giving memory back after a burst.

Every upload is decoded to a full-size RGB array (3 bytes a pixel, more while Pillow
decodes) that lives until its analysis is done. With one model thread, concurrent
uploads wait decoded in memory: 16 clients posting a 40-megapixel photo held 16 of them.
The one :class:`~agegender.io.budget.PixelBudget` (its asyncio face,
``acquire_async``) caps the pixels that are decoding, decoded or being analyzed at once;
an upload waits (first come, first served) until its pixels fit, and one that is larger
than the whole budget runs alone, so nothing waits forever.

After a burst, glibc keeps the freed buffers of mid-sized allocations (Pillow's image
blocks, decoder buffers) in its arenas, so the resident size stays near the peak.
:func:`release_memory` asks glibc to return them (``malloc_trim(0)``); the budget calls it
when the last large image in flight is done. Elsewhere (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ..io.budget import IDLE_AFTER_PIXELS

log = logging.getLogger(__name__)

#: A burst whose images held at least this many pixels is followed by a trim (the budget's
#: ``on_idle``).
TRIM_AFTER_PIXELS = IDLE_AFTER_PIXELS


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
