"""FaceTracker on synthetic detection sequences (no video needed)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from agegender.errors import InputError
from agegender.faces import Faces
from agegender.track import FaceTracker, greedy_assignment, iou_matrix, linear_assignment

SIZE = 60.0


def box_at(cx: float, cy: float, size: float = SIZE) -> list[float]:
    return [cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2]


def make_faces(boxes: list[list[float]], scores: list[float] | None = None) -> Faces:
    n = len(boxes)
    if n == 0:
        return Faces.empty()
    b = np.asarray(boxes, np.float32)
    lm = np.zeros((n, 5, 2), np.float32)
    lm[:, :, 0] = (b[:, 0:1] + b[:, 2:3]) / 2
    lm[:, :, 1] = (b[:, 1:2] + b[:, 3:4]) / 2
    return Faces(
        boxes=b,
        scores=np.asarray(scores if scores is not None else [0.9] * n, np.float32),
        landmarks=lm,
    )


def ids_of(out: Faces) -> list[int]:
    assert out.track_id is not None
    return [int(t) for t in out.track_id]


def linear(start: tuple[float, float], vel: tuple[float, float], t: int) -> tuple[float, float]:
    return start[0] + vel[0] * t, start[1] + vel[1] * t


# ---------------------------------------------------------------- matching
def brute_force_min(cost: np.ndarray) -> float:
    n, m = cost.shape
    if n <= m:
        return min(
            sum(cost[i, j] for i, j in zip(range(n), perm, strict=True))
            for perm in itertools.permutations(range(m), n)
        )
    return brute_force_min(cost.T)


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (4, 2), (2, 5), (5, 5), (6, 4)])
def test_linear_assignment_is_optimal(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    for _ in range(20):
        cost = rng.random(shape)
        pairs = linear_assignment(cost)
        assert len(pairs) == min(shape)
        assert len({r for r, _ in pairs}) == len({c for _, c in pairs}) == min(shape)
        total = sum(cost[r, c] for r, c in pairs)
        assert total == pytest.approx(brute_force_min(cost))


def test_linear_assignment_edge_cases() -> None:
    assert linear_assignment(np.zeros((0, 3))) == []
    with pytest.raises(InputError):
        linear_assignment(np.array([[np.inf, 1.0]]))


def test_greedy_assignment_takes_best_first_and_gates() -> None:
    iou = np.array([[0.9, 0.8], [0.85, 0.1]])
    assert greedy_assignment(iou, 0.2) == [(0, 0)]  # (1, 1) is below the gate
    assert greedy_assignment(iou, 0.05) == [(0, 0), (1, 1)]


def test_iou_matrix() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]], np.float32)
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0, 0.0]])
    assert iou_matrix(a, np.zeros((0, 4))).shape == (1, 0)


# ---------------------------------------------------------------- tracking
@pytest.mark.parametrize("matcher", ["hungarian", "greedy"])
def test_two_faces_moving_linearly_keep_their_ids(matcher: str) -> None:
    rng = np.random.default_rng(0)
    tracker = FaceTracker(matcher=matcher)  # type: ignore[arg-type]
    starts = [(60.0, 100.0), (500.0, 300.0)]
    vels = [(6.0, 1.0), (-5.0, -0.5)]
    seen: dict[int, int] = {}
    for f in range(60):
        boxes = [box_at(*linear(s, v, f)) for s, v in zip(starts, vels, strict=True)]
        boxes = [list(np.asarray(b) + rng.normal(0, 1.0, 4)) for b in boxes]
        order = rng.permutation(2)  # detectors give no stable row order
        out = tracker.update(make_faces([boxes[i] for i in order]), f)
        for row, person in enumerate(order):
            tid = ids_of(out)[row]
            assert tid > 0, f"frame {f}: person {person} untracked"
            assert seen.setdefault(int(person), tid) == tid, f"frame {f}: id switch"
    assert sorted(seen.values()) == [1, 2]


def test_a_new_face_gets_a_new_id_and_ids_are_never_reused() -> None:
    tracker = FaceTracker(max_age=10)
    for f in range(20):  # face A walks right, then leaves
        out = tracker.update(make_faces([box_at(*linear((100, 200), (5, 0), f))]), f)
        assert ids_of(out) == [1]
    for f in range(20, 25):
        tracker.update(make_faces([]), f)
    # face B enters elsewhere: tentative on its first frame, id 2 after min_hits=2
    out = tracker.update(make_faces([box_at(500, 400)]), 25)
    assert ids_of(out) == [-1]
    for f in range(26, 60):
        out = tracker.update(make_faces([box_at(500, 400)]), f)
        assert ids_of(out) == [2]
    # A's track is gone (max_age); a face where A was is a new person with a new id
    tracker.update(make_faces([box_at(500, 400), box_at(200, 200)]), 60)
    out = tracker.update(make_faces([box_at(500, 400), box_at(200, 200)]), 61)
    assert ids_of(out) == [2, 3]
    assert all(t.track_id != 1 for t in tracker.tracks)


def test_faces_present_on_the_first_frame_are_confirmed_at_once() -> None:
    tracker = FaceTracker(min_hits=3)
    out = tracker.update(make_faces([box_at(100, 100), box_at(300, 100)]), 0)
    assert ids_of(out) == [1, 2]
    # later births wait for min_hits consecutive matches
    faces = make_faces([box_at(100, 100), box_at(300, 100), box_at(500, 100)])
    assert ids_of(tracker.update(faces, 1)) == [1, 2, -1]
    assert ids_of(tracker.update(faces, 2)) == [1, 2, -1]
    assert ids_of(tracker.update(faces, 3)) == [1, 2, 3]


def test_tentative_track_missing_one_frame_is_dropped() -> None:
    tracker = FaceTracker()
    tracker.update(make_faces([]), 0)
    tracker.update(make_faces([box_at(100, 100)]), 1)  # tentative
    tracker.update(make_faces([]), 2)  # missed: dropped
    assert ids_of(tracker.update(make_faces([box_at(100, 100)]), 3)) == [-1]
    assert ids_of(tracker.update(make_faces([box_at(100, 100)]), 4)) == [1]


def test_drop_unconfirmed_option() -> None:
    tracker = FaceTracker(drop_unconfirmed=True, warmup_updates=0)
    faces = make_faces([box_at(100, 100), box_at(300, 100, 40)], scores=[0.9, 0.05])
    out = tracker.update(faces, 0)
    assert len(out) == 0
    out = tracker.update(faces, 1)
    assert ids_of(out) == [1]
    np.testing.assert_array_equal(out.boxes, faces.boxes[:1])


@pytest.mark.parametrize("matcher", ["hungarian", "greedy"])
@pytest.mark.parametrize("occlude", [False, True])
def test_crossing_paths_keep_ids(matcher: str, occlude: bool) -> None:
    """Two faces cross head-on; with occlusion the hidden one is missed meanwhile."""
    tracker = FaceTracker(matcher=matcher)  # type: ignore[arg-type]
    a0, av = (60.0, 200.0), (9.0, 0.3)
    b0, bv = (600.0, 215.0), (-8.0, -0.2)
    id_a = id_b = None
    hidden_frames = 0
    for f in range(70):
        ba, bb = box_at(*linear(a0, av, f)), box_at(*linear(b0, bv, f))
        boxes = [ba, bb]
        if occlude and iou_matrix(np.array([ba]), np.array([bb]))[0, 0] > 0.2:
            boxes = [ba]  # B is behind A: no detection for B
            hidden_frames += 1
        out = tracker.update(make_faces(boxes), f)
        ids = ids_of(out)
        id_a = id_a or ids[0]
        assert ids[0] == id_a, f"frame {f}: A changed id"
        if len(ids) > 1:
            id_b = id_b or ids[1]
            assert ids[1] == id_b, f"frame {f}: B changed id"
    assert {id_a, id_b} == {1, 2}
    assert hidden_frames > 0 if occlude else hidden_frames == 0


def test_skipped_detections_are_bridged() -> None:
    tracker = FaceTracker()
    for f in range(40):
        c = linear((100, 150), (7, 2), f)
        boxes = [] if 15 <= f < 21 else [box_at(*c)]  # missed for 6 frames
        out = tracker.update(make_faces(boxes), f)
        if boxes:
            assert ids_of(out) == [1]


def test_low_score_detection_continues_but_does_not_start_tracks() -> None:
    tracker = FaceTracker()
    tracker.update(make_faces([box_at(100, 100)], [0.9]), 0)
    out = tracker.update(make_faces([box_at(102, 100), box_at(400, 400)], [0.3, 0.3]), 1)
    assert ids_of(out) == [1, -1]
    out = tracker.update(make_faces([box_at(104, 100), box_at(400, 400)], [0.3, 0.3]), 2)
    assert ids_of(out) == [1, -1]
    assert len(tracker.tracks) == 1


def test_predict_moves_boxes_along_the_velocity() -> None:
    tracker = FaceTracker()
    start, vel = (100.0, 120.0), (6.0, -2.0)
    for f in range(15):
        tracker.update(make_faces([box_at(*linear(start, vel, f))]), f)
    for f in range(15, 21):
        pred = tracker.predict(f)
        assert ids_of(pred) == [1]
        np.testing.assert_allclose(pred.boxes[0], box_at(*linear(start, vel, f)), atol=1.5)
        assert pred.age_dist is None and pred.gender_p is None
        # landmarks follow the box
        np.testing.assert_allclose(
            pred.landmarks[0, 0],
            [(pred.boxes[0, 0] + pred.boxes[0, 2]) / 2, (pred.boxes[0, 1] + pred.boxes[0, 3]) / 2],
            atol=1e-3,
        )
    assert tracker.predict(21).boxes[0, 0] > pred.boxes[0, 0]


def test_detect_every_k_frames_with_prediction_in_between() -> None:
    tracker = FaceTracker()
    k = 4
    starts = [(80.0, 100.0), (600.0, 120.0)]
    vels = [(5.0, 0.5), (-4.0, 0.0)]
    for f in range(80):
        truth = [box_at(*linear(s, v, f)) for s, v in zip(starts, vels, strict=True)]
        if f % k == 0:
            out = tracker.update(make_faces(truth), f)
            assert ids_of(out) == [1, 2]
        else:
            out = tracker.predict(f)
            assert ids_of(out) == [1, 2]
            if f > 3 * k:
                np.testing.assert_allclose(out.boxes, truth, atol=2.0)


def test_lost_track_is_not_predicted_unless_asked_and_dies_after_max_age() -> None:
    tracker = FaceTracker(max_age=5)
    tracker.update(make_faces([box_at(100, 100)]), 0)
    tracker.update(make_faces([]), 1)
    assert len(tracker.predict(2)) == 0
    assert ids_of(tracker.predict(3, include_lost=True)) == [1]
    assert len(tracker.predict(5, include_lost=True)) == 1
    assert len(tracker.predict(6, include_lost=True)) == 0
    assert tracker.tracks == []


def test_input_faces_are_never_mutated() -> None:
    tracker = FaceTracker()
    for f in range(5):
        faces = make_faces([box_at(100 + 5 * f, 100), box_at(300, 100 + 3 * f)], [0.9, 0.4])
        before = {k: np.copy(getattr(faces, k)) for k in ("boxes", "scores", "landmarks")}
        out = tracker.update(faces, f)
        assert out is not faces
        assert faces.track_id is None
        for k, v in before.items():
            np.testing.assert_array_equal(getattr(faces, k), v)
        tracker.predict(f)
        for k, v in before.items():
            np.testing.assert_array_equal(getattr(faces, k), v)


def test_frames_must_not_go_back_and_reset_restarts_ids() -> None:
    tracker = FaceTracker()
    tracker.update(make_faces([box_at(100, 100)]), 5)
    with pytest.raises(InputError):
        tracker.update(make_faces([box_at(100, 100)]), 4)
    tracker.reset()
    assert ids_of(tracker.update(make_faces([box_at(100, 100)]), 0)) == [1]


def test_bad_arguments() -> None:
    with pytest.raises(InputError):
        FaceTracker(low_thresh=0.6, high_thresh=0.5)
    with pytest.raises(InputError):
        FaceTracker(min_hits=0)
    with pytest.raises(InputError):
        FaceTracker(matcher="nearest")  # type: ignore[arg-type]
