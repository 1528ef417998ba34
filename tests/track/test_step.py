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


# ------------------------------------------------------------- estimate_every
def tracked_step(an: FakeAnalyzer, k: int, **kw: Any) -> FrameStep:
    return FrameStep(
        an,  # type: ignore[arg-type]
        FaceTracker(drop_unconfirmed=True),
        TrackAggregator(fps=30.0),
        estimate_every=k,
        **kw,
    )


def test_a_tracked_face_is_estimated_when_new_and_every_kth_frame() -> None:
    n = 30
    an = FakeAnalyzer([faces_at([10 + i, 300 + i]) for i in range(n)])
    step = tracked_step(an, 10)
    fresh = [step(FRAME, i, i / 30.0).fresh.tolist() for i in range(n)]
    assert [i for i, f in enumerate(fresh) if any(f)] == [0, 10, 20]
    assert all(f in ([True, True], [False, False]) for f in fresh)
    assert an.estimated == [2, 2, 2] and step.estimates == 6 and step.detections == n


def test_rows_not_estimated_carry_the_last_estimate_and_add_no_evidence() -> None:
    an = FakeAnalyzer([faces_at([10 + 5 * i]) for i in range(12)])
    agg = TrackAggregator(fps=30.0)
    step = FrameStep(
        an, FaceTracker(drop_unconfirmed=True), agg, estimate_every=10  # type: ignore[arg-type]
    )
    answers = [step(FRAME, i, i / 30.0) for i in range(12)]
    first = answers[0].raw.age_years
    # frames 1..9: the model's answer of frame 0 (x = 10: 21 years), not re-estimated
    for a in answers[1:10]:
        assert not a.fresh.any()
        np.testing.assert_array_equal(a.raw.age_years, first)
        np.testing.assert_array_equal(a.raw.age_dist, answers[0].raw.age_dist)
    assert answers[10].fresh.all()
    np.testing.assert_allclose(answers[10].raw.age_years, [20.0 + 6.0], atol=0.5)  # x = 60
    rec = agg.summary()[0]
    assert rec["frames"] == 12 and rec["age"]["frames"] == 2 and rec["gender"]["frames"] == 2


def test_a_better_detection_and_a_new_track_are_estimated_at_once() -> None:
    dets = [faces_at([10.0], scores=[0.6]) for _ in range(4)]
    dets += [faces_at([10.0], scores=[0.95])]  # quality up by 0.35
    dets += [faces_at([10.0, 300.0], scores=[0.95, 0.9]) for _ in range(4)]  # a new face
    an = FakeAnalyzer(dets)
    step = tracked_step(an, 30)
    fresh = [step(FRAME, i, i / 30.0).fresh.tolist() for i in range(len(dets))]
    assert fresh[:5] == [[True], [False], [False], [False], [True]]
    # the new face is confirmed on its 2nd detection (frame 6) and estimated then, alone
    assert fresh[5] == [False] and fresh[6] == [False, True] and fresh[8] == [False, False]
    assert an.estimated == [1, 1, 1]


def test_nearly_due_faces_join_a_batch() -> None:
    # K = 8; face 1 is estimated at frame 0, face 2 (seen from frame 1, confirmed on its
    # 2nd detection) at frame 2: at frame 8 face 1 is due, and face 2, which has waited
    # 6 = K - K // 4 frames, joins its batch instead of coming due alone at frame 10
    dets = [faces_at([10.0])] + [faces_at([10.0, 300.0]) for _ in range(13)]
    an = FakeAnalyzer(dets)
    step = tracked_step(an, 8)
    fresh = [step(FRAME, i).fresh.tolist() for i in range(len(dets))]
    assert fresh[0] == [True] and fresh[2] == [False, True]
    assert fresh[8] == [True, True] and fresh[10] == [False, False]
    assert an.estimated == [1, 1, 2]


def test_estimate_every_1_is_every_detection_and_bad_values() -> None:
    an = FakeAnalyzer([faces_at([10 + i]) for i in range(5)])
    step = tracked_step(an, 1)
    assert all(step(FRAME, i).fresh.all() for i in range(5)) and an.estimated == [1] * 5
    for bad in (0, 2.5, True):
        with pytest.raises(InputError, match="estimate_every"):
            tracked_step(FakeAnalyzer([]), bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="needs tracking"):
        FrameStep(FakeAnalyzer([]), estimate_every=3)  # type: ignore[arg-type]
