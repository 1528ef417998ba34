"""analyze_many: decoded pixels in flight stay within the budget, a large image goes
alone, and a slow input never holds back the results before it."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agegender import Analyzer
from agegender.detect import Detector
from agegender.errors import InputError
from agegender.io.budget import PixelBudget
from agegender.io.images import Source


class Recorder(Detector):
    """Finds no face; records the budget in use each time it is called."""

    name = "recorder"

    def __init__(self, budget: PixelBudget, delay: float = 0.0) -> None:
        super().__init__()
        self.budget, self.delay, self.seen = budget, delay, []

    def _detect_raw(self, image):  # pragma: no cover - detect() is overridden
        raise NotImplementedError

    def detect(self, image):
        self.seen.append((image.shape[0] * image.shape[1], self.budget.in_use))
        time.sleep(self.delay)
        from agegender.faces import Faces

        return Faces.empty()


def _png(path: Path, side: int) -> str:
    Image.fromarray(np.full((side, side, 3), side % 255, np.uint8)).save(path)
    return str(path)


def test_inflight_pixels_stay_within_the_budget(tmp_path: Path):
    budget = PixelBudget(250)  # two 10x10 images fit, a third does not
    det = Recorder(budget, delay=0.01)
    an = Analyzer(detector=det, age_model=None, gender_model=None, max_inflight_pixels=250)
    paths = [_png(tmp_path / f"s{i}.png", 10) for i in range(12)]
    paths.insert(6, _png(tmp_path / "big.png", 30))  # 900 pixels: above the whole budget
    results = list(an.analyze_many(paths, budget=budget, batch_size=4))
    assert [r.source for r in results] == paths
    assert all(r.error is None and r.width in (10, 30) for r in results)
    assert budget.peak <= 900 and budget.in_use == 0
    small_peaks = [used for px, used in det.seen if px == 100]
    assert max(small_peaks) <= 250  # never more than the budget of small images at once
    assert [used for px, used in det.seen if px == 900] == [900]  # the big one went alone


def test_kept_images_are_held_until_the_caller_moves_on(tmp_path: Path):
    budget = PixelBudget(1000)
    an = Analyzer(detector=Recorder(budget), age_model=None, gender_model=None)
    paths = [_png(tmp_path / f"k{i}.png", 10) for i in range(3)]
    for r in an.analyze_many(paths, budget=budget, keep_images=True):
        assert r.image is not None and budget.in_use >= 100
    assert budget.in_use == 0


def test_stopping_early_gives_the_budget_back(tmp_path: Path):
    budget = PixelBudget(10_000)
    an = Analyzer(detector=Recorder(budget), age_model=None, gender_model=None)
    gen = an.analyze_many([_png(tmp_path / f"e{i}.png", 10) for i in range(40)], budget=budget)
    next(gen)
    gen.close()
    assert budget.in_use == 0


class SlowStream(io.RawIOBase):
    """stdin that delivers its bytes only once released (or after 20 s)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.release, self.returned = data, threading.Event(), False

    def read(self, n: int = -1) -> bytes:
        self.release.wait(20)
        self.returned = True
        return self.data


def test_a_slow_input_never_holds_back_earlier_results(tmp_path: Path):
    budget = PixelBudget(10_000)
    an = Analyzer(detector=Recorder(budget), age_model=None, gender_model=None)
    buf = io.BytesIO()
    Image.new("RGB", (9, 9)).save(buf, format="PNG")
    slow = SlowStream(buf.getvalue())
    inputs = [_png(tmp_path / "a.png", 10), _png(tmp_path / "b.png", 10), Source("<stdin>", stream=slow)]
    gen = an.analyze_many(inputs, budget=budget)
    first, second = next(gen), next(gen)
    assert (Path(first.source).name, Path(second.source).name) == ("a.png", "b.png")
    assert not slow.returned  # both came out while the slow input was still being read
    slow.release.set()
    (third,) = list(gen)
    assert third.source == "<stdin>" and third.width == 9


@pytest.mark.parametrize("kw", [{"max_pixels": -5}, {"max_inflight_pixels": 0}])
def test_bad_limits_are_refused(kw):
    with pytest.raises(InputError, match="positive"):
        Analyzer(detector=Recorder(PixelBudget(1)), age_model=None, gender_model=None, **kw)


def test_budget_serves_waiters_in_order_and_times_out():
    b = PixelBudget(100)
    assert b.acquire(80)
    assert not b.acquire(50, timeout=0.05)  # does not fit while 80 are held
    order: list[str] = []

    def take(name: str, n: int) -> None:
        b.acquire(n)
        order.append(name)
        b.release(n)

    big = threading.Thread(target=take, args=("big", 100))
    big.start()
    time.sleep(0.1)  # the big request waits first ...
    small = threading.Thread(target=take, args=("small", 10))
    small.start()  # ... and a small one that would fit now must not overtake it
    time.sleep(0.1)
    assert order == []
    b.release(80)
    big.join(5)
    small.join(5)
    assert order == ["big", "small"] and b.in_use == 0


def test_a_cancelled_wait_reserves_nothing():
    b = PixelBudget(10)
    assert b.acquire(10)
    cancel = threading.Event()
    got: list[bool] = []
    t = threading.Thread(target=lambda: got.append(b.acquire(5, cancel=cancel)))
    t.start()
    time.sleep(0.05)
    cancel.set()
    t.join(5)
    assert got == [False] and b.in_use == 10
