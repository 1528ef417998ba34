"""YuNet on a 640 px view of a larger photo finds the faces of the full resolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from agegender.detect.yunet import YuNetDetector


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_group_photo_at_640_matches_full_resolution(use_mirror: Path, photos: Path) -> None:
    image = _rgb(photos / "group_t1.jpg")  # 1280x886, six faces of 95..140 px
    small, full = YuNetDetector(max_side=640), YuNetDetector(max_side=None, first_side=None)
    assert YuNetDetector().max_side == 1280  # the default keeps small faces of big photos
    view = small.prepare(image)
    assert max(view.image.shape[:2]) <= 640 and view.scale < 0.5
    a, b = small.detect(image), full.detect(image)
    assert len(a) == len(b) == 6
    # same faces, boxes and landmarks back in full-resolution pixels. YuNet's landmarks
    # move by up to ~10% of the face between any two view sizes (1280 vs full: 5 px on
    # these ~100 px faces; 640 vs full: up to 13.5 px), so they are compared at 15% of it.
    order_a = np.argsort(a.boxes[:, 0])
    order_b = np.argsort(b.boxes[:, 0])
    np.testing.assert_allclose(a.boxes[order_a], b.boxes[order_b], atol=8)
    side = (b.boxes[order_b, 2] - b.boxes[order_b, 0])[:, None, None]
    assert np.all(np.abs(a.landmarks[order_a] - b.landmarks[order_b]) <= 0.15 * side)
