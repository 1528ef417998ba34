"""TrackAggregator and flicker_rate on synthetic per-frame answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agegender.ages import ADIENCE_LABELS, gaussian_distribution
from agegender.errors import InputError
from agegender.faces import Faces
from agegender.track import FaceTracker, TrackAggregator, face_quality
from agegender.video.flicker import collect_labels, flicker_rate

FPS = 30.0


def tracked(
    boxes: list[list[float]],
    track_ids: list[int],
    ages: list[float] | None = None,
    gender_p: list[float] | None = None,
    scores: list[float] | None = None,
    sigma: float = 4.0,
) -> Faces:
    n = len(boxes)
    f = Faces(
        boxes=np.asarray(boxes, np.float32).reshape(n, 4),
        scores=np.asarray(scores if scores is not None else [1.0] * n, np.float32),
        landmarks=np.full((n, 5, 2), np.nan, np.float32),
        track_id=np.asarray(track_ids, np.int64),
    )
    if ages is not None:
        f = f.with_age(gaussian_distribution(np.asarray(ages), sigma))
    if gender_p is not None:
        f = f.with_gender(np.asarray(gender_p))
    return f


BIG = [0.0, 0.0, 100.0, 100.0]


def alternating_ages(n: int, rng: np.random.Generator) -> list[float]:
    """Peaks alternating between the 25-32 and 38-43 groups (27 and 39 years), with noise.

    The consensus (33) lies in the 33-37 gap, on the side :func:`nearest_group`
    gives to 25-32. Evidence balanced exactly on the split between two groups
    (e.g. 28 and 40, consensus 34-35) can keep switching with confidence near
    0.5 for longer: no averaging can decide a genuine tie.
    """
    return [float(rng.normal(27.0, 1.5) if i % 2 == 0 else rng.normal(39.0, 1.5)) for i in range(n)]


# ------------------------------------------------------------------ quality
def test_face_quality_saturates_at_quality_px_and_scales_with_score() -> None:
    boxes = np.array([[0, 0, 40, 60], [0, 0, 80, 100], [0, 0, 200, 160], [0, 0, 0, 0]])
    q = face_quality(boxes, np.array([1.0, 1.0, 0.5, 1.0]))
    np.testing.assert_allclose(q, [0.5, 1.0, 0.5, 0.0])


# ------------------------------------------------------------------ age
def test_single_full_quality_frame_gives_back_its_answer() -> None:
    agg = TrackAggregator()
    faces = tracked([BIG], [1], ages=[30.0], gender_p=[0.8])
    out = agg.update(faces, 0)
    assert out.age_dist is not None and faces.age_dist is not None
    np.testing.assert_allclose(out.age_dist, faces.age_dist, atol=2e-3)
    assert out.gender_p is not None
    assert out.gender_p[0] == pytest.approx(0.8, abs=1e-5)


@pytest.mark.parametrize("seed", range(12))
def test_alternating_noisy_ages_give_a_stable_group_and_little_flicker(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300  # 10 s at 30 fps
    ages = alternating_ages(n, rng)
    agg = TrackAggregator(fps=FPS)
    raw_frames, agg_frames = [], []
    for f, age in enumerate(ages):
        side = float(rng.uniform(40, 120))  # varying face size and score -> varying weight
        faces = tracked([[0, 0, side, side]], [7], ages=[age], scores=[rng.uniform(0.6, 1.0)])
        raw_frames.append(faces)
        agg_frames.append(agg.update(faces, f))
    raw = collect_labels(raw_frames)[7]
    stable = collect_labels(agg_frames)[7]
    assert {"25-32", "38-43"} <= set(raw)  # frame by frame, the label jumps between groups
    assert len(set(stable[10:])) == 1, "aggregated group changed after the first frames"
    raw_rate = flicker_rate({7: raw}, FPS)
    agg_rate = flicker_rate({7: stable}, FPS)
    assert raw_rate > 1000  # about one change per frame
    assert agg_rate * 10 <= raw_rate
    assert agg.summary()[0]["age"]["group"] == stable[-1]


def test_majority_group_wins() -> None:
    """Two frames of 25-32 for each of 38-43: the aggregate settles in 25-32."""
    rng = np.random.default_rng(5)
    agg = TrackAggregator()
    for f in range(90):
        age = rng.normal(28.0, 1.5) if f % 3 else rng.normal(40.0, 1.5)
        out = agg.update(tracked([BIG], [1], ages=[age]), f)
    assert out.age_group is not None
    assert ADIENCE_LABELS[int(out.age_group[0])] == "25-32"


def test_age_confidence_grows_with_consistent_evidence_and_is_capped() -> None:
    agg = TrackAggregator(max_sharpening=3.0)
    widths, confidences = [], []
    for f in range(40):
        out = agg.update(tracked([BIG], [1], ages=[29.0 + (f % 3 - 1) * 0.5]), f)
        assert out.age_high is not None and out.age_low is not None
        widths.append(float(out.age_high[0] - out.age_low[0]))
        confidences.append(agg.summary()[0]["age"]["confidence"])
    assert widths[3] < widths[0] and widths[8] < widths[3]
    assert confidences[8] > confidences[0]
    # capped: the interval stops shrinking once sqrt(W) reaches max_sharpening (W = 9)
    assert widths[-1] == pytest.approx(widths[12], rel=0.05)
    assert widths[-1] > widths[0] / 3.0 - 0.5


def test_low_quality_frames_count_less() -> None:
    agg = TrackAggregator()
    agg.update(tracked([BIG], [1], ages=[28.0]), 0)
    for f in range(1, 4):  # tiny, doubtful faces saying 40
        agg.update(tracked([[0, 0, 16, 16]], [1], ages=[40.0], scores=[0.5]), f)
    assert agg.summary()[0]["age"]["group"] == "25-32"


# ------------------------------------------------------------------ gender
def test_gender_confidence_grows_with_frames() -> None:
    rng = np.random.default_rng(1)
    agg = TrackAggregator()
    probs = []
    for f in range(30):
        out = agg.update(tracked([BIG], [3], gender_p=[rng.uniform(0.6, 0.8)]), f)
        assert out.gender_p is not None
        probs.append(float(out.gender_p[0]))
    assert probs[0] < probs[3] < probs[8]
    assert probs[-1] > probs[3]  # from W = 9 on the sharpening is capped: it plateaus
    assert probs[-1] <= 1.0 / (1.0 + math.exp(-3.0 * 3.0)) + 1e-6  # clip * max_sharpening
    s = agg.summary()[0]["gender"]
    assert s["label"] == "male" and s["probability"] == pytest.approx(probs[-1], abs=1e-4)
    assert s["frames"] == 30


def test_one_overconfident_frame_does_not_dominate() -> None:
    agg = TrackAggregator()
    agg.update(tracked([BIG], [1], gender_p=[0.999999]), 0)
    for f in range(1, 4):
        out = agg.update(tracked([BIG], [1], gender_p=[0.2]), f)
    assert out.gender_label == ["female"]


# ------------------------------------------------------------------ bookkeeping
def test_summary_fields_and_times() -> None:
    agg = TrackAggregator(fps=25.0)
    for f in range(10, 60):
        faces = tracked([BIG, [200, 0, 300, 100]], [1, 2], ages=[30.0, 62.0], gender_p=[0.1, 0.9])
        if f >= 40:
            faces = faces[[0]]
        agg.update(faces, f)
    s = agg.summary()
    assert [r["track_id"] for r in s] == [1, 2]
    a, b = s
    assert (a["first_frame"], a["last_frame"], a["frames"]) == (10, 59, 50)
    assert (b["first_frame"], b["last_frame"], b["frames"]) == (10, 39, 30)
    assert a["first_time"] == pytest.approx(0.4) and a["last_time"] == pytest.approx(59 / 25)
    assert a["age"]["group"] == "25-32" and b["age"]["group"] == "60-100"
    assert a["age"]["low"] < a["age"]["years"] < a["age"]["high"]
    assert a["gender"]["label"] == "female" and b["gender"]["label"] == "male"


def test_timestamps_override_fps_and_frame_index_defaults() -> None:
    agg = TrackAggregator()
    agg.update(tracked([BIG], [1], ages=[30.0]), timestamp=12.5)
    agg.update(tracked([BIG], [1], ages=[30.0]), timestamp=13.0)
    s = agg.summary()[0]
    assert (s["first_frame"], s["last_frame"]) == (0, 1)
    assert (s["first_time"], s["last_time"]) == (12.5, 13.0)
    assert TrackAggregator().update(tracked([BIG], [1]), 3) is not None
    assert TrackAggregator().summary() == []


def test_predicted_frames_get_the_track_answers_and_untracked_rows_keep_theirs() -> None:
    agg = TrackAggregator()
    agg.update(tracked([BIG], [4], ages=[50.0], gender_p=[0.9]), 0)
    # a predicted frame: no age/gender columns, every row has an aggregate
    out = agg.update(tracked([BIG], [4]), 1)
    assert out.age_dist is not None and out.gender_p is not None
    assert ADIENCE_LABELS[int(out.age_group[0])] == "48-53"  # type: ignore[index]
    # an untracked row keeps its own answer
    out = agg.update(tracked([BIG, BIG], [4, -1], ages=[50.0, 10.0], gender_p=[0.9, 0.2]), 2)
    assert out.age_group is not None and out.gender_label is not None
    assert ADIENCE_LABELS[int(out.age_group[1])] == "8-12" and out.gender_label[1] == "female"
    # no own column and a row without aggregate: the column stays empty
    out = agg.update(tracked([BIG, BIG], [4, -1]), 3)
    assert out.age_dist is None and out.gender_p is None
    assert agg.summary()[0]["frames"] == 4 and agg.summary()[0]["age"]["frames"] == 2


def test_input_faces_are_never_mutated() -> None:
    agg = TrackAggregator()
    for f in range(5):
        faces = tracked([BIG], [1], ages=[20.0 + 5 * f], gender_p=[0.3])
        before = {
            k: np.copy(getattr(faces, k))
            for k in (
                "boxes",
                "scores",
                "age_dist",
                "age_years",
                "age_low",
                "age_high",
                "gender_p",
                "track_id",
            )
        }
        out = agg.update(faces, f)
        assert out is not faces
        for k, v in before.items():
            np.testing.assert_array_equal(getattr(faces, k), v)


def test_update_needs_track_ids() -> None:
    faces = tracked([BIG], [1]).with_columns(track_id=None)
    with pytest.raises(InputError):
        TrackAggregator().update(faces)


# ------------------------------------------------------------------ flicker
def test_flicker_rate_counts_changes_per_track_minute() -> None:
    labels = {1: ["a", "a", "b", "b", "a"], 2: ["x", None, "x", "y", None]}
    # 3 changes over 10 frames at 1 fps = 10 s
    assert flicker_rate(labels, fps=1.0) == pytest.approx(3 / (10 / 60))
    assert flicker_rate([["a"] * 30], fps=30.0) == 0.0
    assert flicker_rate({}, fps=30.0) == 0.0
    with pytest.raises(InputError):
        flicker_rate({}, fps=0)


# ------------------------------------------------------------------ end to end
def test_tracker_and_aggregator_together() -> None:
    """Two people walking; noisy per-frame answers become one stable answer each."""
    rng = np.random.default_rng(11)
    tracker, agg = FaceTracker(), TrackAggregator(fps=FPS)
    people = [  # start, velocity, true age, p(male)
        ((80.0, 150.0), (4.0, 0.5), 30.0, 0.75),
        ((700.0, 300.0), (-5.0, 0.0), 65.0, 0.25),
    ]
    raw_frames, shown = [], []
    for f in range(120):
        boxes, ages, gps = [], [], []
        for (sx, sy), (vx, vy), age, pm in people:
            cx, cy = sx + vx * f, sy + vy * f
            boxes.append([cx - 45, cy - 45, cx + 45, cy + 45])
            ages.append(age + rng.normal(0, 6))
            gps.append(float(np.clip(pm + rng.normal(0, 0.25), 0.01, 0.99)))
        dets = (
            Faces(
                boxes=np.asarray(boxes, np.float32),
                scores=np.full(2, 0.9, np.float32),
                landmarks=np.full((2, 5, 2), np.nan, np.float32),
            )
            .with_age(gaussian_distribution(np.asarray(ages), 5.0))
            .with_gender(np.asarray(gps))
        )
        with_ids = tracker.update(dets, f)
        raw_frames.append(with_ids)
        shown.append(agg.update(with_ids, f))
    s = {r["track_id"]: r for r in agg.summary()}
    assert sorted(s) == [1, 2]
    assert s[1]["age"]["group"] == "25-32" and s[1]["gender"]["label"] == "male"
    assert s[2]["age"]["group"] == "60-100" and s[2]["gender"]["label"] == "female"
    assert s[1]["frames"] == 120 and s[1]["last_time"] == pytest.approx(119 / FPS, abs=1e-3)
    for kind in ("age_group", "gender"):
        raw_rate = flicker_rate(collect_labels(raw_frames, kind), FPS)  # type: ignore[arg-type]
        agg_rate = flicker_rate(collect_labels(shown, kind), FPS)  # type: ignore[arg-type]
        assert agg_rate * 10 <= raw_rate, kind


def test_group_is_held_at_a_boundary_and_summary_agrees():
    """Ages hovering around the 15-20 / 25-32 boundary (22.5) must not flip the shown group."""
    from agegender.ages import gaussian_distribution
    from agegender.track.aggregate import TrackAggregator

    agg = TrackAggregator(fps=25)
    shown = []
    for k in range(40):
        years = 22.3 if k % 2 else 22.8
        f = Faces(
            boxes=[[10, 10, 110, 110]], scores=[0.99], landmarks=np.zeros((1, 5, 2)), track_id=[1]
        ).with_age(gaussian_distribution(np.array([years]), 0.3)).with_gender([0.9])
        out = agg.update(f, frame_index=k)
        shown.append(int(out.age_group[0]))
    assert len(set(shown[1:])) == 1
    (track,) = agg.summary()
    assert track["age"]["group"] == ADIENCE_LABELS[shown[-1]]
    # a clear move into the other group does switch it
    for k in range(40, 200):
        f = Faces(
            boxes=[[10, 10, 110, 110]], scores=[0.99], landmarks=np.zeros((1, 5, 2)), track_id=[1]
        ).with_age(gaussian_distribution(np.array([35.0]), 0.3)).with_gender([0.9])
        out = agg.update(f, frame_index=k)
    assert ADIENCE_LABELS[int(out.age_group[0])] in ("25-32", "38-43")


def test_summary_gender_min_confidence() -> None:
    agg = TrackAggregator()
    for f in range(5):
        agg.update(tracked([BIG], [4], gender_p=[0.6]), f)
    plain = agg.summary()[0]["gender"]
    assert plain["label"] == "male" and "undetermined" not in plain
    strict = agg.summary(gender_min_confidence=0.99)[0]["gender"]
    assert strict["label"] is None and strict["undetermined"] is True
    assert strict["probability"] == plain["probability"] < 0.99
