"""Reading TF.js graph models (``model.json`` + weight shards) without TensorFlow.

A TF.js graph model is a frozen TensorFlow graph written as JSON (``modelTopology.node``:
name, op, inputs, attributes in protobuf's JSON form) plus a ``weightsManifest`` that lists
every constant's name, shape and dtype in the order its bytes appear in the shards. Weights
may be stored as float32, int32, float16, or affine-quantized uint8/uint16
(``value = q * scale + min``); :func:`load_tfjs` returns them all as float32 (int32 stays
int32).

:class:`TfjsGraph` is the parsed graph in the model's own NHWC layout; the ONNX builder
(:mod:`agegender.convert.tfjs_onnx`) and the trainable torch module
(:mod:`agegender.train.tfjs_torch`) both walk it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError

#: Ops the converters understand (the FaceRes, SSR-Net and GEAR graphs use a subset).
SUPPORTED_OPS = frozenset({
    "Const", "Placeholder", "Identity", "Conv2D", "DepthwiseConv2dNative", "_FusedConv2D",
    "MatMul", "_FusedMatMul", "BiasAdd", "Add", "AddV2", "Sub", "Mul", "RealDiv", "Minimum",
    "Maximum", "Relu", "Relu6", "Sigmoid", "Tanh", "Softmax", "Mean", "MaxPool", "AvgPool",
    "Reshape", "Squeeze",
})

_DTYPE_BYTES = {"float32": 4, "int32": 4, "float16": 2, "uint8": 1, "uint16": 2}


@dataclass(frozen=True)
class Node:
    """One graph node: ``inputs`` are node names (``:0`` and control inputs dropped)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attr: dict[str, Any] = field(default_factory=dict)

    def ints(self, key: str) -> list[int]:
        return [int(v) for v in self.attr.get(key, {}).get("list", {}).get("i", [])]

    def string(self, key: str, default: str = "") -> str:
        s = self.attr.get(key, {}).get("s")
        return base64.b64decode(s).decode() if s else default

    def strings(self, key: str) -> list[str]:
        return [base64.b64decode(s).decode() for s in self.attr.get(key, {}).get("list", {}).get("s", [])]

    def flag(self, key: str) -> bool:
        return bool(self.attr.get(key, {}).get("b", False))


@dataclass
class TfjsGraph:
    """A parsed TF.js graph model: nodes in file order, constants, inputs and outputs."""

    nodes: list[Node]
    weights: dict[str, NDArray[Any]]
    inputs: dict[str, tuple[int, ...]]  # placeholder name -> shape (-1 = any)
    outputs: list[str]
    source: str = ""

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise ModelError(f"{self.source}: the graph has no node {name!r}")

    def ancestors(self, outputs: list[str]) -> list[Node]:
        """The nodes that ``outputs`` depend on, in an order where inputs come first."""
        by_name = {n.name: n for n in self.nodes}
        order: list[Node] = []
        seen: set[str] = set()
        for out in outputs:
            stack: list[tuple[str, bool]] = [(out, False)]
            while stack:
                name, done = stack.pop()
                if done:
                    order.append(by_name[name])
                    continue
                if name in seen:
                    continue
                if name not in by_name:
                    raise ModelError(f"{self.source}: node {name!r} is used but not defined")
                seen.add(name)
                stack.append((name, True))
                stack.extend((i, False) for i in by_name[name].inputs if i not in seen)
        return order


def _clean_input(name: str) -> str | None:
    if name.startswith("^"):
        return None  # control dependency
    base, _, idx = name.partition(":")
    if idx not in ("", "0"):
        raise ModelError(f"input {name!r}: nodes with several outputs are not supported")
    return base


def _decode_weights(manifest: list[dict[str, Any]], folder: Path, where: str) -> dict[str, NDArray[Any]]:
    out: dict[str, NDArray[Any]] = {}
    for group in manifest:
        try:
            buf = b"".join((folder / p).read_bytes() for p in group["paths"])
        except OSError as e:
            raise ModelError(f"{where}: cannot read a weight shard: {e}") from e
        pos = 0
        for w in group["weights"]:
            shape = tuple(int(s) for s in w["shape"])
            count = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            stored = q["dtype"] if q else w["dtype"]
            if stored not in _DTYPE_BYTES:
                raise ModelError(f"{where}: weight {w['name']!r} has unsupported dtype {stored!r}")
            n = count * _DTYPE_BYTES[stored]
            raw = buf[pos : pos + n]
            if len(raw) != n:
                raise ModelError(f"{where}: the weight shards end inside {w['name']!r}; are they complete?")
            pos += n
            arr: NDArray[Any] = np.frombuffer(raw, dtype=stored).reshape(shape)
            if q and stored in ("uint8", "uint16"):
                # as TF.js: in double precision, then stored as float32 (float32
                # arithmetic is off by several ulps where q * scale and min nearly cancel)
                arr = (arr.astype(np.float64) * float(q["scale"]) + float(q["min"])).astype(np.float32)
            elif stored == "float16" or w["dtype"] == "float32":
                arr = arr.astype(np.float32)
            out[w["name"]] = arr.copy()
        if pos != len(buf):
            raise ModelError(f"{where}: {len(buf) - pos} bytes left over in the weight shards")
    return out


