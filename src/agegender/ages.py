"""Age bins and the Adience age groups, shared by estimation, tracking and evaluation.

Every age model's output is turned into one common form: a probability
distribution over whole years ``0..100`` (:data:`AGE_BINS`). Distributions can
then be averaged (ensembles, test-time augmentation, tracking) whatever the
model, and years, intervals and groups are read off them the same way.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

#: Ages represented by the columns of an age distribution.
AGE_BINS: NDArray[np.float32] = np.arange(101, dtype=np.float32)
N_AGE_BINS = len(AGE_BINS)

#: The eight Adience age groups (inclusive bounds), as in Levi & Hassner (2015).
ADIENCE_GROUPS: tuple[tuple[int, int], ...] = (
    (0, 2),
    (4, 6),
    (8, 12),
    (15, 20),
    (25, 32),
    (38, 43),
    (48, 53),
    (60, 100),
)
ADIENCE_LABELS: tuple[str, ...] = tuple(f"{lo}-{hi}" for lo, hi in ADIENCE_GROUPS)


def nearest_group(age: float | NDArray[np.floating]) -> NDArray[np.int64]:
    """Index of the Adience group nearest to each age; a tie goes to the younger group.

    Adience's groups leave gaps (3, 7, 13-14, 21-24, 33-37, 44-47, 54-59). An
    age inside a gap goes to the group whose nearest bound is closest to it.
    """
    ages = np.atleast_1d(np.asarray(age, dtype=np.float64))
    lows = np.array([lo for lo, _ in ADIENCE_GROUPS], dtype=np.float64)
    highs = np.array([hi for _, hi in ADIENCE_GROUPS], dtype=np.float64)
    # distance from each age to each group's interval (0 inside it)
    dist = np.maximum(lows[None, :] - ages[:, None], 0) + np.maximum(ages[:, None] - highs[None, :], 0)
    return np.asarray(np.argmin(dist, axis=1), np.int64)  # the first (younger) group on ties


#: For each age bin, the Adience group it belongs to (nearest group, ties younger).
BIN_GROUP: NDArray[np.int64] = nearest_group(AGE_BINS)


def group_probabilities(dist: NDArray[np.floating]) -> NDArray[np.float32]:
    """Sum an (N, 101) age distribution into (N, 8) Adience group probabilities."""
    dist = np.asarray(dist, dtype=np.float32)
    out = np.zeros((dist.shape[0], len(ADIENCE_GROUPS)), dtype=np.float32)
    np.add.at(out.T, BIN_GROUP, dist.T)
    return out


def groups_to_distribution(group_probs: NDArray[np.floating]) -> NDArray[np.float32]:
    """Spread (N, 8) group probabilities uniformly over each group's own ages.

    The gap ages (3, 7, 13-14, ...) get no mass. Summing the result back with
    :func:`group_probabilities` gives the input.
    """
    group_probs = np.asarray(group_probs, dtype=np.float32)
    out = np.zeros((group_probs.shape[0], N_AGE_BINS), dtype=np.float32)
    for j, (lo, hi) in enumerate(ADIENCE_GROUPS):
        out[:, lo : hi + 1] = group_probs[:, j : j + 1] / (hi - lo + 1)
    return out


def expected_age(dist: NDArray[np.floating]) -> NDArray[np.float32]:
    """Expected value in years of each row of an (N, 101) distribution."""
    return (np.asarray(dist, dtype=np.float32) @ AGE_BINS).astype(np.float32)


def age_quantiles(dist: NDArray[np.floating], q: float) -> NDArray[np.float32]:
    """The q-quantile in years of each row, interpolated linearly inside a 1-year bin.

    Bin ``k`` is read as the interval ``[k - 0.5, k + 0.5]`` (clipped at 0), so a
    point mass at 30 gives an interval of 29.5..30.5 rather than a width of zero.
    """
    dist = np.asarray(dist, dtype=np.float64)
    cdf = np.cumsum(dist, axis=1)
    cdf /= np.maximum(cdf[:, -1:], 1e-12)
    idx = np.argmax(cdf >= q, axis=1)
    prev = np.where(idx > 0, cdf[np.arange(len(idx)), np.maximum(idx - 1, 0)], 0.0)
    mass = dist[np.arange(len(idx)), idx] / np.maximum(
        np.asarray(dist.sum(axis=1)), 1e-12
    )
    frac = np.where(mass > 0, (q - prev) / np.maximum(mass, 1e-12), 0.5)
    return np.asarray(np.clip(idx - 0.5 + np.clip(frac, 0, 1), 0, None), np.float32)


def gaussian_distribution(years: NDArray[np.floating], sigma: float) -> NDArray[np.float32]:
    """A discretised Gaussian over the age bins for models that regress years directly."""
    years = np.atleast_1d(np.asarray(years, dtype=np.float32))
    z = (AGE_BINS[None, :] - years[:, None]) / np.float32(sigma)
    d = np.exp(-0.5 * z * z)
    return np.asarray(d / d.sum(axis=1, keepdims=True), np.float32)
