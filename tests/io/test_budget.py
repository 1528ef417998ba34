"""The one PixelBudget: a thread face and an asyncio face over one count and one line."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from agegender.errors import InputError
from agegender.io.budget import PixelBudget


def test_threads_and_coroutines_share_one_line_in_arrival_order() -> None:
    budget = PixelBudget(100)
    order: list[str] = []

    async def main() -> None:
        assert budget.acquire(80)  # a thread holds 80
        waiter = asyncio.create_task(budget.acquire_async(50))  # does not fit: waits
        await asyncio.sleep(0.05)
        assert budget.waiting == 1 and budget.used == 80

        def thread_wants_10() -> None:  # arrives after the coroutine: must not overtake it
            budget.acquire(10)
            order.append("thread")

        t = threading.Thread(target=thread_wants_10)
        t.start()
        await asyncio.sleep(0.1)
        assert order == [] and budget.waiting == 2  # 80 + 10 would fit, but it is second
        budget.release(80)
        await waiter
        order.append("coroutine")
        await asyncio.to_thread(t.join, 5)
        assert budget.used == 60 and budget.peak == 80
        budget.release(50)
        budget.release(10)

    asyncio.run(main())
    assert set(order) == {"thread", "coroutine"} and budget.used == 0 and budget.waiting == 0


def test_a_cancelled_coroutine_gives_back_its_place_and_pixels_and_idle_is_called_once() -> None:
    idle: list[int] = []
    budget = PixelBudget(10_000_000, on_idle=lambda: idle.append(budget.used), idle_after=4_000_000)

    async def main() -> None:
        await budget.acquire_async(8_000_000)
        waiter = asyncio.create_task(budget.acquire_async(8_000_000))
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert budget.waiting == 0 and budget.used == 8_000_000
        budget.release(8_000_000)
        await budget.acquire_async(1_000)  # a small image afterwards: no second idle call
        budget.release(1_000)

    asyncio.run(main())
    assert idle == [0]


def test_an_image_larger_than_the_budget_goes_alone_and_a_timeout_reserves_nothing() -> None:
    budget = PixelBudget(100)
    assert budget.acquire(500) and budget.used == 500
    t0 = time.monotonic()
    assert budget.acquire(1, timeout=0.1) is False and time.monotonic() - t0 >= 0.09
    budget.release(500)
    assert budget.acquire(1, timeout=0.1) and budget.used == 1
    assert PixelBudget(0)._fits(10**12)  # 0: no cap
    with pytest.raises(InputError, match="must be positive"):
        PixelBudget(-1)
