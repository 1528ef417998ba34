"""Folding run-time "same" padding into convolutions: same outputs, fewer nodes, and a clear
refusal when the pads cannot be folded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from agegender.convert.onnx_fold import fold_same_padding  # noqa: E402
from agegender.errors import ModelError  # noqa: E402


def _graph(path: Path, pads: list[int], mode: str = "constant") -> None:
    """x (N,3,8,8) -> Pad(pads computed at run time from x's shape) -> Conv 3x3."""
    w = numpy_helper.from_array(np.random.default_rng(1).normal(size=(4, 3, 3, 3)).astype(np.float32), "w")
    base = numpy_helper.from_array(np.array(pads, np.int64), "base")
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Slice", ["shape", "zero", "one"], ["n"]),  # N, then pads * (N > 0)
        helper.make_node("Greater", ["n", "zero"], ["pos"]),
        helper.make_node("Cast", ["pos"], ["posi"], to=TensorProto.INT64),
        helper.make_node("Mul", ["base", "posi"], ["pads"]),
        helper.make_node("Pad", ["x", "pads"], ["xp"], mode=mode),
        helper.make_node("Conv", ["xp", "w"], ["y"], kernel_shape=[3, 3], pads=[0, 0, 0, 0]),
    ]
    inits = [w, base, numpy_helper.from_array(np.array([0], np.int64), "zero"),
             numpy_helper.from_array(np.array([1], np.int64), "one")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what onnxruntime 1.26-1.28 reads
    onnx.save(model, str(path))


def test_fold_keeps_the_outputs_and_drops_the_padding_nodes(tmp_path: Path) -> None:
    src, dst = tmp_path / "same.onnx", tmp_path / "folded.onnx"
    _graph(src, [0, 0, 1, 1, 0, 0, 1, 1])
    info = fold_same_padding(src, dst)
    assert info["max_abs_diff"] <= 1e-6 and info["nodes_after"] == 1 < info["nodes_before"]
    (conv,) = onnx.load(str(dst)).graph.node
    assert conv.op_type == "Conv" and [a.ints for a in conv.attribute if a.name == "pads"] == [[1, 1, 1, 1]]
    x = np.random.default_rng(0).normal(size=(2, 3, 8, 8)).astype(np.float32)
    a = ort.InferenceSession(str(src)).run(None, {"x": x})[0]
    b = ort.InferenceSession(str(dst)).run(None, {"x": x})[0]
    assert a.shape == b.shape == (2, 4, 8, 8) and np.allclose(a, b, atol=1e-6)


def test_padding_a_conv_cannot_express_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "bad.onnx"
    _graph(src, [0, 0, 1, 1, 0, 0, 1, 1], mode="reflect")  # a Conv only pads with zeros
    with pytest.raises(ModelError, match="not a zero Pad over H and W"):
        fold_same_padding(src, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()