def load_tfjs(model_json: str | Path, outputs: list[str] | None = None) -> TfjsGraph:
    """Parse ``model_json`` and its shards (beside it). ``outputs`` defaults to the
    signature's outputs, else the nodes nothing consumes."""
    path = Path(model_json)
    where = str(path)
    try:
        doc = json.loads(path.read_text())
        topo = doc["modelTopology"]
        raw_nodes = topo["node"]
        manifest = doc["weightsManifest"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelError(f"{where}: not a TF.js graph model ({e}); expected model.json with "
                         "modelTopology.node and weightsManifest") from e
    nodes = []
    for n in raw_nodes:
        ins = tuple(i for i in (_clean_input(x) for x in n.get("input", [])) if i is not None)
        nodes.append(Node(n["name"], n["op"], ins, n.get("attr", {})))
    unknown = sorted({n.op for n in nodes} - SUPPORTED_OPS)
    if unknown:
        raise ModelError(f"{where}: unsupported ops {unknown}; supported: {sorted(SUPPORTED_OPS)}")
    weights = _decode_weights(manifest, path.parent, where)
    missing = [n.name for n in nodes if n.op == "Const" and n.name not in weights]
    if missing:
        raise ModelError(f"{where}: constants without weights: {missing[:5]}")
    inputs = {}
    for n in nodes:
        if n.op == "Placeholder":
            dims = n.attr.get("shape", {}).get("shape", {}).get("dim", [])
            inputs[n.name] = tuple(int(d.get("size", -1)) for d in dims)
    if outputs is None:
        sig = doc.get("signature", {}).get("outputs", {})
        outputs = [k.split(":")[0] for k in sig] if sig else []
        if not outputs:
            used = {i for n in nodes for i in n.inputs}
            outputs = [n.name for n in nodes if n.name not in used and n.op != "Const"]
    return TfjsGraph(nodes, weights, inputs, list(outputs), where)


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def fuse(graph: TfjsGraph) -> TfjsGraph:
    """The same function as fewer nodes: each convolution absorbs the folded batch norm
    after it (``Mul`` by a per-channel constant into the filter, ``Add`` into a bias) and a
    ReLU6 written as ``Maximum(Minimum(Relu(x), 6), 0)``. Exact up to float rounding; a
    node is absorbed only when the convolution's output has no other consumer."""
    nodes = {n.name: n for n in graph.nodes}
    consumers: dict[str, list[str]] = {}
    for n in graph.nodes:
        for i in n.inputs:
            consumers.setdefault(i, []).append(n.name)
    keep = set(graph.outputs)
    w = dict(graph.weights)
    replaced: dict[str, str] = {}  # absorbed node -> the node that now produces its value
    removed: set[str] = set()
    new: dict[str, Node] = {}

    def only_next(name: str, op: str) -> Node | None:
        c = consumers.get(name, [])
        if len(c) != 1 or name in keep:
            return None
        n = nodes[c[0]]
        return n if n.op == op else None

    def const_other(n: Node, x: str) -> NDArray[Any] | None:
        other = [i for i in n.inputs if i != x]
        return w.get(other[0]) if len(other) == 1 and other[0] in w else None

    def scalar(n: Node, x: str, value: float) -> bool:
        c = const_other(n, x)
        return c is not None and c.size == 1 and float(c.reshape(-1)[0]) == value

    for n in graph.nodes:
        if n.op not in ("Conv2D", "DepthwiseConv2dNative") or n.string("data_format", "NHWC") != "NHWC":
            continue
        filt = w[n.inputs[1]].astype(np.float32)
        cout = filt.shape[2] * filt.shape[3] if n.op == "DepthwiseConv2dNative" else filt.shape[3]
        last, bias, fused = n.name, np.zeros(cout, np.float32), ["BiasAdd"]
        mul = only_next(last, "Mul")
        c = const_other(mul, last) if mul else None
        if mul is not None and c is not None and c.size == cout:
            filt = filt * c.reshape(-1).reshape(filt.shape[2:] if n.op == "DepthwiseConv2dNative" else (cout,))
            last = mul.name
        for op in ("Add", "AddV2", "BiasAdd"):
            add = only_next(last, op)
            c = const_other(add, last) if add else None
            if add is not None and c is not None and c.size == cout:
                bias, last = c.reshape(-1).astype(np.float32), add.name
                break
        relu = only_next(last, "Relu")
        if relu is not None:
            last, fused = relu.name, fused + ["Relu"]
            mn = only_next(last, "Minimum")
            mx = only_next(mn.name, "Maximum") if mn is not None and scalar(mn, last, 6.0) else None
            if mn is not None and mx is not None and scalar(mx, mn.name, 0.0):
                last, fused = mx.name, fused[:-1] + ["Relu6"]
        if last == n.name:
            continue
        fname, bname = n.inputs[1] + "/fused", n.name + "/fused_bias"
        w[fname], w[bname] = filt, bias
        attr = dict(n.attr, fused_ops={"list": {"s": [_b64(f) for f in fused]}})
        new[last] = Node(last, "_FusedConv2D" if n.op == "Conv2D" else n.op, (n.inputs[0], fname, bname), attr)
        removed |= {n.name}
        replaced[n.name] = last
        chain = n.name
        while chain != last:
            chain = consumers[chain][0]
            if chain != last:
                removed.add(chain)
    out_nodes = []
    for n in graph.nodes:
        if n.name in removed:
            continue
        out_nodes.append(new.get(n.name, n))
    used = {i for n in out_nodes for i in n.inputs}
    consts = [Node(k, "Const", ()) for k in w if k not in nodes]
    out_nodes = [n for n in out_nodes if n.op != "Const" or n.name in used] + [
        c for c in consts if c.name in used]
    return TfjsGraph(out_nodes, {k: v for k, v in w.items() if k in used}, dict(graph.inputs),
                     list(graph.outputs), graph.source)
