"""Viola-Jones Haar cascades (OpenCV's XML format) evaluated with numpy, without OpenCV's
``CascadeClassifier`` (OpenCV 5's main wheels no longer have it).

It follows OpenCV 4's ``CascadeClassifier.detectMultiScale`` step by step, so the same
XML gives the same faces:

* the gray image is resized for each scale (factor 1, 1.1, 1.21, ...; the window stays
  at the cascade's size), with the integral images of pixels and squared pixels;
* windows are visited with a step of 2 pixels (1 when the scale is above 2), and, as
  OpenCV does, the next window of a row is skipped after one that failed the first stage;
* each window is normalised by its standard deviation (inner rectangle, 1 pixel in from
  the border); windows with a deviation of 10 grey levels or less are rejected;
* each stage sums the leaf values of its boosted trees (stumps or small CART trees) and
  rejects the window below its threshold (minus OpenCV's 1e-5);
* the raw windows are grouped as ``groupRectangles(minNeighbors=3, eps=0.2)`` does: the
  equivalence classes of "similar" rectangles, averaged, kept with more than 3 members,
  and small ones inside a larger, better supported one dropped.

All windows of one scale go through each stage at once (numpy gathers on the flattened
integral image); only the survivors go on, so the late, long stages see few windows.
Tilted features (used by some non-face cascades) are not supported.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError

THRESHOLD_EPS = 1e-5  # OpenCV lowers every stage threshold by this much
GROUP_EPS = 0.2


@dataclass(frozen=True)
class Stage:
    """One boosted stage: K trees of up to D nodes each (padded)."""

    threshold: float
    feature: NDArray[np.int64]  # (K, D) feature index of each node
    node_threshold: NDArray[np.float64]  # (K, D)
    left: NDArray[np.int64]  # (K, D) > 0: next node, <= 0: leaf -left
    right: NDArray[np.int64]  # (K, D)
    leaves: NDArray[np.float64]  # (K, D + 1)
    #: (K, D + 1, D): what each leaf needs of each node: 1 value below its threshold,
    #: 0 not below, -1 either (the node is not on the leaf's path)
    paths: NDArray[np.int8]


@dataclass(frozen=True)
class Cascade:
    """A parsed cascade: window size, stages and Haar features (rectangles with weights)."""

    width: int
    height: int
    stages: tuple[Stage, ...]
    rects: NDArray[np.float64]  # (F, 3, 5): x, y, w, h, weight; unused rectangles weigh 0

    @property
    def depth(self) -> int:
        return max(int(s.feature.shape[1]) for s in self.stages)


def _paths(left: NDArray[np.int64], right: NDArray[np.int64], where: str) -> NDArray[np.int8]:
    """For each tree, the node conditions on the way to each leaf (see Stage.paths)."""
    k, d = left.shape
    out = np.full((k, d + 1, d), -1, np.int8)
    for t in range(k):
        todo: list[tuple[int, dict[int, int]]] = [(0, {})]
        while todo:
            node, conds = todo.pop()
            for go, below in ((left[t, node], 1), (right[t, node], 0)):
                c = {**conds, node: below}
                if go > 0:
                    if go >= d or go in c:
                        raise ModelError(f"{where}: a tree's node {node} points to node {go}, "
                                         "which it does not have")
                    todo.append((int(go), c))
                elif -go <= d:
                    for n_, b in c.items():
                        out[t, -go, n_] = b
                else:
                    raise ModelError(f"{where}: a tree refers to leaf {-go}, which it lacks")
    return out


def _numbers(el: ET.Element | None, where: str) -> list[float]:
    if el is None or el.text is None:
        raise ModelError(f"{where}: a number list is missing")
    return [float(t) for t in el.text.split()]


def load_cascade(path: str | Path) -> Cascade:
    """Parse an OpenCV cascade XML (the format of ``cv2/data/haarcascade_*.xml``)."""
    path = Path(path)
    where = f"Haar cascade {path}"
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        raise ModelError(f"{where}: cannot read it as XML ({e})") from e
    c = root.find("cascade")
    if c is None or (c.findtext("featureType") or "").strip().upper() != "HAAR":
        raise ModelError(f"{where}: not a Haar cascade in OpenCV's format (no <cascade> with "
                         "featureType HAAR; old-format cascades are not supported)")
    width, height = int(c.findtext("width") or 0), int(c.findtext("height") or 0)
    feats = c.find("features")
    if feats is None or width < 3 or height < 3:
        raise ModelError(f"{where}: window size or features are missing")
    rects = []
    for f in feats:
        if (f.findtext("tilted") or "0").strip() not in ("", "0"):
            raise ModelError(f"{where}: tilted Haar features are not supported")
        rs = [_numbers(r, where) for r in f.find("rects") or []]
        if not 1 <= len(rs) <= 3 or any(len(r) != 5 for r in rs):
            raise ModelError(f"{where}: a feature must have 1-3 rectangles 'x y w h weight'")
        rects.append(rs + [[0.0, 0.0, 0.0, 0.0, 0.0]] * (3 - len(rs)))
    stages = []
    for st in c.find("stages") or []:
        trees = []
        for wc in st.find("weakClassifiers") or []:
            nodes = _numbers(wc.find("internalNodes"), where)
            leaves = _numbers(wc.find("leafValues"), where)
            if len(nodes) % 4 or len(leaves) != len(nodes) // 4 + 1:
                raise ModelError(f"{where}: a tree has {len(nodes)} node values and "
                                 f"{len(leaves)} leaves (expected 4 per node, nodes + 1 leaves)")
            trees.append((np.asarray(nodes).reshape(-1, 4), np.asarray(leaves)))
        if not trees:
            raise ModelError(f"{where}: a stage has no weak classifiers")
        d = max(len(n) for n, _ in trees)
        k = len(trees)
        feature = np.zeros((k, d), np.int64)
        thr = np.zeros((k, d))
        left = np.zeros((k, d), np.int64)
        right = np.zeros((k, d), np.int64)
        lv = np.zeros((k, d + 1))
        for i, (n, leaf) in enumerate(trees):
            left[i, : len(n)], right[i, : len(n)] = n[:, 0], n[:, 1]
            feature[i, : len(n)], thr[i, : len(n)] = n[:, 2], n[:, 3]
            lv[i, : len(leaf)] = leaf
        stages.append(Stage(float(st.findtext("stageThreshold") or 0) - THRESHOLD_EPS,
                            feature, thr, left, right, lv, _paths(left, right, where)))
    if not stages:
        raise ModelError(f"{where}: no stages")
    r = np.asarray(rects, np.float64)
    if len(r) == 0 or max(int(s.feature.max()) for s in stages) >= len(r):
        raise ModelError(f"{where}: a tree refers to a feature that is not defined")
    return Cascade(width, height, tuple(stages), r)


def _corners(rects: NDArray[np.float64], stride: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Each feature as 12 signed corners of its 3 rectangles in an integral image of row
    length ``stride``: flat offsets (F, 12) and coefficients (F, 12), so that its value at
    window ``p`` is ``(ii[p + offsets] * coefficients).sum()``."""
    x, y, w, h, wt = (rects[..., i] for i in range(5))
    x, y, w, h = (v.astype(np.int64) for v in (x, y, w, h))  # type: ignore[assignment]
    offs = np.stack([y * stride + x, y * stride + x + w, (y + h) * stride + x,
                     (y + h) * stride + x + w], axis=-1)  # (F, 3, 4): tl, tr, bl, br
    coef = wt[..., None] * np.array([1.0, -1.0, -1.0, 1.0])
    return offs.reshape(len(rects), 12), coef.reshape(len(rects), 12)  # type: ignore[return-value]


