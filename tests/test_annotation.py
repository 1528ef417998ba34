"""annotate() returns the type it was given and never changes its input."""

from __future__ import annotations

import numpy as np
from PIL import Image

from agegender import annotate
from agegender.faces import Faces


def _faces() -> Faces:
    return Faces(boxes=np.array([[10, 12, 50, 60]], np.float32), scores=np.array([0.9], np.float32),
                 landmarks=np.full((1, 5, 2), np.nan, np.float32)).with_gender(np.array([0.8]))


def test_array_in_array_out_same_channel_order() -> None:
    rgb = np.full((80, 90, 3), 40, np.uint8)
    before = rgb.copy()
    out = annotate(rgb, _faces(), channels="RGB")
    assert isinstance(out, np.ndarray) and out.shape == rgb.shape and out.dtype == np.uint8
    assert np.array_equal(rgb, before)  # the input is untouched
    assert (out != rgb).any()  # something was drawn
    bgr = annotate(rgb[..., ::-1].copy(), _faces(), channels="BGR")
    assert np.array_equal(bgr[..., ::-1], out)  # the same drawing, in the order given


def test_pil_in_pil_out_and_same_pixels_as_the_array_path() -> None:
    rgb = np.full((80, 90, 3), 40, np.uint8)
    pil = Image.fromarray(rgb)
    out = annotate(pil, _faces())
    assert isinstance(out, Image.Image) and out.size == (90, 80) and out is not pil
    assert np.array_equal(np.asarray(pil), rgb)  # the input is untouched
    assert np.array_equal(np.asarray(out), annotate(rgb, _faces(), channels="RGB"))
