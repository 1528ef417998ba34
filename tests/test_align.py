import numpy as np

from agegender.align import face_chips, similarity_batch
from agegender.faces import Faces
from agegender.models.card import Card


def test_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    dst = rng.uniform(0, 64, (5, 2))
    ang, s, t = 0.3, 2.5, np.array([10.0, -4.0])
    r = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    # src = inverse-map dst so that m(src) == dst
    src = ((dst - t) @ np.linalg.inv(s * r).T)[None]
    m = similarity_batch(np.repeat(src, 3, 0), dst)
    assert m.shape == (3, 2, 3)
    assert np.allclose(src[0] @ m[0, :, :2].T + m[0, :, 2], dst, atol=1e-6)


def test_aligned_chip_puts_landmarks_on_template():
    template = [[0.3, 0.3], [0.7, 0.3], [0.5, 0.5], [0.35, 0.7], [0.65, 0.7]]
    card = Card.parse({"input": {"size": 40}, "crop": {"method": "align", "template": template},
                       "output": {"decode": "groups"}}, task="age")
    img = np.zeros((200, 300, 3), np.uint8)
    pts = np.array(template) * 80 + [100, 50]  # face of 80 px at (100, 50)
    for x, y in pts:
        img[int(y) - 2 : int(y) + 3, int(x) - 2 : int(x) + 3] = 255
    f = Faces(boxes=[[100, 50, 180, 130]], scores=[1], landmarks=pts[None])
    chip = face_chips(img, f, card)[0]
    for x, y in np.array(template) * 40:
        assert chip[int(round(y)), int(round(x))].max() > 100


def test_box_crop_without_landmarks():
    card = Card.parse({"input": {"size": 16}, "crop": {"method": "box", "margin": 0.0},
                       "output": {"decode": "groups"}}, task="age")
    img = np.zeros((100, 100, 3), np.uint8)
    img[20:60, 30:70] = 200
    f = Faces(boxes=[[30, 20, 70, 60]], scores=[1], landmarks=np.full((1, 5, 2), np.nan))
    chip = face_chips(img, f, card)[0]
    assert chip[2:-2, 2:-2].min() > 150
