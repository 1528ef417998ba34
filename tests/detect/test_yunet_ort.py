"""YuNet through onnxruntime: shipped, decoded as OpenCV does, batched, two view sizes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agegender.detect.yunet import STRIDES, YuNetDetector, decode
from tests.conftest import utk_sample


def _rgb(data: Path | io.BytesIO) -> np.ndarray:
    with Image.open(data) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGB")))


def _outputs(h: int, w: int) -> dict[str, np.ndarray]:
    out = {}
    for s in STRIDES:
        n = (h // s) * (w // s)
        out[f"cls_{s}"] = np.zeros((1, n, 1), np.float32)
        out[f"obj_{s}"] = np.zeros((1, n, 1), np.float32)
        out[f"bbox_{s}"] = np.zeros((1, n, 4), np.float32)
        out[f"kps_{s}"] = np.zeros((1, n, 10), np.float32)
    return out


def test_decode_one_cell_as_opencv_does() -> None:
    out = _outputs(64, 96)  # stride 16: 4 rows x 6 cols
    k = 2 * 6 + 3  # row 2, col 3
    out["cls_16"][0, k, 0], out["obj_16"][0, k, 0] = 0.81, 1.5  # obj clipped to 1
    out["bbox_16"][0, k] = [0.5, 0.25, np.log(2.0), 0.0]
    out["kps_16"][0, k] = [0, 0, 1, 0, 0.5, 0.5, 0, 1, 1, 1]
    boxes, scores, lms = decode(out, 0, 64, 96, threshold=0.5, nms_iou=0.3)
    assert scores == pytest.approx([0.9])
    cx, cy, bw, bh = (3 + 0.5) * 16, (2 + 0.25) * 16, 2.0 * 16, 1.0 * 16
    np.testing.assert_allclose(boxes, [[cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]])
    np.testing.assert_allclose(lms[0, 2], [(3 + 0.5) * 16, (2 + 0.5) * 16])
    assert len(decode(out, 0, 64, 96, threshold=0.95, nms_iou=0.3)[0]) == 0


def test_shipped_without_a_mirror(no_mirror: None) -> None:
    import agegender
    from agegender.models import get

    path = get("yunet", "detect").path(fetch=False)
    assert Path(agegender.__file__).parent / "models" / "data" / "yunet" in path.parents
    assert (path.parent / "LICENSE").is_file() and (path.parent / "README.md").is_file()
    blank = np.zeros((100, 120, 3), np.uint8)
    assert len(YuNetDetector().detect(blank)) == 0


def test_matches_opencv_face_detector_yn(use_mirror: Path, photos: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2, "FaceDetectorYN"):
        pytest.skip("this OpenCV has no FaceDetectorYN")
    det = YuNetDetector(first_side=None)
    ref = cv2.FaceDetectorYN.create(
        str(use_mirror / "yunet" / "yunet_s_640_640.onnx"), "", (320, 320), 0.6, 0.3, 5000
    )
    for name in ("group_t1.jpg", "astronaut.png", "Tom_Hanks_54745.png"):
        view = det.prepare(_rgb(photos / name))
        boxes, scores, lms = det._detect_raw(view)
        ref.setInputSize((view.image.shape[1], view.image.shape[0]))
        _, out = ref.detect(np.ascontiguousarray(view.image[..., ::-1]))  # it wants BGR
        assert out is not None and len(out) == len(boxes) > 0, name
        o = out[np.argsort(-out[:, 14])]
        xywh = np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0],
                         boxes[:, 3] - boxes[:, 1]], axis=1)
        np.testing.assert_allclose(xywh, o[:, :4], atol=0.01)
        np.testing.assert_allclose(lms.reshape(-1, 10), o[:, 4:14], atol=0.01)
        np.testing.assert_allclose(scores, o[:, 14], atol=1e-4)


def test_a_batch_finds_what_one_by_one_finds(utkface: Path) -> None:
    crops = [_rgb(utkface / r["path"]) for r in utk_sample(utkface, 20)]
    det = YuNetDetector()
    batch = det.detect_batch(crops)
    assert det.passes["single"] == 20  # 200 px crops: one view size
    for crop, got in zip(crops, batch, strict=True):
        one = det.detect(crop)
        assert len(one) == len(got) == 1
        np.testing.assert_allclose(got.boxes, one.boxes, atol=0.05)
        np.testing.assert_allclose(got.landmarks, one.landmarks, atol=0.05)


def test_small_view_first_full_view_only_for_small_faces(photos: Path) -> None:
    group = _rgb(photos / "group_t1.jpg")  # 1280x886, six faces of 95..140 px
    h, w = group.shape[:2]
    tiles = np.zeros((4 * h, 4 * w, 3), np.uint8)
    for i in range(16):
        tiles[(i // 4) * h : (i // 4 + 1) * h, (i % 4) * w : (i % 4 + 1) * w] = group
    buf = io.BytesIO()
    Image.fromarray(tiles).save(buf, "JPEG", quality=85)  # as the browser test's mosaic
    mosaic = _rgb(buf)

    det = YuNetDetector()
    assert len(det.detect(group)) == 6
    assert det.passes == {"small": 1, "full": 0, "single": 0, "last": 0}  # 640 was enough
    both = det.detect(mosaic)  # ~25 px faces at 640: near the limit, looked at again
    assert det.passes == {"small": 2, "full": 1, "single": 0, "last": 0}
    only_small = YuNetDetector(max_side=640).detect(mosaic)
    only_full = YuNetDetector(first_side=None).detect(mosaic)
    assert len(only_small) < 80 and len(both) == len(only_full) >= 96
    np.testing.assert_allclose(both.boxes, only_full.boxes, atol=1e-3)

    blank = np.full((900, 1200, 3), 128, np.uint8)  # no face at 640: the full view too
    assert len(det.detect(blank)) == 0 and det.passes["full"] == 2
    assert det.passes["last"] == 0  # a big image gets no last look


@pytest.mark.parametrize("quality", [None, 95, 75, 50, 30, 20])
def test_no_face_on_the_mission_patch(photos: Path, quality: int | None) -> None:
    image = _rgb(photos / "astronaut.png")
    if quality is not None:
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, "JPEG", quality=quality)
        image = _rgb(buf)
    faces = YuNetDetector().detect(image)
    assert len(faces) == 1  # her face, not the patch on her shoulder (x 110..245, y 315..450)
    x1, y1, x2, y2 = faces.boxes[0]
    assert (x1 + x2) / 2 < 300 and (y1 + y2) / 2 < 200


def test_a_last_look_finds_a_dark_crop_and_no_patch(shared: Path, photos: Path) -> None:
    dark = shared / "data" / "adience" / "images" / "20254529@N04" / (
        "coarse_tilt_aligned_face.13.9402954043_25356787b6_o.jpg")  # mean luma ~21
    if not dark.is_file():
        pytest.skip(f"needs {dark}")
    crop = _rgb(dark)
    assert len(YuNetDetector(last_look=False).detect(crop)) == 0
    det = YuNetDetector()
    faces = det.detect(crop)
    assert len(faces) == 1 and det.passes["last"] == 1
    x1, y1, x2, y2 = faces.boxes[0]
    assert 40 < (x1 + x2) / 2 < 216 and 40 < (y1 + y2) / 2 < 216  # the central face
    patch = Image.open(photos / "astronaut.png").convert("RGB").crop((90, 295, 265, 470))
    for quality in (95, 50):
        buf = io.BytesIO()
        patch.save(buf, "JPEG", quality=quality)
        assert len(det.detect(_rgb(buf))) == 0  # a small image, no face: the last look too
    assert det.passes["last"] == 3
