"""OpenCV's SSD face detector on onnxruntime: numpy PriorBox/DetectionOutput, and the whole
detector against cv2.dnn's own answers (OpenCV 4.13, fixtures/opencv_ssd_reference.json)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from agegender.detect.opencv_ssd import (
    decode_boxes,
    detection_output,
    load_ssd,
    nms_fast,
    preprocess,
    prior_boxes,
)
from agegender.errors import ModelError

REFERENCE = Path(__file__).parent / "fixtures" / "opencv_ssd_reference.json"


def _meta(**prior):
    p = {"name": "p", "feature": [2, 2], "min_size": 30.0, "max_size": 60.0,
         "aspect_ratio": [2.0], "flip": True, "clip": False, "offset": 0.5, "step": 50.0,
         "variance": [0.1, 0.1, 0.2, 0.2]}
    p.update(prior)
    return {"input_size": [100, 100], "priors": [p]}


def test_prior_boxes_follow_opencv_order_and_geometry():
    priors, var = prior_boxes(_meta())
    # 2x2 cells, each: min size, sqrt(min*max), ratio 2, ratio 1/2
    assert priors.shape == (16, 4) and var.shape == (16, 4)
    np.testing.assert_allclose(priors[0], [0.10, 0.10, 0.40, 0.40], atol=1e-6)  # 30 px at (25, 25)
    s = np.sqrt(30 * 60) / 100
    np.testing.assert_allclose(priors[1], [0.25 - s / 2, 0.25 - s / 2, 0.25 + s / 2, 0.25 + s / 2], atol=1e-6)
    w, h = 30 * np.sqrt(2) / 100, 30 / np.sqrt(2) / 100
    np.testing.assert_allclose(priors[2], [0.25 - w / 2, 0.25 - h / 2, 0.25 + w / 2, 0.25 + h / 2], atol=1e-6)
    np.testing.assert_allclose(priors[3], [0.25 - h / 2, 0.25 - w / 2, 0.25 + h / 2, 0.25 + w / 2], atol=1e-6)
    np.testing.assert_allclose(priors[4, 0], 0.75 - 0.15, atol=1e-6)  # next cell is to the right
    assert np.all(var == np.float32([0.1, 0.1, 0.2, 0.2]))
    assert len(prior_boxes(_meta(flip=False, max_size=None))[0]) == 4 * 2


def test_decode_zero_offsets_gives_the_priors_and_scales_by_variance():
    priors, var = prior_boxes(_meta())
    np.testing.assert_allclose(decode_boxes(np.zeros_like(priors), priors, var), priors, atol=1e-6)
    loc = np.zeros_like(priors)
    loc[0] = [1.0, 0.0, np.log(2) / 0.2, 0.0]  # centre moves 0.1 * width, width doubles
    b = decode_boxes(loc, priors, var)[0]
    np.testing.assert_allclose(b, [0.25 + 0.03 - 0.3, 0.10, 0.25 + 0.03 + 0.3, 0.40], atol=1e-5)


def test_nms_fast_keeps_best_first_and_drops_overlaps():
    boxes = np.float32([[0, 0, 1, 1], [0, 0, 0.9, 1], [2, 2, 3, 3], [0, 0, 1, 1]])
    scores = np.float32([0.5, 0.9, 0.7, 0.005])
    assert nms_fast(boxes, scores, 0.01, 0.45, 400).tolist() == [1, 2]
    assert nms_fast(boxes, scores, 0.01, 0.95, 400).tolist() == [1, 2, 0]
    assert nms_fast(boxes, scores, 0.01, 0.45, 1).tolist() == [1]


def test_detection_output_rows_and_keep_top_k():
    priors, var = prior_boxes(_meta())
    conf = np.zeros((len(priors), 2), np.float32)
    conf[:, 0] = 1
    conf[[0, 5, 10], 1] = [0.6, 0.8, 0.7]  # three faces in different cells
    conf[[0, 5, 10], 0] = [0.4, 0.2, 0.3]
    params = {"num_classes": 2, "background_label_id": 0, "confidence_threshold": 0.01,
              "nms_threshold": 0.45, "top_k": 400, "keep_top_k": 200}
    rows = detection_output(np.zeros((len(priors), 4), np.float32), conf, priors, var, params)
    assert rows.shape == (3, 7)
    np.testing.assert_allclose(rows[:, 2], [0.8, 0.7, 0.6])
    assert np.all(rows[:, 1] == 1)
    np.testing.assert_allclose(rows[0, 3:], priors[5], atol=1e-6)
    rows = detection_output(np.zeros((len(priors), 4), np.float32), conf, priors, var,
                            {**params, "keep_top_k": 2})
    np.testing.assert_allclose(rows[:, 2], [0.8, 0.7])


@pytest.fixture
def converted(use_mirror, monkeypatch):
    """The registry's converted detector; cv2.dnn's TensorFlow reader is made unusable."""
    if hasattr(cv2, "dnn"):
        monkeypatch.delattr(cv2.dnn, "readNetFromTensorflow", raising=False)
    from agegender.models import get

    (path,) = get("opencv-ssd", "detect").paths()
    return path


def test_matches_cv2_dnn_on_real_photos(converted, shared):
    ref = json.loads(REFERENCE.read_text())
    session, priors, var, params = load_ssd(converted)
    worst = 0.0
    for rel, expected in ref["images"].items():
        img = cv2.imread(str(shared / "data" / rel))
        assert img is not None, rel
        loc, conf = session.run([params["loc"], params["conf"]], {"data": preprocess(img)})
        rows = detection_output(loc[0], conf[0], priors, var, params)
        got = rows[rows[:, 2] >= 0.1][:, 2:]
        want = np.asarray(expected, np.float32).reshape(-1, 5)
        assert got.shape == want.shape, rel
        worst = max(worst, float(np.abs(got - want).max(initial=0.0)))
    assert worst < 1e-4, f"max abs difference from cv2.dnn {worst:.2e}"


def test_converted_once_then_reused(converted):
    from agegender.models import get

    mtime = os.stat(converted).st_mtime_ns
    (again,) = get("opencv-ssd", "detect").paths()
    assert again == converted and os.stat(again).st_mtime_ns == mtime
    assert converted.parent.parent == Path(os.environ["AGEGENDER_HOME"]) / "models"


def test_a_foreign_onnx_file_is_refused_with_what_to_do(tmp_path):
    from agegender.convert.tf_onnx_writer import OnnxGraph

    g = OnnxGraph("x")
    g.add("Relu", ["data"], "out")
    path = g.save(tmp_path / "x.onnx", {"data": [1, 3, 300, 300]}, {"out": [1, 3, 300, 300]})
    with pytest.raises(ModelError, match="delete it"):
        load_ssd(path)
