"""TF.js graph models built here, in TF's own JSON style, against a plain numpy reference.

Each test writes a small ``model.json`` (``modelTopology.node`` with attributes in
protobuf's JSON form, as ``faceres-deep.json`` has them: ``strides`` as
``{"list": {"i": [...]}}``, ``padding``/``data_format`` base64 strings, ``fused_ops`` a
list of base64 strings) and a ``weightsManifest`` whose bytes lie in a ``.bin`` shard, then
checks the ONNX conversion (onnxruntime), the trainable torch module and ``fuse`` against a
numpy implementation of the same graph with TF's SAME padding written out:
``pad_total = max((ceil(in / s) - 1) * s + k - in, 0)``, ``pad_before = pad_total // 2``.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agegender.convert.tfjs import TfjsGraph, fuse, load_tfjs
from agegender.errors import ModelError

TOL = 1e-5
T_FLOAT = {"T": {"type": "DT_FLOAT"}}


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


class GraphFile:
    """Collects nodes and weights and writes ``model.json`` + ``weights.bin``."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.manifest: list[dict[str, Any]] = []
        self.blobs: list[bytes] = []

    def placeholder(self, name: str, channels: int) -> str:
        dims = [{"size": str(d)} for d in (-1, -1, -1, channels)]
        self.nodes.append({"name": name, "op": "Placeholder", "attr": {
            "dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": dims}}}})
        return name

    def const(self, name: str, value: np.ndarray, store: str | None = None,
              quant: dict[str, Any] | None = None, raw: bytes | None = None) -> str:
        """A constant; ``raw`` are its stored bytes when they are not ``value`` itself."""
        tf_type = "DT_INT32" if value.dtype == np.int32 else "DT_FLOAT"
        dims = [{"size": str(d)} for d in value.shape]
        self.nodes.append({"name": name, "op": "Const", "attr": {
            "dtype": {"type": tf_type},
            "value": {"tensor": {"dtype": tf_type, "tensorShape": {"dim": dims}}}}})
        entry: dict[str, Any] = {"name": name, "shape": list(value.shape),
                                 "dtype": store or str(value.dtype)}
        if quant is not None:
            entry["quantization"] = quant
        self.manifest.append(entry)
        self.blobs.append(raw if raw is not None else np.ascontiguousarray(value).tobytes())
        return name

    def op(self, name: str, op: str, inputs: list[str], **attr: Any) -> str:
        self.nodes.append({"name": name, "op": op, "input": inputs, "attr": {**T_FLOAT, **attr}})
        return name

    def conv(self, name: str, op: str, inputs: list[str], stride: int, padding: str = "SAME",
             fused: list[str] | None = None) -> str:
        attr: dict[str, Any] = {
            "strides": {"list": {"i": ["1", str(stride), str(stride), "1"]}},
            "dilations": {"list": {"i": ["1", "1", "1", "1"]}},
            "padding": {"s": b64(padding)}, "data_format": {"s": b64("NHWC")},
            "explicit_paddings": {"list": {}}}
        if fused is not None:
            attr.update(fused_ops={"list": {"s": [b64(f) for f in fused]}},
                        num_args={"i": "1"}, epsilon={"f": 0})
        return self.op(name, op, inputs, **attr)

    def write(self, folder: Path, outputs: list[str]) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "weights.bin").write_bytes(b"".join(self.blobs))
        doc = {
            "format": "graph-model", "generatedBy": "test", "convertedBy": "test",
            "signature": {"outputs": {f"{o}:0": {"name": f"{o}:0"} for o in outputs}},
            "modelTopology": {"node": self.nodes, "library": {}, "versions": {}},
            "weightsManifest": [{"paths": ["weights.bin"], "weights": self.manifest}],
        }
        path = folder / "model.json"
        path.write_text(json.dumps(doc))
        return path


