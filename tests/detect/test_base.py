"""The shared view (downscale, then pad, then colour order) and the mapping back."""

from __future__ import annotations

import numpy as np
import pytest

from agegender.detect.base import BaseDetector, RawDetections, View


class Bright(BaseDetector):
    """Finds the one bright square of the view; remembers the views it was given."""

    name = "bright"

    def __init__(self, **kw: object) -> None:
        super().__init__(min_face=1, **kw)  # type: ignore[arg-type]
        self.views: list[View] = []

    def _detect_raw(self, view: View) -> RawDetections:
        self.views.append(view)
        ys, xs = np.nonzero(view.image[..., 1] > 127)
        box = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
        lms = np.repeat(box[:, None, :2], 5, axis=1)  # the top-left corner, five times
        return box, np.ones(1, np.float32), lms


def _square_image(h: int, w: int, box: tuple[int, int, int, int]) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    x1, y1, x2, y2 = box
    img[y1:y2, x1:x2] = (0, 255, 0)
    return img


@pytest.mark.parametrize("shape", [(886, 1280), (1280, 886), (480, 640), (3000, 200)])
@pytest.mark.parametrize("pad", [0.0, 0.1, 0.25])
@pytest.mark.parametrize("max_side", [None, 640, 333])
def test_view_is_at_most_max_side_and_boxes_map_back(shape, pad, max_side) -> None:
    h, w = shape
    box = (w // 4, h // 3, w // 4 + w // 5, h // 3 + h // 6)
    det = Bright(pad=pad, max_side=max_side)
    faces = det.detect(_square_image(h, w, box))
    view = det.views[-1]
    side = max(h, w)
    p = int(round(pad * max(view.image.shape[:2]) / (1 + 2 * pad)))  # roughly the border
    if max_side is None or side + 2 * int(round(pad * side)) <= max_side:
        assert view.scale == 1.0 and view.pad == int(round(pad * side))
    else:
        assert max(view.image.shape[:2]) <= max_side
        assert max(view.image.shape[:2]) >= max_side - 3  # and no smaller than it must be
        assert abs(view.pad - p) <= 1
    tol = 1.0 / view.scale + 1e-3  # one view pixel
    assert len(faces) == 1
    np.testing.assert_allclose(faces.boxes[0], box, atol=tol)
    np.testing.assert_allclose(faces.landmarks[0, 0], box[:2], atol=tol)


def test_view_is_downscaled_then_padded_in_the_detector_colours() -> None:
    class BGR(Bright):
        color = "BGR"

    img = _square_image(1000, 1000, (100, 100, 300, 300))
    img[..., 0] = 7  # red channel
    det = BGR(pad=0.1, max_side=600)
    view = det.prepare(img)
    assert view.image.shape == (600, 600, 3) and view.pad == 50
    assert view.scale == pytest.approx(0.5)
    assert view.image.flags["C_CONTIGUOUS"]
    assert np.all(view.image[:50] == 0)  # the border is black
    assert np.all(view.image[50:550, 50:550, 2] == 7)  # red is the last channel in BGR
    # within max_side: not resized, padded as before
    small = det.prepare(img[:400, :400])
    assert small.scale == 1.0 and small.pad == 40 and small.image.shape == (480, 480, 3)


def test_non_contiguous_input() -> None:
    img = _square_image(300, 400, (50, 60, 150, 160))
    a = Bright(pad=0.1, max_side=None).detect(img)
    b = Bright(pad=0.1, max_side=None).detect(img[:, ::-1])
    assert a.boxes[0, 1] == b.boxes[0, 1] and b.boxes[0, 0] == 400 - a.boxes[0, 2]
