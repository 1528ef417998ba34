"""Constant-velocity Kalman filter on face boxes: the motion model of :mod:`.tracker`.

Each track carries a constant-velocity Kalman filter on ``(cx, cy, w, h)``
(state: those four and their velocities, in pixels and pixels per frame). Noise
is proportional to the box height, as in SORT/DeepSORT/ByteTrack, so big and
small faces are treated alike. Time steps are whole frames and may be longer
than one (``dt`` frames), which is how "detect every K frames, track in
between" works: the filter predicts over the gap in one step.

Boxes are ``(x1, y1, x2, y2)``; :func:`_box_to_z` and :func:`_z_to_box` convert
between them and the measurement ``z = (cx, cy, w, h)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

# Kalman noise, relative to the box height (the values of SORT/DeepSORT/ByteTrack).
_STD_POS = 1.0 / 20.0
_STD_VEL = 1.0 / 160.0
_NDIM = 4


# --------------------------------------------------------------------------- box state
def _box_to_z(box: NDArray[np.floating]) -> NDArray[np.float64]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, 1e-3), max(y2 - y1, 1e-3)])


def _z_to_box(z: NDArray[np.floating]) -> NDArray[np.float64]:
    cx, cy = float(z[0]), float(z[1])
    w, h = max(float(z[2]), 1.0), max(float(z[3]), 1.0)
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


# --------------------------------------------------------------------------- filter
def _kf_init(z: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    h = max(z[3], 1.0)
    mean = np.concatenate([z, np.zeros(_NDIM)])
    std = np.array([2 * _STD_POS * h] * _NDIM + [10 * _STD_VEL * h] * _NDIM)
    return mean, np.diag(std**2)


def _kf_predict(
    mean: NDArray[np.float64], cov: NDArray[np.float64], dt: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if dt <= 0:
        return mean, cov
    f = np.eye(2 * _NDIM)
    f[:_NDIM, _NDIM:] = dt * np.eye(_NDIM)
    h = max(mean[3], 1.0)
    q = np.diag(np.array([_STD_POS * h] * _NDIM + [_STD_VEL * h] * _NDIM) ** 2) * dt
    return f @ mean, f @ cov @ f.T + q


def _kf_update(
    mean: NDArray[np.float64], cov: NDArray[np.float64], z: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    h_mat = np.eye(_NDIM, 2 * _NDIM)
    r = np.diag(np.full(_NDIM, (_STD_POS * max(mean[3], 1.0)) ** 2))
    s = h_mat @ cov @ h_mat.T + r
    gain = np.linalg.solve(s, h_mat @ cov).T  # cov H^T S^-1 (S and cov symmetric)
    mean = mean + gain @ (z - h_mat @ mean)
    cov = cov - gain @ s @ gain.T
    return mean, (cov + cov.T) / 2
