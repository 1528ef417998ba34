"""TensorFlow graphs without TensorFlow (tf_graph), the ONNX writer without onnx
(tf_onnx_writer), and OpenCV's SSD face detector converted to ONNX (tf_ssd)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agegender.convert.caffe_format import _encode_varint, _len_field
from agegender.convert.tf_graph import TfNode, constants, read_graphdef, read_pbtxt
from agegender.convert.tf_onnx_writer import OnnxGraph
from agegender.errors import ModelError


def _attr(key: str, value: bytes) -> bytes:
    return _len_field(5, _len_field(1, key.encode()) + _len_field(2, value))


def _quint8_const(name: str, q: list[int]) -> bytes:
    shape = _len_field(2, _len_field(2, _encode_varint(1 << 3) + _encode_varint(len(q))))
    tensor = _encode_varint(1 << 3) + _encode_varint(12) + shape + _len_field(4, bytes(q))
    return _len_field(1, _len_field(1, name.encode()) + _len_field(2, b"Const")
                      + _attr("value", _len_field(8, tensor)))


def _float_const(name: str, v: float) -> bytes:
    tensor = _encode_varint(1 << 3) + _encode_varint(1) + _len_field(5, np.float32(v).tobytes())
    return _len_field(1, _len_field(1, name.encode()) + _len_field(2, b"Const")
                      + _attr("value", _len_field(8, tensor)))


def test_graphdef_quint8_dequantized_min_first(tmp_path):
    pb = _quint8_const("w_q", [0, 1, 255]) + _float_const("w_min", -1.0) + _float_const("w_max", 1.0)
    pb += _len_field(1, _len_field(1, b"w") + _len_field(2, b"Dequantize")
                     + b"".join(_len_field(3, n) for n in (b"w_q", b"w_min", b"w_max"))
                     + _attr("mode", _len_field(2, b"MIN_FIRST")))
    (tmp_path / "g.pb").write_bytes(pb)
    nodes = read_graphdef(tmp_path / "g.pb")
    assert [n.op for n in nodes] == ["Const", "Const", "Const", "Dequantize"]
    w = constants(nodes)["w"]
    s = 2.0 / 255
    np.testing.assert_allclose(w, np.array([0, 1, 255]) * s + s * round(-1.0 / s), rtol=1e-6)
    assert w.dtype == np.float32


def test_dequantize_other_modes_are_refused():
    n = TfNode("w", "Dequantize", ["a", "b", "c"], {"mode": "SCALED"})
    with pytest.raises(ModelError, match="MIN_FIRST"):
        constants([n])


def test_not_a_graphdef_is_a_model_error(tmp_path):
    (tmp_path / "bad.pb").write_bytes(b"\xff\xff\xff")
    with pytest.raises(ModelError, match="not a TensorFlow GraphDef"):
        read_graphdef(tmp_path / "bad.pb")
    (tmp_path / "bad.pbtxt").write_text("node { name: ")
    with pytest.raises(ModelError, match="not a TensorFlow text graph"):
        read_pbtxt(tmp_path / "bad.pbtxt")


def test_pbtxt_tensors_repeat_their_last_value(tmp_path):
    (tmp_path / "g.pbtxt").write_text(
        'node { name: "c" op: "Const" attr { key: "value" value { tensor { dtype: DT_INT32 '
        "tensor_shape { dim { size: 2 } dim { size: 2 } } int_val: 3 } } } }\n"
    )
    (node,) = read_pbtxt(tmp_path / "g.pbtxt")
    assert constants([node])["c"].tolist() == [[3, 3], [3, 3]]


def test_written_onnx_runs_in_onnxruntime(tmp_path):
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    g = OnnxGraph("t")
    g.add("Conv", ["x", g.const("w", w)], "c", kernel_shape=[3, 3], auto_pad="SAME_UPPER", strides=[2, 2])
    g.add("Reshape", ["c", g.const("shape", np.array([0, -1], np.int64))], "y")
    path = g.save(tmp_path / "t.onnx", {"x": ["N", 3, 5, 5]}, {"y": ["N", 36]}, {"k": "v"})
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert s.get_modelmeta().custom_metadata_map["k"] == "v"
    x = rng.normal(size=(2, 3, 5, 5)).astype(np.float32)
    (y,) = s.run(None, {"x": x})
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))  # total pad 2 at stride 2 on 5: 1 + 1
    ref = np.einsum("nchw,kchw->nk", xp[:, :, 0:3, 0:3], w)
    np.testing.assert_allclose(y.reshape(2, 4, 3, 3)[:, :, 0, 0], ref, rtol=1e-5, atol=1e-5)
    onnx = pytest.importorskip("onnx")
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def test_the_face_detector_converts(mirror, tmp_path):
    import onnxruntime as ort

    from agegender.convert.tf_ssd import METADATA_KEY, ssd_to_onnx
    from agegender.detect.opencv_ssd import METADATA_KEY as DETECT_KEY
    from agegender.detect.opencv_ssd import prior_boxes

    d = mirror / "opencv-ssd"
    out = ssd_to_onnx(d / "opencv_face_detector_uint8.pb", d / "opencv_face_detector.pbtxt",
                      tmp_path / "ssd.onnx")
    s = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert METADATA_KEY == DETECT_KEY
    meta = json.loads(s.get_modelmeta().custom_metadata_map[METADATA_KEY])
    assert [p["feature"] for p in meta["priors"]] == [[38, 38], [19, 19], [10, 10], [5, 5], [5, 5], [5, 5]]
    assert meta["detection"]["keep_top_k"] == 200 and meta["detection"]["top_k"] == 400
    n = len(prior_boxes(meta)[0])
    loc, conf = s.run(None, {"data": np.zeros((2, 3, 300, 300), np.float32)})
    assert loc.shape == (2, 4 * n) and conf.shape == (2, 2 * n)
    np.testing.assert_allclose(conf.reshape(2, n, 2).sum(-1), 1.0, atol=1e-5)  # softmaxed
    onnx = pytest.importorskip("onnx")
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