def _dense_values(feats: NDArray[np.int64], rects: NDArray[np.float64], s2: NDArray[np.number],
                  step: int, ny: int, nx: int) -> NDArray[np.float64]:
    """Unnormalised values (ny * nx, len(feats)) of features on the whole window grid, from
    strided views of the 2-D integral image (no gathers: for the dense first stages)."""
    out = np.zeros((ny, nx, len(feats)))
    for j, f in enumerate(feats):
        acc = out[:, :, j]
        for x, y, w, h, wt in rects[f]:
            if wt == 0:
                continue
            x, y, w, h = int(x), int(y), int(w), int(h)

            def at(r: int, c: int) -> NDArray[np.float64]:
                return s2[r : r + step * (ny - 1) + 1 : step, c : c + step * (nx - 1) + 1 : step]  # type: ignore[return-value]

            acc += wt * (at(y + h, x + w) - at(y + h, x) - at(y, x + w) + at(y, x))
    return out.reshape(ny * nx, len(feats))


def _traverse(st: Stage, vals: NDArray[np.float64]) -> NDArray[np.float64]:
    """The stage's sum of leaf values per window, from normalised node values (P, K, D).

    Every leaf's path is checked at once (trees have a few nodes): no per-window branching.
    """
    below = (vals < st.node_threshold[None]).astype(np.int8)[:, :, None, :]  # (P, K, 1, D)
    need = st.paths[None]  # (1, K, L, D)
    reached = ((need < 0) | (below == need)).all(axis=-1)  # (P, K, L)
    return np.asarray(np.einsum("pkl,kl->p", reached.astype(np.float64), st.leaves), np.float64)


