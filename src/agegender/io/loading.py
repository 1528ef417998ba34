"""Decoding the inputs of :meth:`agegender.Analyzer.analyze_many` within the pixel budget:
each source becomes a :class:`~agegender.faces.Result` holding its decoded image, or its
error; nothing an input does stops the others."""

from __future__ import annotations

import queue
import threading

from ..errors import AgeGenderError, InputError
from ..faces import Faces, Result
from .budget import PixelBudget
from .images import Source, open_image


def load_source(
src: Source, budget: PixelBudget, stop: threading.Event, max_pixels: int | None
) -> tuple[Result, int] | None:
    """Decode one source within the budget: (its Result, pixels held); None if stopped."""
    if src.error is not None:
        return Result(src.name, Faces.empty(), error=src.error), 0
    try:
        data = src.path if src.path is not None else src.read()
        if data is None:
            raise InputError(f"{src.name}: nothing to read")
        opened = open_image(data, max_pixels=max_pixels, name=src.name)
    except AgeGenderError as e:
        return Result(src.name, Faces.empty(), error=e), 0
    except OSError as e:  # reading stdin
        return Result(src.name, Faces.empty(), error=InputError(f"{src.name}: {e}")), 0
    n = opened.pixels
    if not budget.acquire(n, cancel=stop):
        return None
    try:
        rgb = opened.decode()
    except AgeGenderError as e:
        budget.release(n)
        return Result(src.name, Faces.empty(), error=e), 0
    except BaseException:
        budget.release(n)
        raise
    h, w = rgb.shape[:2]
    return Result(src.name, Faces.empty(), width=w, height=h, image=rgb), n


def drain(ready: queue.Queue[tuple[Result, int] | None], budget: PixelBudget) -> None:
    """Give back the pixels of what was decoded and never analysed."""
    while True:
        try:
            left = ready.get_nowait()
        except queue.Empty:
            return
        if left is not None:
            budget.release(left[1])
