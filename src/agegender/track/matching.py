"""Association of tracks with detections: IoU and assignment (used by :mod:`.tracker`).

* :func:`iou_matrix`: IoU of every predicted track box with every detection box.
* :func:`linear_assignment`: optimal assignment (a small Hungarian algorithm in
  numpy) on a cost matrix; the tracker uses ``1 - IoU``, pairs below the
  stage's IoU gate rejected.
* :func:`greedy_assignment`: the alternative (``matcher="greedy"``) that takes
  the best-IoU pairs first instead.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError

__all__ = ["Matcher", "greedy_assignment", "iou_matrix", "linear_assignment"]

Matcher = Literal["hungarian", "greedy"]


# --------------------------------------------------------------------------- geometry
def iou_matrix(a: NDArray[np.floating], b: NDArray[np.floating]) -> NDArray[np.float64]:
    """IoU of every box in ``a`` ``(N, 4)`` with every box in ``b`` ``(M, 4)`` (x1, y1, x2, y2).

    Returns an ``(N, M)`` float64 array; boxes of zero area give IoU 0.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


# --------------------------------------------------------------------------- matching
def linear_assignment(cost: NDArray[np.floating]) -> list[tuple[int, int]]:
    """Minimum-cost assignment of rows to columns (Hungarian algorithm, O(n^2 m)).

    Works on rectangular matrices: every row of the smaller side is assigned.
    Costs must be finite (use a large value to forbid a pair and filter the
    result). Returns ``(row, col)`` pairs sorted by row.

    This is the shortest-augmenting-path form with row/column potentials
    (Kuhn-Munkres as written by e-maxx), with the inner loop over columns
    vectorised in numpy; it is meant for the tens of faces of a video frame.
    """
    c = np.asarray(cost, dtype=np.float64)
    if c.ndim != 2:
        raise InputError(f"linear_assignment needs a 2-D cost matrix, got shape {c.shape}")
    if c.size == 0:
        return []
    if not np.all(np.isfinite(c)):
        raise InputError("linear_assignment needs finite costs; use a large value to forbid pairs")
    transposed = c.shape[0] > c.shape[1]
    if transposed:
        c = c.T
    n, m = c.shape
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    p = np.zeros(m + 1, dtype=np.int64)  # p[j]: row (1-based) assigned to column j
    way = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            free = ~used[1:]
            cur = c[i0 - 1] - u[i0] - v[1:]
            better = free & (cur < minv[1:])
            minv[1:][better] = cur[better]
            way[1:][better] = j0
            cand = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(cand)) + 1
            delta = cand[j1 - 1]
            used_cols = np.nonzero(used)[0]
            u[p[used_cols]] += delta
            v[used_cols] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = int(way[j0])
            p[j0] = p[j1]
            j0 = j1
    pairs = [(int(p[j]) - 1, j - 1) for j in range(1, m + 1) if p[j] != 0]
    if transposed:
        pairs = [(col, row) for row, col in pairs]
    return sorted(pairs)


def greedy_assignment(score: NDArray[np.floating], min_score: float) -> list[tuple[int, int]]:
    """Greedy matching that takes the highest-``score`` free pair first (e.g. score = IoU).

    Pairs with ``score < min_score`` are never taken. Returns ``(row, col)``
    pairs sorted by row.
    """
    s = np.asarray(score, dtype=np.float64)
    if s.size == 0:
        return []
    order = np.argsort(-s, axis=None, kind="stable")
    rows_used: set[int] = set()
    cols_used: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for flat in order:
        r, c = divmod(int(flat), s.shape[1])
        if s[r, c] < min_score:
            break
        if r in rows_used or c in cols_used:
            continue
        rows_used.add(r)
        cols_used.add(c)
        pairs.append((r, c))
    return sorted(pairs)


def _match(iou: NDArray[np.float64], min_iou: float, matcher: Matcher) -> list[tuple[int, int]]:
    """Pairs (row, col) with IoU >= min_iou, chosen by the configured matcher."""
    if iou.size == 0:
        return []
    if matcher == "greedy":
        return greedy_assignment(iou, min_iou)
    gated = iou >= min_iou
    cost = np.where(gated, 1.0 - iou, 1e3)
    return [(r, c) for r, c in linear_assignment(cost) if gated[r, c]]
