"""FrameStep: the per-frame detect -> track -> estimate -> aggregate loop of video and the
live stream, on a fake analyzer that has only the public steps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from agegender.ages import gaussian_distribution
from agegender.errors import InputError
from agegender.faces import Faces
from agegender.track import FaceTracker, FrameStep, TrackAggregator

FRAME = np.zeros((480, 640, 3), np.uint8)


def faces_at(xs: list[float], scores: list[float] | None = None, size: float = 100.0) -> Faces:
    n = len(xs)
    boxes = np.array([[x, 100.0, x + size, 100.0 + size] for x in xs], np.float32).reshape(n, 4)
    return Faces(
        boxes=boxes,
        scores=np.asarray(scores if scores is not None else [0.9] * n, np.float32),
        landmarks=np.full((n, 5, 2), np.nan, np.float32),
    )


class FakeAnalyzer:
    """``detect`` gives the queued detections; ``estimate`` gives each face an age
    ``20 + x / 10`` and a gender and records how many faces it was asked for.
    No ``detector`` attribute: the step must use the public steps only."""

    def __init__(self, detections: list[Faces]) -> None:
        self.detections = list(detections)
        self.estimated: list[int] = []

    def detect(self, images: list[Any]) -> list[Faces]:
        assert len(images) == 1
        return [self.detections.pop(0)]

    def estimate(self, images: list[Any], faces: list[Faces]) -> list[Faces]:
        out = []
        for f in faces:
            self.estimated.append(len(f))
            ages = 20.0 + f.boxes[:, 0] / 10.0
            dist = gaussian_distribution(ages, 3.0) if len(f) else np.zeros((0, 101), np.float32)
            out.append(f.with_age(dist).with_gender(np.full(len(f), 0.8, np.float32)))
        return out


def test_without_tracking_the_frame_answers_are_shown() -> None:
    an = FakeAnalyzer([faces_at([10, 300])])
    step = FrameStep(an)  # type: ignore[arg-type]
    ans = step(FRAME, 0, 0.0)
    assert ans.shown is ans.raw and ans.raw.track_id is None
    np.testing.assert_allclose(ans.raw.age_years, [21.0, 50.0], atol=0.5)
    assert ans.fresh.tolist() == [True, True]
    assert step.detections == 1 and an.estimated == [2]
    assert set(step.timings) == {"detect", "track", "estimate", "aggregate"}


def test_tracked_frames_predicted_frames_and_the_keep_filter() -> None:
    moves = [faces_at([10 + 2 * i, 300 + 2 * i, 500], scores=[0.9, 0.9, 0.3]) for i in range(4)]
    an = FakeAnalyzer(moves)
    step = FrameStep(
        an,  # type: ignore[arg-type]
        FaceTracker(drop_unconfirmed=True),
        TrackAggregator(fps=30.0),
        keep=lambda f: f[f.scores >= 0.5],  # the low-score face never reaches the tracker
    )
    for i in range(4):
        ans = step(FRAME, i, i / 30.0)
        assert sorted(ans.shown.track_id.tolist()) == [1, 2]
        assert ans.fresh.all()
    pred = step(FRAME, 4, detect=False)
    assert sorted(pred.shown.track_id.tolist()) == [1, 2]
    assert not pred.fresh.any() and pred.raw.age_years is None
    assert pred.shown.age_years is not None  # the tracks' aggregates are shown
    assert step.detections == 4 and sum(an.estimated) == 8


def test_bad_combinations() -> None:
    with pytest.raises(InputError, match="needs a tracker"):
        FrameStep(FakeAnalyzer([]), None, TrackAggregator())  # type: ignore[arg-type]
    with pytest.raises(InputError, match="needs a tracker"):
        FrameStep(FakeAnalyzer([]))(FRAME, 0, detect=False)  # type: ignore[arg-type]
