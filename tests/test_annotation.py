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


def test_label_uses_the_one_grammar() -> None:
    import re

    from agegender.annotation import label_of
    from agegender.labels import half_up

    dist = np.zeros((1, 101))
    dist[0, 25:39] = 1 / 14  # 25..38 years
    faces = _faces().with_age(dist, years=np.array([30.5]))
    age = faces.to_dict()[0]["age"]
    assert re.fullmatch(r"1 M 80% \u00b7 31 y \(\d+-\d+\)", label_of(faces, 0)), label_of(faces, 0)
    assert label_of(faces, 0).endswith(f"({half_up(age['low'])}-{half_up(age['high'])})")


def test_a_label_at_the_image_edge_is_not_clipped() -> None:
    """A face in the top right corner: its label (a filled pill) lies wholly inside."""
    rgb = np.full((200, 300, 3), 40, np.uint8)
    faces = Faces(boxes=np.array([[250, 2, 298, 60]], np.float32), scores=np.array([0.9], np.float32),
                  landmarks=np.full((1, 5, 2), np.nan, np.float32)).with_gender(np.array([0.999]))
    out = annotate(rgb, faces, channels="RGB")
    drawn = (out != rgb).any(axis=2)
    label_rows = drawn[:, :250].any(axis=0)  # label pixels left of the box
    assert label_rows.any()  # the label moved left of the box, inside the picture
    # the pill is filled with the male colour and holds white text
    colours = {tuple(int(v) for v in px) for px in out[drawn]}
    assert (0, 90, 156) in colours and (255, 255, 255) in colours
