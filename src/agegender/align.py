"""Face chips for each model: a similarity transform from the 5 landmarks to the
template of the model's card, or a square crop around the box with a margin.

Everything is batched over the faces of an image: transforms are solved at once
(Umeyama, in numpy), then each chip is one ``cv2.warpAffine``. When a chip is
much smaller than the face (e.g. a 200 px face into a 32 px chip) the warp is
done at up to 4x the chip size and area-averaged down, which avoids aliasing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .faces import Faces

if TYPE_CHECKING:
    from .models.card import Card


def similarity_batch(src: NDArray[np.floating], dst: NDArray[np.floating]) -> NDArray[np.float64]:
    """Least-squares similarity transforms (N, 2, 3) mapping each src (N, K, 2) onto dst (K, 2)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    ms = src.mean(axis=1, keepdims=True)
    md = dst.mean(axis=0, keepdims=True)
    s = src - ms
    d = dst[None] - md[None]
    cov = np.einsum("nki,nkj->nij", d, s) / src.shape[1]
    u, sig, vt = np.linalg.svd(cov)
    det = np.linalg.det(u) * np.linalg.det(vt)
    fix = np.ones((len(src), 2))
    fix[det < 0, 1] = -1
    r = np.einsum("nij,nj,njk->nik", u, fix, vt)
    var = (s**2).sum(axis=(1, 2)) / src.shape[1]
    scale = (sig * fix).sum(axis=1) / np.maximum(var, 1e-12)
    m = np.zeros((len(src), 2, 3))
    m[:, :, :2] = scale[:, None, None] * r
    m[:, :, 2] = md[0][None] - np.einsum("nij,nj->ni", m[:, :, :2], ms[:, 0])
    return m


def box_transforms(boxes: NDArray[np.floating], size: tuple[int, int], margin: float) -> NDArray[np.float64]:
    """Transforms (N, 2, 3) mapping a square around each box, grown by ``margin`` of its
    side on every side, onto a chip of ``size`` (w, h)."""
    boxes = np.asarray(boxes, np.float64)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) * (1 + 2 * margin)
    side = np.maximum(side, 1.0)
    w, h = size
    m = np.zeros((len(boxes), 2, 3))
    m[:, 0, 0] = w / side
    m[:, 1, 1] = h / side
    m[:, 0, 2] = w / 2 - cx * w / side
    m[:, 1, 2] = h / 2 - cy * h / side
    return m


def chip_transforms(faces: Faces, card: Card, *, whole: bool = False) -> NDArray[np.float64]:
    """The image-to-chip transform of each face for ``card`` (landmarks if it aligns and
    they exist, else the box). ``whole`` maps each box, as is, to the whole chip: for
    images that are already face crops."""
    n = len(faces)
    if n == 0:
        return np.zeros((0, 2, 3))
    if whole:
        b = np.asarray(faces.boxes, np.float64)
        w, h = card.size
        m = np.zeros((n, 2, 3))
        m[:, 0, 0] = w / np.maximum(b[:, 2] - b[:, 0], 1)
        m[:, 1, 1] = h / np.maximum(b[:, 3] - b[:, 1], 1)
        m[:, 0, 2] = -b[:, 0] * m[:, 0, 0]
        m[:, 1, 2] = -b[:, 1] * m[:, 1, 1]
        return m
    m = box_transforms(faces.boxes, card.size, card.margin if card.crop == "box" else 0.2)
    if card.crop == "align" and card.template is not None:
        ok = ~np.isnan(faces.landmarks).any(axis=(1, 2))
        if ok.any():
            dst = np.asarray(card.template, np.float64) * np.asarray(card.size, np.float64)
            m[ok] = similarity_batch(faces.landmarks[ok], dst)
    return m


def warp_chips(
    image: NDArray[np.uint8], transforms: NDArray[np.float64], size: tuple[int, int]
) -> NDArray[np.uint8]:
    """Apply each (2, 3) transform to ``image``; returns (N, h, w, 3) uint8 chips."""
    import cv2

    w, h = size
    out = np.empty((len(transforms), h, w, 3), np.uint8)
    for i, m in enumerate(transforms):
        scale = math.sqrt(abs(np.linalg.det(m[:, :2])))
        k = int(min(4, max(1, math.ceil(1.0 / max(scale, 1e-6) / 1.5))))
        if k > 1:
            big = cv2.warpAffine(
                image, m * k, (w * k, h * k), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
            )
            out[i] = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)
        else:
            out[i] = cv2.warpAffine(
                image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
            )
    return out


def face_chips(image: NDArray[np.uint8], faces: Faces, card: Card) -> NDArray[np.uint8]:
    """RGB uint8 chips (N, h, w, 3) of every face, cut the way ``card`` asks."""
    return warp_chips(image, chip_transforms(faces, card), card.size)
