"""Turn predictions on a labeled data set into a report: a JSON-ready dict.

:func:`build_report` scores predictions against :class:`~agegender.eval.readers.Sample`
labels with the functions of :mod:`agegender.eval.metrics`. :mod:`.render` writes it as
``report.json``, ``report.md`` and the PNG plots of :data:`PLOT_FILES`, and prints a one-screen summary.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..ages import (
    ADIENCE_GROUPS,
    ADIENCE_LABELS,
    N_AGE_BINS,
    age_quantiles,
    expected_age,
    group_probabilities,
    nearest_group,
)
from ..errors import InputError
from ..faces import INTERVAL_QUANTILES, check_min_confidence
from . import bands as B
from . import bins as AB
from . import metrics as M
from .readers import Sample

log = logging.getLogger(__name__)

__all__ = ["PLOT_FILES", "build_report"]

#: The plots :func:`~agegender.eval.render.write_report` writes (always all of them; a plot without data
#: says why instead).
PLOT_FILES: tuple[str, ...] = (
    "confusion_matrix.png",
    "mae_by_age.png",
    "reliability.png",
    "mae_by_group.png",
    "by_age_band.png",
)

NOMINAL_COVERAGE = INTERVAL_QUANTILES[1] - INTERVAL_QUANTILES[0]
ADIENCE_NOTE = (
    "Adience 8-group accuracy: exact ages were mapped to the nearest Adience group "
    "(0-2, 4-6, 8-12, 15-20, 25-32, 38-43, 48-53, 60-100), ties going to the younger "
    "group; range labels count only when they are exactly an Adience group."
)
CROSS_KEY = "age_band x gender x group"


# --------------------------------------------------------------------- JSON
def _jsonable(x: Any) -> Any:
    """A copy of ``x`` made of dict/list/str/int/float/bool/None only (NaN/inf -> None)."""
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if hasattr(x, "_asdict"):  # NamedTuple
        return _jsonable(x._asdict())
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, bool) or x is None or isinstance(x, (int, str)):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Path):
        return str(x)
    return str(x)


def _f(x: Any) -> float:
    """A float, NaN for None."""
    return float("nan") if x is None else float(x)


# --------------------------------------------------------------------- build
def _band_of(sample: Sample) -> str | None:
    """Age band of a sample's label: exact age, else the middle of its range.

    An open-ended range (upper bound 100, e.g. ``70+`` or Adience ``60-100``) is
    banded by its lower bound.
    """
    if sample.age is not None:
        return M.age_band(sample.age)
    if sample.age_range is not None:
        lo, hi = sample.age_range
        return M.age_band(lo if hi >= 100 else (lo + hi) / 2)
    return None


def _prediction_arrays(
    predictions: Sequence[Mapping[str, Any]],
) -> dict[str, NDArray[Any]]:
    """Per-sample prediction columns; everything of a face that was not found is NaN / -1."""
    n = len(predictions)
    found = np.zeros(n, dtype=bool)
    years = np.full(n, np.nan)
    low = np.full(n, np.nan)
    high = np.full(n, np.nan)
    p_male = np.full(n, np.nan)
    seconds = np.full(n, np.nan)
    group = np.full(n, -1, dtype=np.int64)
    lo_q, hi_q = INTERVAL_QUANTILES
    for i, pred in enumerate(predictions):
        if not isinstance(pred, Mapping):
            raise InputError(f"prediction {i} is a {type(pred).__name__}, expected a dict")
        seconds[i] = _f(pred.get("seconds"))
        found[i] = bool(pred.get("found", False))
        if not found[i]:
            continue
        dist = pred.get("age_dist")
        if dist is not None:
            dist = np.asarray(dist, dtype=np.float32).reshape(1, -1)
            if dist.shape[1] != N_AGE_BINS:
                raise InputError(
                    f"prediction {i}: age_dist has {dist.shape[1]} bins, expected {N_AGE_BINS}"
                    " (ages 0..100)"
                )
        years[i] = _f(pred.get("age_years"))
        if np.isnan(years[i]) and dist is not None:
            years[i] = float(expected_age(dist)[0])
        low[i], high[i] = _f(pred.get("age_low")), _f(pred.get("age_high"))
        if dist is not None and (np.isnan(low[i]) or np.isnan(high[i])):
            low[i] = float(age_quantiles(dist, lo_q)[0])
            high[i] = float(age_quantiles(dist, hi_q)[0])
        # the group the pipeline reports: given, else the nearest to the years (as the CLI),
        # else the most probable group of the distribution
        if pred.get("age_group") is not None:
            group[i] = int(pred["age_group"])
        elif np.isfinite(years[i]):
            group[i] = int(nearest_group(years[i])[0])
        elif dist is not None:
            group[i] = int(np.argmax(group_probabilities(dist)[0]))
        p_male[i] = _f(pred.get("p_male"))
    return {"found": found, "years": years, "low": low, "high": high, "p_male": p_male,
            "seconds": seconds, "group": group}


def _label_arrays(samples: Sequence[Sample]) -> dict[str, Any]:
    n = len(samples)
    age = np.array([_f(s.age) for s in samples], dtype=np.float64).reshape(n)
    ranges = np.array(
        [s.age_range if s.age_range is not None else (np.nan, np.nan) for s in samples],
        dtype=np.float64,
    ).reshape(n, 2)
    male = np.array(
        [np.nan if s.gender is None else float(s.gender == "male") for s in samples]
    ).reshape(n)
    group = np.full(n, -1, dtype=np.int64)
    from_age = np.isfinite(age)
    if from_age.any():
        group[from_age] = nearest_group(age[from_age])
    adience_index = {g: i for i, g in enumerate(ADIENCE_GROUPS)}
    from_range = np.zeros(n, dtype=bool)
    for i, s in enumerate(samples):
        if not from_age[i] and s.age_range is not None and s.age_range in adience_index:
            group[i] = adience_index[s.age_range]
            from_range[i] = True
    return {
        "age": age, "ranges": ranges, "male": male, "group": group,
        "group_from_age": from_age, "group_from_range": from_range,
        "band": [_band_of(s) for s in samples],
        "gender": [s.gender for s in samples],
        "ethnic": [s.group for s in samples],
    }


def build_report(
    predictions: Sequence[Mapping[str, Any]],
    samples: Sequence[Sample],
    *,
    meta: Mapping[str, Any],
    min_group_count: int = 20,
    ece_bins: int = 10,
    gender_min_confidence: float | None = None,
) -> dict[str, Any]:
    """Score predictions against labels; return a JSON-serializable report.

    Args:
        predictions: one dict per sample, aligned with ``samples``: ``found``
            (bool), ``age_years``, ``age_low``, ``age_high`` (years or None),
            ``age_dist`` (101 probabilities or None), ``age_group`` (the Adience group index
            the pipeline reported; default: nearest to the years), ``p_male`` (or None) and
            ``seconds`` (time spent on the sample). Missing years / interval are
            derived from ``age_dist`` when it is given.
        samples: the labels (see :mod:`agegender.eval.readers`).
        meta: free-form facts to carry into the report (model, data set, split...).
        min_group_count: minimum samples for a breakdown group to be ranked.
        ece_bins: number of confidence bins for ECE and the reliability table.
        gender_min_confidence: as ``--gender-min-confidence``: faces whose perceived
            gender is below it count as not answered; ``gender`` (and each age band) then
            also gives the share answered and the accuracy on the answered.

    Returns:
        A dict with ``meta``, ``n_samples``, ``detection``, and when their labels
        exist ``age`` (MAE, CS@5), ``adience`` (8-group exact / one-off accuracy and
        confusion matrix), ``range`` (accuracy on range labels), ``gender``
        (accuracy, ECE, reliability table), ``interval`` (coverage of the
        10th..90th percentile interval vs 0.8), ``age_bands`` (per ten-year band
        of the true age: MAE, interval coverage, gender accuracy and ECE),
        ``gender_risk_coverage`` (share answered and accuracy at each confidence
        threshold, all faces and ages 0-9), ``breakdown`` (by age band,
        gender, ethnic group and their combination), ``speed``; ``skipped``
        gives the reason for each metric left out, and ``notes`` how figures were
        computed. Age and gender figures are over the faces that were found; a
        face that was not found counts only in ``detection``. NaN becomes None.

    Raises:
        InputError: predictions and samples differ in length, or a prediction is malformed.
    """
    if gender_min_confidence is not None:
        try:
            gender_min_confidence = check_min_confidence(gender_min_confidence)
        except ValueError as e:
            raise InputError(str(e)) from None
    if len(predictions) != len(samples):
        raise InputError(
            f"got {len(predictions)} predictions for {len(samples)} samples; pass one "
            f"prediction dict per sample, in the same order"
        )
    P, L = _prediction_arrays(predictions), _label_arrays(samples)
    n = len(samples)
    found = P["found"]
    notes: list[str] = [ADIENCE_NOTE]
    skipped: dict[str, str] = {}
    report: dict[str, Any] = {"meta": dict(meta), "n_samples": n}

    n_found = int(found.sum())
    report["detection"] = {
        "n": n, "found": n_found, "rate": n_found / n if n else float("nan"),
    }
    notes.append(
        "Age and gender figures are over the faces that were found; "
        f"{n - n_found} of {n} sample(s) had no face found and count only in the detection rate."
    )

    # ---- exact ages
    has_age = np.isfinite(L["age"])
    if has_age.any():
        valid = has_age & np.isfinite(P["years"])
        report["age"] = {
            "n_labeled": int(has_age.sum()),
            "n": int(valid.sum()),
            "mae": M.mae(P["years"], L["age"]),
            "cs5": M.cs_at(P["years"], L["age"], k=5),
        }
    else:
        skipped["age"] = "no sample has an exact age label"

    # ---- Adience groups
    has_group = L["group"] >= 0
    if has_group.any():
        valid = has_group & (P["group"] >= 0)
        exact, one_off = M.adience_accuracy(P["group"], L["group"])
        report["adience"] = {
            "n_labeled": int(has_group.sum()),
            "n": int(valid.sum()),
            "n_from_exact_ages": int((valid & L["group_from_age"]).sum()),
            "n_from_ranges": int((valid & L["group_from_range"]).sum()),
            "exact": exact,
            "one_off": one_off,
            "labels": list(ADIENCE_LABELS),
            "confusion_matrix": M.confusion_matrix(P["group"], L["group"], len(ADIENCE_GROUPS)),
            "confusion_axes": "rows: true group, columns: predicted group",
        }
        other = int((np.isfinite(L["ranges"]).all(axis=1) & ~has_group).sum())
        if other:
            notes.append(
                f"{other} sample(s) with a range label that is not an Adience group are "
                "left out of the Adience 8-group figures."
            )
    else:
        skipped["adience"] = "no exact age and no range label equal to an Adience group"

    # ---- range labels
    has_range = np.isfinite(L["ranges"]).all(axis=1)
    if has_range.any():
        report["range"] = {
            "n_labeled": int(has_range.sum()),
            "n": int((has_range & np.isfinite(P["years"])).sum()),
            "accuracy": M.range_accuracy(P["years"], L["ranges"]),
        }
        notes.append(
            "Range accuracy: the predicted age, rounded to the nearest year, lies in the "
            "inclusive label range."
        )
        bins = AB.match_bins(L["ranges"])
        if bins is not None:
            report["age_bins"] = AB.bins_section(P["years"], L["ranges"], P["p_male"], L["male"],
                                                 bins, ece_bins=ece_bins)
    else:
        skipped["range"] = "no sample has an age range label"

    # ---- gender
    has_gender = np.isfinite(L["male"])
    if has_gender.any():
        table = M.reliability_table(P["p_male"], L["male"], bins=ece_bins)
        report["gender"] = {
            "n_labeled": int(has_gender.sum()),
            "n": int((has_gender & np.isfinite(P["p_male"])).sum()),
            "accuracy": M.gender_accuracy(P["p_male"], L["male"]),
            "ece": M.expected_calibration_error(P["p_male"], L["male"], bins=ece_bins),
            "bins": ece_bins,
            "reliability": [b._asdict() for b in table],
        }
        if gender_min_confidence is not None:
            report["gender"].update(
                B.answered_figures(P["p_male"], L["male"], gender_min_confidence)
            )
        report["gender_risk_coverage"] = B.risk_section(P["p_male"], L["male"], L["band"])
        notes.append(
            "Gender: predicted male when p_male >= 0.5; ECE compares the confidence of the "
            f"predicted label, max(p, 1-p), with its accuracy over {ece_bins} equal bins of "
            "0.5..1. Risk-coverage: at a threshold P a face is answered when max(p, 1-p) "
            ">= P (as --gender-min-confidence P decides); accuracy is over the answered."
        )
    else:
        skipped["gender"] = "no sample has a gender label"

    # ---- interval
    has_interval = np.isfinite(P["low"]) & np.isfinite(P["high"])
    if has_age.any() and has_interval.any():
        valid = has_age & has_interval
        report["interval"] = {
            "n": int(valid.sum()),
            "coverage": M.interval_coverage(P["low"], P["high"], L["age"]),
            "nominal": NOMINAL_COVERAGE,
            "mean_width": float(np.mean(P["high"][valid] - P["low"][valid]))
            if valid.any() else float("nan"),
        }
    else:
        skipped["interval"] = (
            "no exact age labels" if not has_age.any() else "no prediction has an age interval"
        )

    # ---- breakdown
    abs_error = np.abs(P["years"] - L["age"])  # NaN where either is missing
    gender_correct = np.where(
        np.isfinite(P["p_male"]) & has_gender,
        ((P["p_male"] >= 0.5) == (L["male"] >= 0.5)).astype(np.float64),
        np.nan,
    )
    if has_age.any() or has_gender.any():
        values = {"abs_error": abs_error, "gender_correct": gender_correct}
        dims = {"age_band": L["band"], "gender": L["gender"], "group": L["ethnic"]}
        present = {k: v for k, v in dims.items() if any(x is not None for x in v)}
        bd: dict[str, Any] = {
            k: M.breakdown(values, {k: v}, min_count=min_group_count) for k, v in present.items()
        }
        if set(present) == set(dims):
            bd[CROSS_KEY] = M.breakdown(values, dims, min_count=min_group_count)
        report["breakdown"] = bd
        report["age_bands"] = B.band_section(
            L["band"], ece_bins=ece_bins, min_confidence=gender_min_confidence,
            pred_years=P["years"], true_age=L["age"], low=P["low"], high=P["high"],
            p_male=P["p_male"], true_is_male=L["male"],
        )
        notes.append(
            "Breakdown: age bands are decades of the label age, 0-9 to 70-79, then 80+ (a "
            "range label is banded by its middle, an open range such as 70+ by its lower "
            "bound); worst groups and spreads count only groups with at least "
            f"{min_group_count} valid samples. Per age band, gender ECE needs at least "
            f"{B.MIN_ECE_COUNT} gender-labeled faces."
        )
    else:
        skipped["breakdown"] = "no age or gender labels"

    # ---- speed
    timed = np.isfinite(P["seconds"])
    total = float(P["seconds"][timed].sum())
    if timed.any():
        report["speed"] = {
            "n": int(timed.sum()),
            "total_seconds": total,
            "seconds_per_face": total / int(timed.sum()),
            "faces_per_second": int(timed.sum()) / total if total > 0 else float("nan"),
        }
    else:
        skipped["speed"] = "no prediction has a time in seconds"

    report["skipped"] = skipped
    report["notes"] = notes
    return _jsonable(report)
