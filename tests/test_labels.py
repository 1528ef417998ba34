"""The one label grammar: texts, rounding, the 99% cap, tags, and collision-free spots."""

from __future__ import annotations

import itertools

from agegender.labels import Rect, half_up, label_texts, percent, place_labels, tag_of


def _face(p: float | None = 0.97, label: str | None = "female", years: float = 31.4) -> dict:
    face: dict = {"box": [0, 0, 10, 10], "score": 0.934, "landmarks": None,
                  "age": {"years": years, "low": 24.5, "high": 38.49, "group": "25-32"}}
    if p is not None:
        face["gender"] = {"label": label, "probability": p}
    return face


def test_texts_longest_first_with_half_up_rounding() -> None:
    assert label_texts(_face()) == ("F 97% \u00b7 31 y (25-38)", "F \u00b7 31 y", "")
    assert label_texts(_face(0.905, "male", 30.5))[0] == "M 91% \u00b7 31 y (25-38)"


def test_probability_capped_at_99_and_undetermined_is_a_question_mark() -> None:
    assert percent(0.996) == "99%" and percent(1.0) == "99%" and percent(0.5) == "50%"
    assert label_texts(_face(1.0))[0].startswith("F 99% ")
    assert label_texts(_face(0.62, None))[:2] == ("? 62% \u00b7 31 y (25-38)", "? \u00b7 31 y")


def test_parts_left_out_when_unknown() -> None:
    bare = {"box": [0, 0, 1, 1], "score": 0.934, "landmarks": None}
    assert label_texts(bare) == ("score 0.93", "0.93", "")
    no_age = {**bare, "gender": {"label": "male", "probability": 0.8}}
    assert label_texts(no_age) == ("M 80%", "M", "")


def test_half_up_is_javascripts_math_round() -> None:
    assert [half_up(v) for v in (0.5, 1.5, 2.5, -2.5, -0.4, 30.49)] == [1, 2, 3, -2, 0, 30]


def test_tag_is_the_track_id_or_the_number() -> None:
    assert tag_of({"track_id": 7}, 0) == "7"
    assert tag_of({}, 2) == "3" and tag_of({"track_id": -1}, 0) == "1"


def test_labels_stay_inside_and_never_overlap_in_a_crowd() -> None:
    W, H = 400, 300
    boxes = [Rect(10 + 48 * c, 12 + 58 * r, 30, 34) for r in range(5) for c in range(8)]
    boxes.append(Rect(370, 0, 30, 30))  # a face in the top right corner
    sizes = [[(150.0, 20.0), (60.0, 20.0), (20.0, 20.0)] for _ in boxes]
    spots = place_labels(boxes, sizes, W, H)
    got = [s for s in spots if s is not None]
    assert len(got) == len(boxes)  # every face gets at least its tag
    for s in got:
        assert s.x >= 0 and s.x + s.w <= W and s.y >= 0 and s.y + s.h <= H
    for a, b in itertools.combinations(got, 2):
        assert not (a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h)
    assert any(s.level == 2 for s in got)  # crowded: some are the tag alone


def test_a_lone_face_gets_the_full_label_next_to_its_box() -> None:
    (spot,) = place_labels([Rect(100, 100, 40, 40)], [[(120.0, 20.0), (50.0, 20.0), (20.0, 20.0)]], 400, 300)
    assert spot is not None and spot.level == 0 and not spot.leader
    assert spot.y + spot.h <= 100  # above the box
