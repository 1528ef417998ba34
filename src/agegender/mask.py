"""Background removal: keep the face region of each chip, fill the rest with the chip's mean.

The face region is an ellipse in chip pixels. With landmarks it is fitted to the five
points (eyes, nose tip, mouth corners): centred a little below the eyes, as wide as
2.2 eye distances and tall enough to hold the forehead and the chin. Without landmarks
(box crops, ``--crops``) it is the ellipse inscribed in the face box. Its edge is
feathered (a linear ramp over ``feather`` of its radius on each side), so no hard edge
is left for a network to react to.

Used by :class:`agegender.estimate.Estimator` when ``mask_background`` is on (the
``--mask-background`` option, or ``"mask_background": true`` in a card's ``crop``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .faces import Faces

#: Half-width of the ellipse in eye distances; half-height and centre offset in
#: eye-to-mouth distances (centre below the eyes' midpoint). Face proportions: the face
#: is about 2.2 eye distances wide; the chin is about 1 eye-to-mouth distance below the
#: mouth and the hairline about 1.2 above the eyes.
HALF_WIDTH_EYES = 1.1
HALF_HEIGHT_EYE_MOUTH = 1.65
CENTRE_BELOW_EYES = 0.45
FEATHER = 0.12


def _apply(m: NDArray[np.float64], pts: NDArray[np.float64]) -> NDArray[np.float64]:
    """Points (N, K, 2) through transforms (N, 2, 3)."""
    return np.einsum("nij,nkj->nki", m[:, :, :2], pts) + m[:, None, :, 2]


def face_ellipses(faces: Faces, mats: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each face's ellipse in its chip, as (N, 5): centre x, y, half-axes a, b, angle (rad).

    ``mats`` are the image-to-chip transforms (N, 2, 3) the chips were cut with.
    """
    n = len(faces)
    out = np.zeros((n, 5))
    if n == 0:
        return out
    b = np.asarray(faces.boxes, np.float64)
    corners = np.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], axis=1)
    c = _apply(mats, corners)
    # the inscribed ellipse of the box as it lands in the chip (boxes stay axis-aligned
    # under box crops; under an alignment they rotate, which the angle follows)
    out[:, 0:2] = c.mean(axis=1)
    out[:, 2] = np.linalg.norm(c[:, 1] - c[:, 0], axis=1) / 2
    out[:, 3] = np.linalg.norm(c[:, 3] - c[:, 0], axis=1) / 2
    out[:, 4] = np.arctan2(c[:, 1, 1] - c[:, 0, 1], c[:, 1, 0] - c[:, 0, 0])
    lms = np.asarray(faces.landmarks, np.float64)
    ok = ~np.isnan(lms).any(axis=(1, 2))
    if ok.any():
        p = _apply(mats[ok], lms[ok])
        eyes = (p[:, 0] + p[:, 1]) / 2
        mouth = (p[:, 3] + p[:, 4]) / 2
        across = p[:, 1] - p[:, 0]
        d_eyes = np.maximum(np.linalg.norm(across, axis=1), 1e-6)
        u = across / d_eyes[:, None]
        v = np.stack([-u[:, 1], u[:, 0]], axis=1)  # perpendicular, pointing down the face
        d_mouth = np.abs(np.einsum("ni,ni->n", mouth - eyes, v))
        d_mouth = np.maximum(d_mouth, 0.5 * d_eyes)
        out[ok, 0:2] = eyes + (CENTRE_BELOW_EYES * d_mouth)[:, None] * v
        out[ok, 2] = HALF_WIDTH_EYES * d_eyes
        out[ok, 3] = HALF_HEIGHT_EYE_MOUTH * d_mouth
        out[ok, 4] = np.arctan2(u[:, 1], u[:, 0])
    return out


def ellipse_alpha(
    size: tuple[int, int], ellipses: NDArray[np.float64], feather: float = FEATHER
) -> NDArray[np.float32]:
    """Weights (N, h, w) in 0..1: 1 inside each ellipse, 0 outside, a linear ramp over
    ``feather`` of the radius on either side of its edge."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    cx, cy, a, b, ang = (ellipses[:, i, None, None] for i in range(5))
    dx, dy = xs[None] - cx, ys[None] - cy
    cos, sin = np.cos(ang), np.sin(ang)
    along = (dx * cos + dy * sin) / np.maximum(a, 1e-6)
    down = (-dx * sin + dy * cos) / np.maximum(b, 1e-6)
    r = np.sqrt(along**2 + down**2)
    f = max(float(feather), 1e-6)
    return np.clip((1.0 + f - r) / (2 * f), 0.0, 1.0).astype(np.float32)


def mask_chips(
    chips: NDArray[np.uint8], ellipses: NDArray[np.float64], feather: float = FEATHER
) -> NDArray[np.uint8]:
    """New chips with everything outside each face ellipse faded to the chip's mean colour."""
    if len(chips) == 0:
        return chips.copy()
    h, w = chips.shape[1:3]
    alpha = ellipse_alpha((w, h), ellipses, feather)[..., None]
    x = chips.astype(np.float32)
    mean = x.mean(axis=(1, 2), keepdims=True)
    return np.clip(np.rint(alpha * x + (1.0 - alpha) * mean), 0, 255).astype(np.uint8)
