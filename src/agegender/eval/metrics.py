"""Evaluation metrics for age and gender estimation (numpy only).

Conventions shared by every function here:

* Inputs are array-likes of equal length, one entry per sample. ``None`` and
  ``NaN`` mean "missing"; such samples are masked out of the figure instead of
  being counted as errors. Group indices are missing when negative or NaN.
* A figure over no valid sample is ``NaN`` (never an exception), so a report on
  a data set without, say, gender labels still builds.
* Inputs of different lengths are a programming error and raise
  :class:`~agegender.errors.InputError`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import InputError

log = logging.getLogger(__name__)

__all__ = [
    "AGE_BAND_LABELS",
    "ReliabilityBin",
    "adience_accuracy",
    "age_band",
    "breakdown",
    "confusion_matrix",
    "cs_at",
    "expected_calibration_error",
    "gender_accuracy",
    "interval_coverage",
    "mae",
    "range_accuracy",
    "reliability_table",
]

#: Age bands used by :func:`breakdown`: decades up to 79, then ``80+``.
AGE_BAND_LABELS: tuple[str, ...] = (*(f"{10 * i}-{10 * i + 9}" for i in range(8)), "80+")


# --------------------------------------------------------------------- helpers
def _floats(a: ArrayLike | Sequence[Any], name: str) -> NDArray[np.float64]:
    """A 1-D float64 copy of ``a`` with ``None`` turned into NaN."""
    if isinstance(a, np.ndarray) and a.dtype.kind in "biuf":
        arr = a.astype(np.float64, copy=True)
    else:
        seq = np.asarray(a, dtype=object).reshape(-1).tolist()
        try:
            arr = np.array([np.nan if v is None else v for v in seq], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{name} must hold numbers (None/NaN for missing): {exc}") from exc
    if arr.ndim == 0 or (arr.ndim == 2 and arr.shape[1] == 1):
        arr = arr.reshape(-1)  # a scalar, or a column vector
    if arr.ndim != 1:
        raise InputError(f"{name} must be one value per sample (1-D), got shape {arr.shape}")
    return arr


def _same_length(**arrays: NDArray[Any]) -> int:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise InputError(f"inputs must have one entry per sample, got lengths {detail}")
    return next(iter(lengths.values())) if lengths else 0


def _mean(x: NDArray[np.floating] | NDArray[np.bool_]) -> float:
    return float(np.mean(x)) if x.size else float("nan")


def _gender_truth(true_is_male: ArrayLike | Sequence[Any]) -> NDArray[np.float64]:
    """Truth as 1.0 (male) / 0.0 (female) / NaN (unknown); accepts bools, 0/1 or strings."""
    if isinstance(true_is_male, np.ndarray) and true_is_male.dtype.kind in "biuf":
        return _floats(true_is_male, "true_is_male")
    out = []
    for v in list(true_is_male):  # type: ignore[arg-type]
        if isinstance(v, str):
            s = v.strip().lower()
            out.append(1.0 if s in ("male", "m") else 0.0 if s in ("female", "f") else np.nan)
        else:
            out.append(np.nan if v is None else float(v))
    return np.array(out, dtype=np.float64)


# --------------------------------------------------------------------- age
def mae(pred: ArrayLike, true: ArrayLike) -> float:
    """Mean absolute error in years over samples where both values are finite.

    >>> mae([1, 2, 3], [2, 2, 5])
    1.0
    """
    p, t = _floats(pred, "pred"), _floats(true, "true")
    _same_length(pred=p, true=t)
    ok = np.isfinite(p) & np.isfinite(t)
    return _mean(np.abs(p[ok] - t[ok]))


def cs_at(pred: ArrayLike, true: ArrayLike, k: float = 5) -> float:
    """Cumulative score CS@k: share of valid samples with ``|pred - true| <= k`` years."""
    p, t = _floats(pred, "pred"), _floats(true, "true")
    _same_length(pred=p, true=t)
    ok = np.isfinite(p) & np.isfinite(t)
    return _mean(np.abs(p[ok] - t[ok]) <= k)


def adience_accuracy(
    pred_group_idx: ArrayLike, true_group_idx: ArrayLike
) -> tuple[float, float]:
    """Adience group accuracy as ``(exact, one_off)``.

    ``exact`` is the share of samples whose predicted group index equals the true
    one; ``one_off`` the share with ``|pred - true| <= 1`` group index (adjacent
    groups count as right). Samples with a negative or NaN index on either side
    are masked out.
    """
    p, t = _floats(pred_group_idx, "pred_group_idx"), _floats(true_group_idx, "true_group_idx")
    _same_length(pred_group_idx=p, true_group_idx=t)
    ok = np.isfinite(p) & np.isfinite(t) & (p >= 0) & (t >= 0)
    diff = np.abs(p[ok] - t[ok])
    return _mean(diff == 0), _mean(diff <= 1)


def range_accuracy(pred_years: ArrayLike, ranges: ArrayLike | Sequence[Any]) -> float:
    """Share of predictions inside their inclusive label range ``(lo, hi)``.

    The prediction is first rounded to the nearest whole year (halves round up),
    so a label ``(25, 32)`` accepts predictions in ``[24.5, 32.5)``. ``ranges``
    is an ``(N, 2)`` array (NaN rows are missing) or a sequence of ``(lo, hi)``
    tuples and ``None``.
    """
    p = _floats(pred_years, "pred_years")
    if isinstance(ranges, np.ndarray):
        r = ranges.astype(np.float64).reshape(-1, 2) if ranges.size else np.zeros((0, 2))
    else:
        r = np.array(
            [(np.nan, np.nan) if v is None else (v[0], v[1]) for v in list(ranges)],  # type: ignore[arg-type]
            dtype=np.float64,
        ).reshape(-1, 2)
    _same_length(pred_years=p, ranges=r)
    ok = np.isfinite(p) & np.isfinite(r).all(axis=1)
    rounded = np.floor(p[ok] + 0.5)
    return _mean((rounded >= r[ok, 0]) & (rounded <= r[ok, 1]))


def confusion_matrix(pred_idx: ArrayLike, true_idx: ArrayLike, n: int) -> NDArray[np.int64]:
    """``(n, n)`` counts; row = true class, column = predicted class.

    Samples with an index outside ``0..n-1`` (or NaN) on either side are left out.
    """
    p, t = _floats(pred_idx, "pred_idx"), _floats(true_idx, "true_idx")
    _same_length(pred_idx=p, true_idx=t)
    ok = np.isfinite(p) & np.isfinite(t) & (p >= 0) & (p < n) & (t >= 0) & (t < n)
    out = np.zeros((n, n), dtype=np.int64)
    np.add.at(out, (t[ok].astype(np.int64), p[ok].astype(np.int64)), 1)
    return out


def interval_coverage(low: ArrayLike, high: ArrayLike, true: ArrayLike) -> float:
    """Share of valid samples whose true age lies in the inclusive ``[low, high]`` interval.

    Compare it with the interval's nominal coverage (0.8 for the 10th..90th
    percentile interval that :class:`~agegender.faces.Faces` carries).
    """
    lo, hi, t = _floats(low, "low"), _floats(high, "high"), _floats(true, "true")
    _same_length(low=lo, high=hi, true=t)
    ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(t)
    return _mean((t[ok] >= lo[ok]) & (t[ok] <= hi[ok]))


# --------------------------------------------------------------------- gender
def gender_accuracy(p_male: ArrayLike, true_is_male: ArrayLike | Sequence[Any]) -> float:
    """Share of samples whose predicted gender (``male`` when ``p_male >= 0.5``) is right.

    ``true_is_male`` holds booleans, 1/0, ``"male"``/``"female"`` or
    ``None``/NaN for unknown (masked out).
    """
    p, t = _floats(p_male, "p_male"), _gender_truth(true_is_male)
    _same_length(p_male=p, true_is_male=t)
    ok = np.isfinite(p) & np.isfinite(t)
    return _mean((p[ok] >= 0.5) == (t[ok] >= 0.5))


class ReliabilityBin(NamedTuple):
    """One confidence bin of a reliability diagram (``mean_conf``/``accuracy`` NaN if empty)."""

    lo: float
    hi: float
    count: int  # type: ignore[assignment]  # a field named like tuple.count
    mean_conf: float
    accuracy: float


def _confidence_and_correct(
    p_male: ArrayLike, true_is_male: ArrayLike | Sequence[Any]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    p, t = _floats(p_male, "p_male"), _gender_truth(true_is_male)
    _same_length(p_male=p, true_is_male=t)
    ok = np.isfinite(p) & np.isfinite(t)
    p, t = np.clip(p[ok], 0.0, 1.0), t[ok]
    conf = np.maximum(p, 1.0 - p)
    correct = ((p >= 0.5) == (t >= 0.5)).astype(np.float64)
    return conf, correct


def reliability_table(
    p_male: ArrayLike, true_is_male: ArrayLike | Sequence[Any], bins: int = 10
) -> list[ReliabilityBin]:
    """Per-bin confidence vs accuracy of the predicted gender label.

    The confidence of a prediction is ``max(p, 1 - p)``, the probability of the
    label it predicts, so it lies in ``[0.5, 1]``; that interval is cut into
    ``bins`` equal bins, each ``[lo, hi)`` except the last, which includes 1.0.
    Each bin reports its bounds, how many samples fall in it, their mean
    confidence and the share of them predicted right.
    """
    if bins < 1:
        raise InputError(f"bins must be a positive number of bins, got {bins}")
    conf, correct = _confidence_and_correct(p_male, true_is_male)
    width = 0.5 / bins
    idx = np.clip(np.floor((conf - 0.5) / width).astype(np.int64), 0, bins - 1)
    table = []
    for b in range(bins):
        sel = idx == b
        n = int(sel.sum())
        table.append(
            ReliabilityBin(
                lo=0.5 + b * width,
                hi=0.5 + (b + 1) * width,
                count=n,
                mean_conf=_mean(conf[sel]),
                accuracy=_mean(correct[sel]),
            )
        )
    return table


def expected_calibration_error(
    p_male: ArrayLike, true_is_male: ArrayLike | Sequence[Any], bins: int = 10
) -> float:
    """Expected calibration error of the predicted gender label.

    ``ECE = sum_b (n_b / N) * |accuracy_b - mean_conf_b|`` over the bins of
    :func:`reliability_table` (confidence ``max(p, 1 - p)`` against whether the
    predicted label is right). 0 is perfectly calibrated; NaN without valid samples.
    """
    table = reliability_table(p_male, true_is_male, bins=bins)
    total = sum(b.count for b in table)
    if total == 0:
        return float("nan")
    return float(
        sum(b.count / total * abs(b.accuracy - b.mean_conf) for b in table if b.count)
    )


# --------------------------------------------------------------------- breakdown
def age_band(age: float | None) -> str | None:
    """The decade band of an age (``"0-9"`` ... ``"70-79"``, ``"80+"``); None if missing."""
    if age is None or not np.isfinite(age) or age < 0:
        return None
    return AGE_BAND_LABELS[min(int(age // 10), len(AGE_BAND_LABELS) - 1)]


_VALUE_NAMES = {"abs_error": "mae", "gender_correct": "gender_accuracy"}


def breakdown(
    values_by_sample: Mapping[str, ArrayLike | Sequence[Any]],
    keys: Mapping[str, Sequence[Any]],
    *,
    min_count: int = 20,
) -> dict[str, Any]:
    """Group per-sample errors by one or more keys (age band, gender, ethnic group...).

    Args:
        values_by_sample: per-sample values, any of ``"abs_error"`` (absolute age
            error in years; NaN where unknown) and ``"gender_correct"`` (1/0/NaN
            whether the gender prediction is right).
        keys: per-sample group labels by key name, e.g. ``{"age_band": [...],
            "gender": [...], "group": [...]}``. Groups are the combinations of
            the keys' values that occur; a sample with ``None`` (or ``""``) for
            any key is left out.
        min_count: groups with fewer valid values than this are reported but
            left out of the worst group and the spreads (too noisy to rank).

    Returns:
        ``{"keys", "min_count", "groups": [{"name", "key", "count", "n_age",
        "mae", "n_gender", "gender_accuracy"}, ...], "worst_mae",
        "worst_gender_accuracy", "mae_spread", "gender_accuracy_spread",
        "n_ranked_mae", "n_ranked_gender"}``. ``name`` joins the key values with
        ``/``; ``worst_*`` is the ranked group with the highest MAE / lowest
        gender accuracy (None if no group is ranked); ``*_spread`` is max - min
        over ranked groups (NaN if none).
    """
    unknown = set(values_by_sample) - set(_VALUE_NAMES)
    if unknown:
        raise InputError(
            f"breakdown: unknown value names {sorted(unknown)}; use {sorted(_VALUE_NAMES)}"
        )
    if not keys:
        raise InputError("breakdown needs at least one key, e.g. {'gender': [...]}")
    key_names = list(keys)
    columns = {k: list(v) for k, v in keys.items()}
    values = {k: _floats(v, k) for k, v in values_by_sample.items()}
    n = _same_length(**{f"keys[{k!r}]": np.empty(len(v)) for k, v in columns.items()},
                     **values)

    members: dict[tuple[str, ...], list[int]] = {}
    for i in range(n):
        labels = [columns[k][i] for k in key_names]
        if any(v is None or v == "" or (isinstance(v, float) and np.isnan(v)) for v in labels):
            continue
        members.setdefault(tuple(str(v) for v in labels), []).append(i)

    groups: list[dict[str, Any]] = []
    for key in sorted(members):
        idx = np.asarray(members[key], dtype=np.int64)
        row: dict[str, Any] = {
            "name": "/".join(key),
            "key": dict(zip(key_names, key)),
            "count": int(idx.size),
        }
        for src, out in _VALUE_NAMES.items():
            v = values[src][idx] if src in values else np.zeros(0)
            v = v[np.isfinite(v)]
            row["n_age" if src == "abs_error" else "n_gender"] = int(v.size)
            row[out] = _mean(v)
        groups.append(row)

    def ranked(metric: str, count: str) -> list[dict[str, Any]]:
        return [g for g in groups if g[count] >= min_count and np.isfinite(g[metric])]

    by_mae, by_gender = ranked("mae", "n_age"), ranked("gender_accuracy", "n_gender")
    worst_mae = max(by_mae, key=lambda g: g["mae"]) if by_mae else None
    worst_gender = min(by_gender, key=lambda g: g["gender_accuracy"]) if by_gender else None
    return {
        "keys": key_names,
        "min_count": int(min_count),
        "groups": groups,
        "worst_mae": worst_mae,
        "worst_gender_accuracy": worst_gender,
        "mae_spread": (
            max(g["mae"] for g in by_mae) - min(g["mae"] for g in by_mae)
            if by_mae else float("nan")
        ),
        "gender_accuracy_spread": (
            max(g["gender_accuracy"] for g in by_gender)
            - min(g["gender_accuracy"] for g in by_gender)
            if by_gender else float("nan")
        ),
        "n_ranked_mae": len(by_mae),
        "n_ranked_gender": len(by_gender),
    }