def _visited(failed: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Windows OpenCV visits in each row when it skips the one after each visited window
    that failed the first stage: in a run of failed windows starting at ``a``, windows
    ``a, a+2, ...`` are visited (and the one after the run if its distance is even)."""
    ny, nx = failed.shape
    idx = np.arange(nx)[None]
    prev = np.zeros_like(failed)
    prev[:, 1:] = failed[:, :-1]
    starts = failed & ~prev
    last_start = np.maximum.accumulate(np.where(starts, idx, -1), axis=1)
    a = np.zeros((ny, nx), np.int64)
    a[:, 1:] = last_start[:, :-1]
    return np.asarray(~prev | ((idx - a) % 2 == 0), np.bool_)


#: Stages are run on the whole window grid (strided views) while more than this share of
#: the windows is still alive; after that on the survivors only (gathers).
DENSE_SHARE = 0.2


def detect_raw(cas: Cascade, gray: NDArray[np.uint8], *, scale_factor: float = 1.1,
               min_size: int = 0) -> NDArray[np.int64]:
    """Every window the cascade accepts, as (N, 4) x, y, w, h in ``gray``'s pixels."""
    import cv2

    h0, w0 = gray.shape
    ww, wh = cas.width, cas.height
    out: list[NDArray[np.int64]] = []
    area = float((ww - 2) * (wh - 2))
    norm_rect = np.array([[[1, 1, ww - 2, wh - 2, 1.0], [0] * 5, [0] * 5]], np.float64)
    factor = 1.0
    while True:
        win = (round(ww * factor), round(wh * factor))
        sw, sh = round(w0 / factor), round(h0 / factor)
        if sw - ww <= 0 or sh - wh <= 0:
            break
        if win[0] < min_size or win[1] < min_size:
            factor *= scale_factor
            continue
        img = cv2.resize(gray, (sw, sh), interpolation=cv2.INTER_LINEAR_EXACT)
        # int32 sums are exact up to 8.4 M pixels (max_side keeps images far below that)
        s2, q2 = cv2.integral2(img, sdepth=cv2.CV_32S, sqdepth=cv2.CV_64F)
        stride = sw + 1
        ii = s2.ravel()
        step = 1 if factor > 2 else 2
        ny, nx = (sh - wh) // step + 1, (sw - ww) // step + 1
        vsum = _dense_values(np.array([0]), norm_rect, s2, step, ny, nx)[:, 0]
        vsq = _dense_values(np.array([0]), norm_rect, q2, step, ny, nx)[:, 0]
        nf = area * vsq - vsum * vsum
        valid = nf > 0
        norm = np.where(valid, 1.0 / np.sqrt(np.where(valid, nf, 1.0)), 1.0)
        valid &= area * norm < 0.1  # flat windows (deviation <= 10 levels) are rejected
        offs, coef = _corners(cas.rects, stride)
        alive = valid.copy()
        for si, st in enumerate(cas.stages):
            n_alive = int(alive.sum())
            if n_alive == 0:
                break
            if si == 0 or n_alive > DENSE_SHARE * len(alive):
                uniq, inv = np.unique(st.feature, return_inverse=True)
                vals = _dense_values(uniq, cas.rects, s2, step, ny, nx)[:, inv.reshape(st.feature.shape)]
                passed = _traverse(st, vals * norm[:, None, None]) >= st.threshold
                if si == 0:
                    # OpenCV's skip: after a window that ran and failed the first stage,
                    # the next one in its row is not visited
                    alive &= _visited((valid & ~passed).reshape(ny, nx)).ravel()
                alive &= passed
                continue
            idx = np.flatnonzero(alive)
            yy, xx = np.divmod(idx, nx)
            p = (yy * step) * stride + xx * step
            o, c = offs[st.feature], coef[st.feature]  # (K, D, 12)
            vals = np.einsum("pkdc,kdc->pkd", ii[p[:, None, None, None] + o[None]], c)
            passed = _traverse(st, vals * norm[idx, None, None]) >= st.threshold
            alive[idx[~passed]] = False
        idx = np.flatnonzero(alive)
        if len(idx):
            yy, xx = np.divmod(idx, nx)
            r = np.stack([np.rint(xx * step * factor), np.rint(yy * step * factor),
                          np.full(len(idx), win[0]), np.full(len(idx), win[1])], axis=1)
            out.append(r.astype(np.int64))
        factor *= scale_factor
    return np.concatenate(out) if out else np.zeros((0, 4), np.int64)


def group_rectangles(rects: NDArray[np.int64], min_neighbors: int = 3,
                     eps: float = GROUP_EPS) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """OpenCV's ``groupRectangles``: grouped (M, 4) x, y, w, h and each one's member count."""
    n = len(rects)
    if n == 0 or min_neighbors <= 0:
        return rects.reshape(-1, 4), np.ones(n, np.int64)
    r = rects.astype(np.float64)
    x, y, w, h = (r[:, i] for i in range(4))
    delta = eps * (np.minimum(w[:, None], w[None]) + np.minimum(h[:, None], h[None])) * 0.5
    similar = (
        (np.abs(x[:, None] - x[None]) <= delta) & (np.abs(y[:, None] - y[None]) <= delta)
        & (np.abs(x[:, None] + w[:, None] - x[None] - w[None]) <= delta)
        & (np.abs(y[:, None] + h[:, None] - y[None] - h[None]) <= delta)
    )
    labels = np.arange(n)
    while True:  # connected components: propagate the smallest label
        new = np.where(similar, labels[None], n).min(axis=1)
        new = new[new]
        if np.array_equal(new, labels):
            break
        labels = new
    classes, labels = np.unique(labels, return_inverse=True)
    counts = np.bincount(labels, minlength=len(classes))
    sums = np.zeros((len(classes), 4))
    np.add.at(sums, labels, r)
    avg = np.rint(sums / counts[:, None]).astype(np.int64)
    keep = []
    for i in range(len(classes)):
        n1 = counts[i]
        if n1 <= min_neighbors:
            continue
        x1, y1, w1, h1 = avg[i]
        inside = False
        for j in range(len(classes)):
            n2 = counts[j]
            if j == i or n2 <= min_neighbors:
                continue
            x2, y2, w2, h2 = avg[j]
            dx, dy = round(w2 * eps), round(h2 * eps)
            if (x1 >= x2 - dx and y1 >= y2 - dy and x1 + w1 <= x2 + w2 + dx
                    and y1 + h1 <= y2 + h2 + dy and (n2 > max(3, n1) or n1 < 3)):
                inside = True
                break
        if not inside:
            keep.append(i)
    return avg[keep].reshape(-1, 4), counts[keep]