# ------------------------------------------------------------------ numpy reference
def same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    total = max((math.ceil(size / s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def ref_conv(x: np.ndarray, w: np.ndarray, s: int, padding: str, depthwise: bool = False) -> np.ndarray:
    """NHWC convolution; ``w`` (kh, kw, cin, cout), depthwise (kh, kw, cin, multiplier)."""
    kh, kw = w.shape[:2]
    if padding == "SAME":
        x = np.pad(x, ((0, 0), same_pads(x.shape[1], kh, s), same_pads(x.shape[2], kw, s), (0, 0)))
    n, oh, ow = x.shape[0], (x.shape[1] - kh) // s + 1, (x.shape[2] - kw) // s + 1
    out = np.zeros((n, oh, ow, w.shape[2] * w.shape[3] if depthwise else w.shape[3]))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i : i + s * (oh - 1) + 1 : s, j : j + s * (ow - 1) + 1 : s, :]
            if depthwise:  # output channel c * multiplier + m
                out += (patch[..., None] * w[i, j]).reshape(out.shape)
            else:
                out += patch @ w[i, j]
    return out


def relu6(x: np.ndarray) -> np.ndarray:
    return np.maximum(np.minimum(np.maximum(x, 0), 6), 0)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ------------------------------------------------------------------ the test network
OUTPUTS = ["gender/Sigmoid", "age/Softmax", "pool/Mean"]


def net_weights(seed: int = 0) -> dict[str, np.ndarray]:
    r = np.random.default_rng(seed)

    def f(*shape: int, scale: float = 0.4) -> np.ndarray:
        return (r.standard_normal(shape) * scale).astype(np.float32)

    return {
        "c1/kernel": f(3, 3, 3, 8), "bn1/mul": f(8) + 1, "bn1/sub": f(8),
        "dw/kernel": f(3, 3, 8, 2), "bn2/mul": f(16) + 1, "bn2/sub": f(16),
        "pw/kernel": f(1, 1, 16, 12), "pw/bias": f(12),
        "age/kernel": f(12, 5), "age/bias": f(5), "gender/kernel": f(12, 1), "gender/bias": f(1),
    }


def write_net(folder: Path, w: dict[str, np.ndarray]) -> Path:
    """input -> Conv2D s2 SAME -> Mul/Add (folded BN) -> Relu/Minimum(6)/Maximum(0) ->
    DepthwiseConv2dNative (multiplier 2) -> Mul/Add -> ReLU6 -> _FusedConv2D(BiasAdd, Relu)
    -> Mean[1, 2] -> _FusedMatMul(BiasAdd) -> Softmax / -> _FusedMatMul(BiasAdd) -> Sigmoid."""
    g = GraphFile()
    for k, v in w.items():
        g.const(k, v)
    six, zero = np.array(6, np.float32), np.array(0, np.float32)
    x = g.placeholder("input_1", 3)
    h = x
    for i, (conv, op, stride) in enumerate([("c1", "Conv2D", 2), ("dw", "DepthwiseConv2dNative", 1)], 1):
        h = g.conv(f"{conv}/conv", op, [h, f"{conv}/kernel"], stride)
        h = g.op(f"bn{i}/mul_1", "Mul", [h, f"bn{i}/mul"])
        h = g.op(f"bn{i}/add_1", "Add", [h, f"bn{i}/sub"])
        h = g.op(f"relu{i}/Relu", "Relu", [h])
        g.const(f"relu{i}/Cast", six)
        g.const(f"relu{i}/Const_1", zero)
        h = g.op(f"relu{i}/clip/Minimum", "Minimum", [h, f"relu{i}/Cast"])
        h = g.op(f"relu{i}/clip", "Maximum", [h, f"relu{i}/Const_1"])
    h = g.conv("pw/Relu", "_FusedConv2D", [h, "pw/kernel", "pw/bias"], 1, "VALID", ["BiasAdd", "Relu"])
    g.const("pool/Mean/reduction_indices", np.array([1, 2], np.int32))
    h = g.op("pool/Mean", "Mean", [h, "pool/Mean/reduction_indices"], keep_dims={"b": False},
             Tidx={"type": "DT_INT32"})
    mm = {"transpose_a": {"b": False}, "transpose_b": {"b": False}, "num_args": {"i": "1"},
          "fused_ops": {"list": {"s": [b64("BiasAdd")]}}, "epsilon": {"f": 0}}
    a = g.op("age/BiasAdd", "_FusedMatMul", [h, "age/kernel", "age/bias"], **mm)
    g.op("age/Softmax", "Softmax", [a])
    s = g.op("gender/BiasAdd", "_FusedMatMul", [h, "gender/kernel", "gender/bias"], **mm)
    g.op("gender/Sigmoid", "Sigmoid", [s])
    return g.write(folder, OUTPUTS)


def net_reference(w: dict[str, np.ndarray], x: np.ndarray) -> dict[str, np.ndarray]:
    v = {k: a.astype(np.float64) for k, a in w.items()}
    h = relu6(ref_conv(x.astype(np.float64), v["c1/kernel"], 2, "SAME") * v["bn1/mul"] + v["bn1/sub"])
    h = relu6(ref_conv(h, v["dw/kernel"], 1, "SAME", depthwise=True) * v["bn2/mul"] + v["bn2/sub"])
    h = np.maximum(ref_conv(h, v["pw/kernel"], 1, "VALID") + v["pw/bias"], 0)
    pooled = h.mean(axis=(1, 2))
    return {
        "pool/Mean": pooled,
        "age/Softmax": softmax(pooled @ v["age/kernel"] + v["age/bias"]),
        "gender/Sigmoid": 1 / (1 + np.exp(-(pooled @ v["gender/kernel"] + v["gender/bias"]))),
    }


# ------------------------------------------------------------------ runners
def run_onnx(graph: TfjsGraph, x: np.ndarray) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    from agegender.convert.tfjs_onnx import tfjs_to_onnx

    sess = ort.InferenceSession(tfjs_to_onnx(graph), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == list(graph.inputs)
    return dict(zip(graph.outputs, sess.run(None, {sess.get_inputs()[0].name: x})))


def run_torch(graph: TfjsGraph, x: np.ndarray) -> dict[str, np.ndarray]:
    import torch

    from agegender.train.tfjs_torch import TfjsModule

    with torch.no_grad():
        out = TfjsModule(graph)(torch.from_numpy(x))
    return {k: v.numpy() for k, v in out.items()}


def assert_close(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert set(got) == set(want)
    for k in want:
        assert got[k].shape == want[k].shape, k
        np.testing.assert_allclose(got[k], want[k], rtol=TOL, atol=TOL, err_msg=k)


@pytest.fixture(scope="module")
def weights() -> dict[str, np.ndarray]:
    return net_weights()


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, weights: dict[str, np.ndarray]) -> TfjsGraph:
    return load_tfjs(write_net(tmp_path_factory.mktemp("net"), weights))


def net_input(h: int, w: int) -> np.ndarray:
    return np.random.default_rng(h * 100 + w).uniform(-1, 1, (2, h, w, 3)).astype(np.float32)


# ------------------------------------------------------------------ tests
@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("size", [(7, 8), (8, 7), (9, 9), (10, 10)])
def test_conv2d_stride2_same_on_odd_and_even_sizes(tmp_path: Path, k: int, size: tuple[int, int]):
    w = np.random.default_rng(k).standard_normal((k, k, 3, 4)).astype(np.float32)
    g = GraphFile()
    g.const("k", w)
    g.conv("conv", "Conv2D", [g.placeholder("x", 3), "k"], 2)
    graph = load_tfjs(g.write(tmp_path, ["conv"]))
    x = net_input(*size)
    want = {"conv": ref_conv(x.astype(np.float64), w.astype(np.float64), 2, "SAME")}
    assert want["conv"].shape[1:3] == (math.ceil(size[0] / 2), math.ceil(size[1] / 2))
    assert_close(run_onnx(graph, x), want)
    assert_close(run_torch(graph, x), want)


@pytest.mark.parametrize("size", [(15, 13), (16, 12)])
def test_onnx_matches_numpy(net: TfjsGraph, weights: dict[str, np.ndarray], size: tuple[int, int]):
    x = net_input(*size)
    want = net_reference(weights, x)
    assert want["age/Softmax"].std() > 0.01 and want["pool/Mean"].std() > 0.01  # not a flat net
    assert_close(run_onnx(net, x), want)


@pytest.mark.parametrize("size", [(15, 13), (16, 12)])
def test_torch_module_matches_numpy(net: TfjsGraph, weights: dict[str, np.ndarray], size: tuple[int, int]):
    x = net_input(*size)
    assert_close(run_torch(net, x), net_reference(weights, x))


def test_fuse_keeps_outputs_with_fewer_nodes(net: TfjsGraph, weights: dict[str, np.ndarray]):
    fused = fuse(net)
    before = [n for n in net.ancestors(net.outputs) if n.op != "Const"]
    after = [n for n in fused.ancestors(fused.outputs) if n.op != "Const"]
    assert len(after) < len(before)
    # both folded batch norms and both ReLU6 chains went into their convolutions
    assert not {"Mul", "Add", "Relu", "Minimum", "Maximum"} & {n.op for n in after}
    convs = {n.name: n for n in after if "Conv" in n.op}
    assert convs["relu1/clip"].op == "_FusedConv2D"
    assert convs["relu1/clip"].strings("fused_ops") == ["BiasAdd", "Relu6"]
    assert convs["relu2/clip"].op == "DepthwiseConv2dNative"
    x = net_input(15, 13)
    want = net_reference(weights, x)
    assert_close(run_onnx(fused, x), want)
    assert_close(run_torch(fused, x), want)


def test_fuse_leaves_a_convolution_that_is_also_an_output(tmp_path: Path):
    r = np.random.default_rng(3)
    w = {"k": r.standard_normal((3, 3, 3, 4)).astype(np.float32),
         "scale": r.standard_normal(4).astype(np.float32)}
    g = GraphFile()
    for name, v in w.items():
        g.const(name, v)
    g.conv("conv", "Conv2D", [g.placeholder("x", 3), "k"], 1)
    g.op("mul", "Mul", ["conv", "scale"])
    graph = load_tfjs(g.write(tmp_path, ["conv", "mul"]))
    fused = fuse(graph)
    assert [n.op for n in fused.nodes if n.op != "Const"] == ["Placeholder", "Conv2D", "Mul"]
    x = net_input(6, 5)
    conv = ref_conv(x.astype(np.float64), w["k"].astype(np.float64), 1, "SAME")
    assert_close(run_onnx(fused, x), {"conv": conv, "mul": conv * w["scale"]})


def _dequant_graph(tmp_path: Path, stored: dict[str, tuple[np.ndarray, dict[str, Any], bytes]]) -> TfjsGraph:
    g = GraphFile()
    for name, (value, entry, raw) in stored.items():
        g.const(name, value, store=entry.get("dtype"), quant=entry.get("quantization"), raw=raw)
    x = g.placeholder("x", 3)
    g.op("out", "Identity", [x])
    return load_tfjs(g.write(tmp_path, ["out"]))


def test_float16_and_affine_quantized_weights(tmp_path: Path):
    r = np.random.default_rng(5)
    half = r.standard_normal((3, 4)).astype(np.float16)
    q8 = r.integers(0, 256, (2, 3, 4), dtype=np.uint8)
    q8.flat[0], q8.flat[-1] = 0, 255
    q16 = r.integers(0, 65536, (7,), dtype=np.uint16)
    q8_scale, q8_min, q16_scale, q16_min = 0.0123456789, -1.5432109876, 3.1e-5, -0.987654321
    stored = {
        # tfjs-converter writes float16 as a quantization of a float32 weight
        "half_q": (half, {"dtype": "float32", "quantization": {"dtype": "float16"}}, half.tobytes()),
        "half": (half, {"dtype": "float16"}, half.tobytes()),
        "q8": (q8, {"dtype": "float32", "quantization": {"dtype": "uint8", "scale": q8_scale,
                                                         "min": q8_min}}, q8.tobytes()),
        "q16": (q16, {"dtype": "float32", "quantization": {"dtype": "uint16", "scale": q16_scale,
                                                           "min": q16_min}}, q16.tobytes()),
    }
    w = _dequant_graph(tmp_path, stored).weights
    for name in ("half_q", "half"):
        assert w[name].dtype == np.float32 and w[name].shape == half.shape
        np.testing.assert_array_equal(w[name], half.astype(np.float32))
    # as TF.js does it: q * scale + min in double precision, stored as float32
    for name, q, scale, lo in (("q8", q8, q8_scale, q8_min), ("q16", q16, q16_scale, q16_min)):
        assert w[name].dtype == np.float32 and w[name].shape == q.shape
        np.testing.assert_array_equal(w[name], (q.astype(np.float64) * scale + lo).astype(np.float32))
    assert w["q8"].flat[0] == np.float32(q8_min)
    assert w["q8"].flat[-1] == np.float32(255 * q8_scale + q8_min)


def test_quantized_weights_run_through_onnx(tmp_path: Path):
    q = np.random.default_rng(9).integers(0, 256, (3, 3, 3, 2), dtype=np.uint8)
    scale, lo = 0.01, -1.2
    g = GraphFile()
    g.const("k", q, store="float32", quant={"dtype": "uint8", "scale": scale, "min": lo}, raw=q.tobytes())
    g.conv("conv", "Conv2D", [g.placeholder("x", 3), "k"], 2)
    graph = load_tfjs(g.write(tmp_path, ["conv"]))
    x = net_input(9, 8)
    w = q.astype(np.float64) * scale + lo
    assert_close(run_onnx(graph, x), {"conv": ref_conv(x.astype(np.float64), w, 2, "SAME")})


# ------------------------------------------------------------------ errors
def test_unsupported_op_is_named(tmp_path: Path):
    g = GraphFile()
    g.op("bn", "FusedBatchNormV3", [g.placeholder("x", 3)])
    path = g.write(tmp_path, ["bn"])
    with pytest.raises(ModelError, match=r"unsupported ops \['FusedBatchNormV3'\]"):
        load_tfjs(path)


def test_truncated_shard_names_the_weight(tmp_path: Path, weights: dict[str, np.ndarray]):
    path = write_net(tmp_path, weights)
    shard = tmp_path / "weights.bin"
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(ModelError, match=r"end inside 'relu2/Const_1'.*complete") as e:
        load_tfjs(path)
    assert str(path) in str(e.value)


def test_missing_shard_and_missing_model_json(tmp_path: Path, weights: dict[str, np.ndarray]):
    path = write_net(tmp_path, weights)
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(ModelError, match=r"cannot read a weight shard.*weights\.bin"):
        load_tfjs(path)
    missing = tmp_path / "nothing" / "model.json"
    with pytest.raises(ModelError, match="not a TF.js graph model") as e:
        load_tfjs(missing)
    assert str(missing) in str(e.value)


# ------------------------------------------------------------------ training
def test_gradients_reach_the_conv_filters(net: TfjsGraph):
    import torch

    from agegender.train.tfjs_torch import TfjsModule

    m = TfjsModule(net)
    filt = m.params["c1__kernel"]
    assert filt.shape == (8, 3, 3, 3) and filt.grad is None  # OIHW
    out = m(torch.from_numpy(net_input(15, 13)))
    (out["age/Softmax"][:, 0].sum() + out["gender/Sigmoid"].sum()).backward()
    assert filt.grad is not None and filt.grad.abs().sum() > 0
    assert m.params["dw__kernel"].grad.abs().sum() > 0
    assert m.params["bn1__mul"].grad.abs().sum() > 0  # folded batch-norm scales train too
    before = out["gender/Sigmoid"].detach().clone()
    torch.optim.SGD(m.parameters(), lr=0.5).step()
    with torch.no_grad():
        after = m(torch.from_numpy(net_input(15, 13)))["gender/Sigmoid"]
    assert not torch.allclose(before, after)
