"""Figures per ten-year band of true age, and perceived gender's risk-coverage (numpy only).

* :func:`band_table`: per age band, age MAE, the 80% interval's coverage, gender accuracy
  and gender ECE (only where the band has enough gender-labeled faces to bin).
* :func:`risk_coverage`: for confidence thresholds ``P``, the share of faces whose more
  likely perceived gender reaches ``P`` (answered) and the accuracy on those: what
  ``--gender-min-confidence P`` trades.

Inputs follow :mod:`agegender.eval.metrics`: NaN means missing, and a figure over no
sample is NaN.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import InputError
from ..faces import gender_answered
from . import metrics as M

log = logging.getLogger(__name__)

__all__ = [
    "MIN_ECE_COUNT",
    "RISK_THRESHOLDS",
    "answered_figures",
    "band_section",
    "band_table",
    "risk_coverage",
    "risk_section",
]

#: Thresholds of the risk-coverage table.
RISK_THRESHOLDS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
#: Fewest gender-labeled faces a band needs for its gender ECE (fewer: ``too_few``).
MIN_ECE_COUNT = 100


def _mean(x: NDArray[Any]) -> float:
    return float(np.mean(x)) if x.size else float("nan")


def _answered(p_male: NDArray[np.float64], ok: NDArray[np.bool_], threshold: float) -> NDArray[np.bool_]:
    """Answered at ``threshold`` (as :meth:`~agegender.faces.Faces.to_dict` decides), where ``ok``."""
    out = np.zeros(p_male.shape, dtype=bool)
    out[ok] = gender_answered(np.clip(p_male[ok], 0.0, 1.0), threshold)
    return out


def _gender_valid(p_male: ArrayLike, true_is_male: ArrayLike) -> tuple[
    NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]
]:
    p, t = M._floats(p_male, "p_male"), M._gender_truth(true_is_male)
    M._same_length(p_male=p, true_is_male=t)
    ok = np.isfinite(p) & np.isfinite(t)
    correct = np.where(ok, ((p >= 0.5) == (t >= 0.5)).astype(np.float64), np.nan)
    return p, t, ok, correct


def risk_coverage(
    p_male: ArrayLike,
    true_is_male: ArrayLike,
    thresholds: Sequence[float] = RISK_THRESHOLDS,
) -> list[dict[str, Any]]:
    """Accuracy against the share of faces answered, one row per threshold.

    A face is answered at ``P`` when ``max(p, 1 - p) >= P`` (its probability rounded to
    4 decimals, as reported), i.e. when ``--gender-min-confidence P`` gives it a label.
    Faces without a gender label or a prediction are left out.

    Returns:
        ``[{"threshold", "n", "n_answered", "coverage", "accuracy"}, ...]``: ``n`` faces
        with a label and a prediction, ``coverage = n_answered / n`` and ``accuracy``
        the share right among the answered (NaN if none).
    """
    p, _, ok, correct = _gender_valid(p_male, true_is_male)
    n = int(ok.sum())
    rows = []
    for th in thresholds:
        if not 0.5 <= float(th) <= 1.0:
            raise InputError(f"risk_coverage: thresholds must be within 0.5..1, got {th}")
        ans = _answered(p, ok, float(th))
        rows.append({
            "threshold": float(th),
            "n": n,
            "n_answered": int(ans.sum()),
            "coverage": int(ans.sum()) / n if n else float("nan"),
            "accuracy": _mean(correct[ans]),
        })
    return rows


def band_table(
    bands: Sequence[str | None],
    *,
    pred_years: ArrayLike,
    true_age: ArrayLike,
    low: ArrayLike,
    high: ArrayLike,
    p_male: ArrayLike,
    true_is_male: ArrayLike,
    ece_bins: int = 10,
    min_ece_count: int = MIN_ECE_COUNT,
    min_confidence: float | None = None,
) -> list[dict[str, Any]]:
    """One row per age band present, in :data:`~agegender.eval.metrics.AGE_BAND_LABELS` order.

    Args:
        bands: each sample's band of its *true* age (None: left out).
        pred_years, true_age: predicted and true age (NaN where missing).
        low, high: the predicted 80% interval.
        p_male, true_is_male: perceived-gender probability and truth (NaN where missing).
        ece_bins: bins of the ECE, as the overall one.
        min_ece_count: a band with fewer gender-labeled faces gets ``gender_ece`` None and
            ``gender_ece_too_few`` True.
        min_confidence: also report, per band, the share answered at this
            ``--gender-min-confidence`` and the accuracy on the answered.

    Returns:
        ``[{"band", "count", "n_age", "mae", "n_interval", "coverage", "n_gender",
        "gender_accuracy", "gender_ece", "gender_ece_too_few"[, "gender_answered",
        "gender_accuracy_answered"]}, ...]``.
    """
    years, age = M._floats(pred_years, "pred_years"), M._floats(true_age, "true_age")
    lo, hi = M._floats(low, "low"), M._floats(high, "high")
    p, t, g_ok, correct = _gender_valid(p_male, true_is_male)
    band_list = list(bands)
    M._same_length(bands=np.empty(len(band_list)), pred_years=years, true_age=age, low=lo,
                   high=hi, p_male=p)
    band_arr = np.array([b if b else "" for b in band_list], dtype=object)
    rows = []
    for name in M.AGE_BAND_LABELS:
        sel = band_arr == name
        if not sel.any():
            continue
        a_ok = sel & np.isfinite(years) & np.isfinite(age)
        i_ok = sel & np.isfinite(lo) & np.isfinite(hi) & np.isfinite(age)
        gs = sel & g_ok
        n_gender = int(gs.sum())
        enough = n_gender >= min_ece_count
        row: dict[str, Any] = {
            "band": name,
            "count": int(sel.sum()),
            "n_age": int(a_ok.sum()),
            "mae": _mean(np.abs(years[a_ok] - age[a_ok])),
            "n_interval": int(i_ok.sum()),
            "coverage": _mean((age[i_ok] >= lo[i_ok]) & (age[i_ok] <= hi[i_ok])),
            "n_gender": n_gender,
            "gender_accuracy": _mean(correct[gs]),
            "gender_ece": (
                M.expected_calibration_error(p[gs], t[gs], bins=ece_bins) if enough else None
            ),
            "gender_ece_too_few": not enough,
        }
        if min_confidence is not None:
            ans = _answered(p, gs, min_confidence)
            row["gender_answered"] = int(ans.sum()) / n_gender if n_gender else float("nan")
            row["gender_accuracy_answered"] = _mean(correct[ans])
        rows.append(row)
    return rows


def band_section(
    bands: Sequence[str | None], *, ece_bins: int, min_confidence: float | None,
    **columns: ArrayLike,
) -> dict[str, Any]:
    """The report's ``age_bands`` section: :func:`band_table` and how it was made."""
    return {
        "ece_bins": int(ece_bins),
        "min_ece_count": MIN_ECE_COUNT,
        "rows": band_table(bands, ece_bins=ece_bins, min_confidence=min_confidence, **columns),  # type: ignore[arg-type]
    }


def risk_section(
    p_male: ArrayLike, true_is_male: ArrayLike, bands: Sequence[str | None]
) -> dict[str, Any]:
    """The report's ``gender_risk_coverage`` section: all faces, and the 0-9 band when present."""
    p, t = M._floats(p_male, "p_male"), M._gender_truth(true_is_male)
    out: dict[str, Any] = {"thresholds": list(RISK_THRESHOLDS),
                           "rows": {"all": risk_coverage(p, t)}}
    young = np.array([b == "0-9" for b in bands], dtype=bool)
    if (young & np.isfinite(p) & np.isfinite(t)).any():
        out["rows"]["0-9"] = risk_coverage(p[young], t[young])
    return out


def answered_figures(p_male: ArrayLike, true_is_male: ArrayLike, min_confidence: float) -> dict[str, Any]:
    """With ``--gender-min-confidence``: the share of faces answered and the accuracy on them."""
    row = risk_coverage(p_male, true_is_male, (min_confidence,))[0]
    return {"min_confidence": float(min_confidence), "n_answered": row["n_answered"],
            "answered": row["coverage"], "accuracy_answered": row["accuracy"]}
