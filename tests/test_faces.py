from dataclasses import fields

import numpy as np
import pytest

from agegender.ages import (
    ADIENCE_LABELS,
    age_quantiles,
    gaussian_distribution,
    group_probabilities,
    groups_to_distribution,
    nearest_group,
)
from agegender.faces import Faces


def _faces(n: int = 2) -> Faces:
    return Faces(
        boxes=np.arange(4 * n, dtype=np.float32).reshape(n, 4) * [1, 1, 2, 2],
        scores=np.linspace(0.9, 0.6, n),
        landmarks=np.ones((n, 5, 2)),
    )


def test_empty_and_len():
    f = Faces.empty()
    assert len(f) == 0 and f.to_dict() == []
    assert f.boxes.shape == (0, 4) and f.landmarks.shape == (0, 5, 2)


def test_validation_messages():
    with pytest.raises(ValueError, match="boxes must have shape"):
        Faces(boxes=np.zeros((2, 3)), scores=[1, 1], landmarks=np.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match="scores has 1 rows but boxes has 2"):
        Faces(boxes=np.zeros((2, 4)), scores=[1], landmarks=np.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match="probabilities"):
        _faces().with_gender([0.5, 1.5])


def test_with_columns_does_not_mutate():
    f = _faces()
    g = f.with_age(gaussian_distribution(np.array([30.0, 5.0]), 2.0)).with_gender([0.1, 0.8])
    assert f.age_dist is None and f.gender_p is None
    assert g.age_years is not None and np.allclose(g.age_years, [30, 5], atol=0.05)
    assert np.all(g.age_low < g.age_years) and np.all(g.age_high > g.age_years)


def test_indexing_and_concatenate():
    f = _faces(3).with_gender([0.1, 0.6, 0.9])
    assert len(f[1]) == 1 and f[1].gender_p[0] == pytest.approx(0.6)
    assert len(f[np.array([True, False, True])]) == 2
    assert len(f[1:]) == 2
    with pytest.raises(IndexError):
        f[5]
    both = Faces.concatenate([f, f[:1]])
    assert len(both) == 4 and both.gender_p is not None
    assert Faces.concatenate([f, _faces(1)]).gender_p is None  # missing in one -> None


def test_to_dict_shape():
    f = _faces(1).with_age(gaussian_distribution(np.array([28.0]), 3.0)).with_gender([0.2])
    (d,) = f.to_dict()
    assert set(d) == {"box", "score", "landmarks", "age", "gender"}
    assert set(d["age"]) == {"years", "low", "high", "group"}
    assert d["age"]["group"] == "25-32"
    assert d["gender"] == {"label": "female", "probability": pytest.approx(0.8)}
    assert len(d["landmarks"]) == 5 and len(d["landmarks"][0]) == 2


def test_nearest_group_ties_go_younger():
    # 3 is 1 from 0-2 and 1 from 4-6: younger; 14 is closer to 15-20
    assert [ADIENCE_LABELS[g] for g in nearest_group([3, 7, 13, 14, 22, 23, 35, 36, 56, 57])] == [
        "0-2", "4-6", "8-12", "15-20", "15-20", "25-32", "25-32", "38-43", "48-53", "60-100",
    ]


def test_group_distribution_round_trip():
    g = np.array([[0.1, 0.0, 0.2, 0.3, 0.1, 0.1, 0.1, 0.1]], np.float32)
    assert np.allclose(group_probabilities(groups_to_distribution(g)), g, atol=1e-6)


def test_quantiles_of_point_mass():
    d = np.zeros((1, 101), np.float32)
    d[0, 30] = 1
    assert age_quantiles(d, 0.1)[0] == pytest.approx(29.6)
    assert age_quantiles(d, 0.9)[0] == pytest.approx(30.4)


def test_gender_min_confidence_in_to_dict():
    f = _faces(4).with_gender([0.2, 0.62, 0.99, 0.989995])
    assert [d["gender"] for d in f.to_dict()] == [  # default 0.5: always a label, as before
        {"label": "female", "probability": pytest.approx(0.8)},
        {"label": "male", "probability": pytest.approx(0.62)},
        {"label": "male", "probability": pytest.approx(0.99)},
        {"label": "male", "probability": pytest.approx(0.99)},
    ]
    g = [d["gender"] for d in f.to_dict(gender_min_confidence=0.8)]
    assert g[0] == {"label": "female", "probability": pytest.approx(0.8)}  # 0.8 >= 0.8
    assert g[1] == {"label": None, "probability": pytest.approx(0.62), "undetermined": True}
    assert g[2]["label"] == "male" and g[3]["label"] == "male"
    # the decision is on the probability as reported (4 decimals): 0.989995 shows as 0.99
    assert [d["gender"]["label"] for d in f.to_dict(gender_min_confidence=0.99)] == [
        None, None, "male", "male"]
    assert f.gender_determined(0.99).tolist() == [False, False, True, True]
    assert f.gender_determined().tolist() == [True] * 4  # 0.5: always a label
    assert f.gender_label == ["female", "male", "male", "male"]  # the more likely one


def test_faces_hold_what_the_models_said_and_the_threshold_is_checked_where_it_is_used():
    from agegender.faces import Result

    f = _faces(3).with_gender([0.1, 0.6, 0.9])
    assert "gender_min_confidence" not in {fl.name for fl in fields(Faces)}
    with pytest.raises(TypeError):
        f.with_columns(gender_min_confidence=0.7)
    assert [d["gender"]["label"] for d in f.to_dict(gender_min_confidence=0.7)] == ["female", None, "male"]
    r = Result("x.jpg", f, width=10, height=10)
    assert [d["gender"]["label"] for d in r.to_dict(gender_min_confidence=0.7)["faces"]] == [
        "female", None, "male"]
    assert [d["gender"]["label"] for d in r.to_dict()["faces"]] == ["female", "male", "male"]
    for bad in (0.4, 1.5, "x"):
        with pytest.raises(ValueError, match="gender_min_confidence must be"):
            f.to_dict(gender_min_confidence=bad)
        with pytest.raises(ValueError, match="gender_min_confidence must be"):
            f.gender_determined(bad)  # type: ignore[arg-type]


def test_annotation_marks_undetermined():
    from agegender.annotation import _UNKNOWN, annotate, label_of

    f = _faces(2).with_gender([0.62, 0.97])
    f = Faces(boxes=[[10, 10, 50, 50], [60, 10, 100, 50]], scores=[0.9, 0.9],
              landmarks=np.full((2, 5, 2), np.nan), gender_p=f.gender_p)
    assert "? 62%" in label_of(f, 0, gender_min_confidence=0.9) and "M 97%" in label_of(f, 1)
    assert "M 62%" in label_of(f, 0)  # the threshold is the caller's, 0.5 by default
    img = annotate(np.zeros((120, 120, 3), np.uint8), f, channels="RGB", gender_min_confidence=0.9)
    assert tuple(img[30, 10]) == _UNKNOWN and tuple(img[30, 60]) != _UNKNOWN
