"""Age-bin figures for data sets labeled by bins (FairFace's nine: 0-2 ... 70+).

The predicted bin is the one holding the apparent age the pipeline reports (its years,
rounded to the nearest whole year); ``exact`` counts the true bin, ``one_off`` the true
bin or a neighbour. Per bin: the count, exact and one-off accuracy and perceived-gender
accuracy and ECE (children's perceived gender is where every system is weakest, so it is
reported bin by bin).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import metrics as M

#: FairFace's age bins (the last one, "more than 70", read as 70-100).
FAIRFACE_BINS: tuple[tuple[int, int], ...] = (
    (0, 2), (3, 9), (10, 19), (20, 29), (30, 39), (40, 49), (50, 59), (60, 69), (70, 100),
)


def bin_labels(bins: tuple[tuple[int, int], ...]) -> list[str]:
    return [f"{lo}-{hi}" if hi < 100 else f"{lo}+" for lo, hi in bins]


def match_bins(ranges: NDArray[np.float64]) -> tuple[tuple[int, int], ...] | None:
    """The known bin set that every finite range label belongs to (None if none does)."""
    ok = np.isfinite(ranges).all(axis=1)
    if not ok.any():
        return None
    known = {(int(a), int(b)) for a, b in ranges[ok]}
    return FAIRFACE_BINS if known <= set(FAIRFACE_BINS) else None


def bin_index(years: NDArray[np.float64], bins: tuple[tuple[int, int], ...]) -> NDArray[np.int64]:
    """The bin of each (rounded) age; -1 where the age is NaN."""
    out = np.full(len(years), -1, np.int64)
    ok = np.isfinite(years)
    r = np.clip(np.floor(years[ok] + 0.5), 0, 100)
    lows = np.array([lo for lo, _ in bins])
    out[ok] = np.searchsorted(lows, r, side="right") - 1
    return out


def bins_section(pred_years: NDArray[np.float64], ranges: NDArray[np.float64],
                 p_male: NDArray[np.float64], true_male: NDArray[np.float64],
                 bins: tuple[tuple[int, int], ...], ece_bins: int = 10,
                 min_ece_count: int = 50) -> dict[str, Any]:
    """Exact and one-off bin accuracy, the confusion matrix, and per-bin rows."""
    lookup = {b: i for i, b in enumerate(bins)}
    t = np.array([lookup.get((int(a), int(b)), -1) if np.isfinite(a) and np.isfinite(b) else -1
                  for a, b in ranges], np.int64)
    p = bin_index(pred_years, bins)
    valid = (t >= 0) & (p >= 0)
    exact, one_off = M.adience_accuracy(np.where(valid, p, -1), np.where(valid, t, -1))
    rows = []
    for i, label in enumerate(bin_labels(bins)):
        m = valid & (t == i)
        g = (t == i) & np.isfinite(p_male) & np.isfinite(true_male)
        row: dict[str, Any] = {
            "bin": label, "n": int(m.sum()),
            "exact": float((p[m] == i).mean()) if m.any() else float("nan"),
            "one_off": float((np.abs(p[m] - i) <= 1).mean()) if m.any() else float("nan"),
            "n_gender": int(g.sum()),
            "gender_accuracy": M.gender_accuracy(p_male[g], true_male[g]) if g.any() else float("nan"),
            "gender_ece": (M.expected_calibration_error(p_male[g], true_male[g], bins=ece_bins)
                           if g.sum() >= min_ece_count else float("nan")),
        }
        rows.append(row)
    return {
        "n": int(valid.sum()), "exact": exact, "one_off": one_off,
        "labels": bin_labels(bins), "per_bin": rows,
        "confusion_matrix": M.confusion_matrix(np.where(valid, p, -1), np.where(valid, t, -1),
                                               len(bins)),
        "confusion_axes": "rows: true bin, columns: predicted bin",
    }
