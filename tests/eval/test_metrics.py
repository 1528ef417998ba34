"""Metric functions against small cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agegender.errors import InputError
from agegender.eval import metrics as M

NAN = float("nan")


# ----------------------------------------------------------------- age
def test_mae_hand_case() -> None:
    assert M.mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)


def test_mae_masks_nan_and_none() -> None:
    # only the first pair is valid: |1 - 2| = 1
    assert M.mae([1, NAN, 3], [2, 5, None]) == pytest.approx(1.0)
    assert M.mae(np.array([1.0, 4.0]), np.array([NAN, 1.0])) == pytest.approx(3.0)


def test_cs_at_inclusive_bound() -> None:
    # errors 5, 6, 0, 4.5
    pred, true = [10, 20, 30, 40], [15, 26, 30, 44.5]
    assert M.cs_at(pred, true, k=5) == pytest.approx(0.75)
    assert M.cs_at(pred, true, k=4) == pytest.approx(0.25)
    assert M.cs_at(pred, true) == pytest.approx(0.75)  # default k=5


def test_adience_accuracy_exact_and_one_off() -> None:
    # last pair masked (negative index); diffs 0, 1, 2, 0, 0
    exact, one_off = M.adience_accuracy([0, 1, 2, 7, 3, -1], [0, 2, 4, 7, 3, 5])
    assert exact == pytest.approx(3 / 5)
    assert one_off == pytest.approx(4 / 5)


def test_range_accuracy_rounds_to_nearest_year() -> None:
    # rounded: 25 in, 24 out, 32 in, 33 out, 40 out; NaN prediction and None range masked
    pred = [24.5, 24.49, 32.4, 32.5, 40, NAN, 3]
    ranges = [(25, 32)] * 5 + [(1, 2), None]
    assert M.range_accuracy(pred, ranges) == pytest.approx(2 / 5)
    arr = np.array([[25, 32]] * 5 + [[1, 2], [NAN, NAN]], dtype=float)
    assert M.range_accuracy(np.array(pred), arr) == pytest.approx(2 / 5)


def test_confusion_matrix_rows_are_true() -> None:
    cm = M.confusion_matrix([0, 1, 1, 2, 5], [0, 1, 2, 2, 1], 3)  # (t=1, p=5) is out of range
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 1, 0], [0, 1, 1]])
    assert cm.dtype == np.int64


def test_interval_coverage_inclusive() -> None:
    # 20 in [20, 30]; 41 not in [30, 40]; 15 in [10, 15]; NaN low masked
    cov = M.interval_coverage([20, 30, 10, NAN], [30, 40, 15, 50], [20, 41, 15, 30])
    assert cov == pytest.approx(2 / 3)


# ----------------------------------------------------------------- gender
def test_gender_accuracy_threshold_and_truth_forms() -> None:
    # 0.9 male right; 0.5 -> male, truth female: wrong; 0.4 female right;
    # None truth masked; 0.7 male vs "female": wrong
    acc = M.gender_accuracy([0.9, 0.5, 0.4, 0.2, 0.7], [True, False, 0, None, "female"])
    assert acc == pytest.approx(0.5)


ECE_P = [0.95, 0.92, 0.15, 0.62, 0.58, 0.35]
ECE_MALE = [1, 0, 0, 1, 1, 1]


def test_ece_hand_case() -> None:
    # confidence  .95 .92 .85 .62 .58 .65 ; correct 1 0 1 1 1 0 ; 5 bins of 0.1 over 0.5..1
    # [.5,.6): {.58 ok}          gap |1 - .58|   = .42   n=1
    # [.6,.7): {.62 ok, .65 no}  gap |.5 - .635| = .135  n=2
    # [.8,.9): {.85 ok}          gap |1 - .85|   = .15   n=1
    # [.9,1]:  {.95 ok, .92 no}  gap |.5 - .935| = .435  n=2
    # ECE = (.42 + 2*.135 + .15 + 2*.435) / 6 = 1.71 / 6 = .285
    assert M.expected_calibration_error(ECE_P, ECE_MALE, bins=5) == pytest.approx(0.285)


def test_reliability_table_hand_case() -> None:
    table = M.reliability_table(ECE_P, ECE_MALE, bins=5)
    assert [b.count for b in table] == [1, 2, 0, 1, 2]
    assert [round(b.lo, 2) for b in table] == [0.5, 0.6, 0.7, 0.8, 0.9]
    assert table[-1].hi == pytest.approx(1.0)
    assert table[1].mean_conf == pytest.approx(0.635)
    assert table[1].accuracy == pytest.approx(0.5)
    assert math.isnan(table[2].mean_conf) and math.isnan(table[2].accuracy)
    # a confidence of exactly 1.0 falls in the last bin
    assert M.reliability_table([1.0], [1], bins=5)[-1].count == 1


def test_ece_perfectly_calibrated_and_bad_bins() -> None:
    assert M.expected_calibration_error([1.0, 0.0], [1, 0]) == pytest.approx(0.0)
    with pytest.raises(InputError):
        M.reliability_table([0.5], [1], bins=0)


# ----------------------------------------------------------------- empty / invalid
@pytest.mark.parametrize(
    "fn",
    [
        lambda: M.mae([], []),
        lambda: M.cs_at([], []),
        lambda: M.range_accuracy([], []),
        lambda: M.interval_coverage([], [], []),
        lambda: M.gender_accuracy([], []),
        lambda: M.expected_calibration_error([], []),
        lambda: M.mae([NAN], [1]),
        lambda: M.gender_accuracy([0.3], [None]),
    ],
)
def test_empty_or_all_missing_is_nan(fn) -> None:  # type: ignore[no-untyped-def]
    assert math.isnan(fn())


def test_empty_adience_and_confusion() -> None:
    exact, one_off = M.adience_accuracy([], [])
    assert math.isnan(exact) and math.isnan(one_off)
    assert M.confusion_matrix([], [], 8).sum() == 0


def test_length_mismatch_raises_input_error() -> None:
    with pytest.raises(InputError, match="lengths"):
        M.mae([1, 2], [1])
    with pytest.raises(InputError):
        M.mae(["a"], [1])


# ----------------------------------------------------------------- breakdown
@pytest.mark.parametrize(
    ("age", "band"),
    [(0, "0-9"), (9.99, "0-9"), (10, "10-19"), (69.5, "60-69"), (70, "70-79"), (79.9, "70-79"),
     (80, "80+"), (116, "80+"), (None, None), (NAN, None)],
)
def test_age_band(age: float | None, band: str | None) -> None:
    assert M.age_band(age) == band


def test_breakdown_by_gender() -> None:
    values = {"abs_error": [2, 3, 2, NAN, 5], "gender_correct": [1, 0, 1, 1, NAN]}
    keys = {"gender": ["male", "male", "female", "female", None]}  # last sample left out
    out = M.breakdown(values, keys, min_count=1)
    by = {g["name"]: g for g in out["groups"]}
    assert set(by) == {"female", "male"}
    assert by["male"]["count"] == 2 and by["male"]["mae"] == pytest.approx(2.5)
    assert by["male"]["gender_accuracy"] == pytest.approx(0.5)
    assert by["female"]["n_age"] == 1 and by["female"]["mae"] == pytest.approx(2.0)
    assert by["female"]["n_gender"] == 2 and by["female"]["gender_accuracy"] == pytest.approx(1)
    assert out["worst_mae"]["name"] == "male"
    assert out["worst_gender_accuracy"]["name"] == "male"
    assert out["mae_spread"] == pytest.approx(0.5)
    assert out["gender_accuracy_spread"] == pytest.approx(0.5)


def test_breakdown_min_count_excludes_small_groups() -> None:
    values = {"abs_error": [2, 3, 2, NAN], "gender_correct": [1, 0, 1, 1]}
    keys = {"gender": ["male", "male", "female", "female"]}
    out = M.breakdown(values, keys, min_count=2)
    assert out["n_ranked_mae"] == 1  # female has only one valid age error
    assert out["mae_spread"] == pytest.approx(0.0)
    default = M.breakdown(values, keys)  # min_count 20: nothing ranked
    assert default["worst_mae"] is None and math.isnan(default["mae_spread"])
    assert default["worst_gender_accuracy"] is None


def test_breakdown_crosses_keys() -> None:
    values = {"abs_error": [1, 2, 3, 4]}
    keys = {"band": ["0-9", "0-9", "10-19", "0-9"], "gender": ["male", "female", "male", "male"]}
    out = M.breakdown(values, keys, min_count=1)
    by = {g["name"]: g for g in out["groups"]}
    assert set(by) == {"0-9/female", "0-9/male", "10-19/male"}
    assert by["0-9/male"]["mae"] == pytest.approx(2.5)
    assert by["0-9/male"]["key"] == {"band": "0-9", "gender": "male"}
    assert math.isnan(by["0-9/male"]["gender_accuracy"])
    assert out["mae_spread"] == pytest.approx(3 - 2)


def test_breakdown_rejects_bad_input() -> None:
    with pytest.raises(InputError, match="unknown value"):
        M.breakdown({"oops": [1]}, {"g": ["a"]})
    with pytest.raises(InputError):
        M.breakdown({"abs_error": [1, 2]}, {"g": ["a"]})
    with pytest.raises(InputError):
        M.breakdown({"abs_error": [1]}, {})
