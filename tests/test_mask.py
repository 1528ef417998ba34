"""Background removal (agegender.mask): the face ellipse is kept, the rest faded to the mean."""

from __future__ import annotations

import numpy as np
import pytest

from agegender.align import chip_transforms
from agegender.errors import InputError
from agegender.estimate import _views
from agegender.faces import Faces
from agegender.mask import ellipse_alpha, face_ellipses, mask_chips
from agegender.models.card import Card

CARD = {
    "input": {"size": 64, "layout": "NCHW", "channels": "RGB"},
    "crop": {"method": "box", "margin": 0.4},
    "output": {"decode": "expected_value", "ages": list(range(101))},
}


def _face(landmarks: bool) -> tuple[np.ndarray, Faces]:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (240, 240, 3), dtype=np.uint8)  # texture everywhere
    lms = np.array([[[100, 105], [140, 105], [120, 125], [104, 145], [136, 145]]], np.float32)
    faces = Faces(
        boxes=[[90, 85, 150, 165]],
        scores=[0.9],
        landmarks=lms if landmarks else np.full((1, 5, 2), np.nan, np.float32),
    )
    return image, faces


@pytest.mark.parametrize("landmarks", [True, False])
def test_mask_changes_the_outside_and_keeps_the_centre(landmarks: bool) -> None:
    image, faces = _face(landmarks)
    card = Card.parse(CARD, task="age")
    plain, _ = _views([image], [faces], card, "none")
    masked, _ = _views([image], [faces], card, "none", mask=True)
    assert plain.shape == masked.shape == (1, 64, 64, 3)
    # centre 8x8 (inside the face ellipse): untouched
    np.testing.assert_array_equal(masked[0, 28:36, 28:36], plain[0, 28:36, 28:36])
    # corners (background, outside the ellipse): the chip's mean colour, not the texture
    mean = plain[0].reshape(-1, 3).mean(axis=0)
    for corner in (masked[0, :6, :6], masked[0, -6:, -6:], masked[0, :6, -6:], masked[0, -6:, :6]):
        assert np.abs(corner.reshape(-1, 3) - mean).max() <= 1.0
    assert np.abs(plain[0, :6, :6].astype(float) - mean).max() > 30  # it was textured before
    # the feathered edge lies between the two
    alpha = ellipse_alpha((64, 64), face_ellipses(faces, chip_transforms(faces, card)))
    assert alpha.min() == 0.0 and alpha.max() == 1.0 and ((alpha > 0) & (alpha < 1)).any()


def test_mask_follows_oversampled_views() -> None:
    image, faces = _face(True)
    card = Card.parse(CARD, task="age")
    plain, v = _views([image], [faces], card, "oversample")
    masked, v2 = _views([image], [faces], card, "oversample", mask=True)
    assert v == v2 == 10
    centre = masked[4, 28:36, 28:36]  # view 4: the centre crop
    np.testing.assert_array_equal(centre, plain[4, 28:36, 28:36])
    assert not np.array_equal(masked[:, :4, :4], plain[:, :4, :4])


def test_mask_chips_keeps_everything_inside_a_big_ellipse() -> None:
    chips = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    huge = np.array([[8, 8, 100, 100, 0.0]] * 2)
    np.testing.assert_array_equal(mask_chips(chips, huge), chips)


def test_card_field_decides_unless_overridden() -> None:
    card = Card.parse({**CARD, "crop": {**CARD["crop"], "mask_background": True}}, task="age")
    assert card.mask_background is True
    assert Card.parse(CARD, task="age").mask_background is False
    with pytest.raises(InputError, match="mask_background must be true or false"):
        Card.parse({**CARD, "crop": {"method": "box", "mask_background": "yes"}}, task="age")


def test_estimator_override_and_card_default() -> None:
    from agegender.estimate import Estimator

    assert Estimator("age", "cydral-age")._masks == {"cydral-age": False}
    assert Estimator("age", "cydral-age", mask_background=True)._masks == {"cydral-age": True}


def test_cli_option_reaches_the_analyzer() -> None:
    from agegender.cli import build_parser
    from agegender.cli._common import model_kwargs

    a = build_parser().parse_args(["analyze", "x.jpg", "--mask-background"])
    assert model_kwargs(a)["mask_background"] is True
    a = build_parser().parse_args(["analyze", "x.jpg"])
    assert model_kwargs(a)["mask_background"] is None
