"""TensorFlow graphs read without TensorFlow: a frozen GraphDef (``.pb``, protobuf wire
format, read with :mod:`.caffe_format`'s reader) and a text graph (``.pbtxt``, protobuf
text format, read with its prototxt parser).

Only what OpenCV's face detector needs: node names, ops, inputs and attributes; constant
tensors (float, int, quint8); ``Dequantize`` nodes over quint8 constants (``MIN_FIRST``,
as OpenCV's importer dequantizes them) resolved to float constants. See :mod:`.tf_ssd`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError
from .caffe_format import _WIRE_LEN, _WIRE_VARINT, _fields, _packed_varints, parse_prototxt

#: TensorFlow DataType numbers and names -> numpy dtypes.
_DTYPES: dict[int, Any] = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8,
                           9: np.int64, 10: np.bool_, 12: np.uint8}
_DTYPE_NAMES = {"DT_FLOAT": 1, "DT_DOUBLE": 2, "DT_INT32": 3, "DT_UINT8": 4, "DT_INT64": 9,
                "DT_BOOL": 10, "DT_QUINT8": 12}


@dataclass
class TfNode:
    """One node: its name, op, inputs (``name`` or ``name:k``) and attributes (plain Python
    values: str, int, float, bool, lists, numpy arrays for tensors)."""

    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)


def _tensor(dtype: int, shape: list[int], content: bytes, vals: list[Any]) -> NDArray[Any]:
    np_type = _DTYPES.get(dtype)
    if np_type is None:
        raise ModelError(f"TensorFlow tensor of data type {dtype} is not supported")
    n = math.prod(shape)
    if content:
        a = np.frombuffer(content, np.dtype(np_type).newbyteorder("<")).astype(np_type)
    else:
        a = np.asarray(vals, np_type)
        if 0 < a.size < n:  # TF repeats the last value to fill the shape
            a = np.concatenate([a, np.full(n - a.size, a[-1], np_type)])
    if a.size != n:
        raise ModelError(f"TensorFlow tensor of shape {shape} holds {a.size} values")
    return a.reshape(shape)


def _wire_tensor(buf: memoryview) -> NDArray[Any]:
    dtype, shape, content = 1, [], b""
    vals: list[Any] = []
    for f, w, v in _fields(buf):
        if f == 1:
            dtype = int(v)
        elif f == 2:  # TensorShapeProto {repeated Dim dim = 2 {int64 size = 1}}
            for f2, _, v2 in _fields(v):
                if f2 == 2:
                    shape.append(next((int(s) for f3, _, s in _fields(v2) if f3 == 1), 0))
        elif f == 4:
            content = bytes(v)
        elif f == 5:  # float_val, packed or not
            vals.extend(np.frombuffer(v, "<f4").tolist())
        elif f in (7, 10):  # int_val, int64_val
            vals.extend(x - (1 << 64) if x >= 1 << 63 else x for x in _packed_varints(v, w))
    return _tensor(dtype, shape, content, vals)


def _wire_attr(buf: memoryview) -> Any:
    for f, _, v in _fields(buf):
        if f == 2:
            return bytes(v).decode("utf-8", "replace")
        if f in (3, 6):
            return int(v)
        if f == 4:
            return float(np.frombuffer(v, "<f4")[0])
        if f == 5:
            return bool(v)
        if f == 8:
            return _wire_tensor(v)
        if f == 1:  # ListValue: i = 3 (packed int64), f = 4 (packed float)
            out: list[Any] = []
            for f2, w2, v2 in _fields(v):
                if f2 == 3:
                    out.extend(_packed_varints(v2, w2))
                elif f2 == 4:
                    out.extend(np.frombuffer(v2, "<f4").tolist())
            return out
    return None


def read_graphdef(path: str | Path) -> list[TfNode]:
    """The nodes of a binary GraphDef (``.pb``)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read {p}: {e}") from e
    nodes: list[TfNode] = []
    try:
        for f, w, v in _fields(data):
            if f != 1 or w != _WIRE_LEN:
                continue
            node = TfNode("", "")
            for f2, w2, v2 in _fields(v):
                if f2 == 1:
                    node.name = bytes(v2).decode()
                elif f2 == 2:
                    node.op = bytes(v2).decode()
                elif f2 == 3:
                    node.inputs.append(bytes(v2).decode())
                elif f2 == 5 and w2 == _WIRE_LEN:  # map<string, AttrValue> entry
                    key, value = "", None
                    for f3, _, v3 in _fields(v2):
                        if f3 == 1:
                            key = bytes(v3).decode()
                        elif f3 == 2:
                            value = _wire_attr(v3)
                    node.attrs[key] = value
                elif w2 == _WIRE_VARINT:
                    pass
            nodes.append(node)
    except (ModelError, UnicodeDecodeError) as e:
        raise ModelError(f"{p} is not a TensorFlow GraphDef (.pb): {e}") from e
    if not nodes:
        raise ModelError(f"{p} is not a TensorFlow GraphDef (.pb): it has no nodes")
    return nodes


def _text_tensor(t: dict[str, list[Any]]) -> NDArray[Any]:
    dtype = _DTYPE_NAMES.get(str(t.get("dtype", ["DT_FLOAT"])[0]), 0)
    shape = [int(d.get("size", [0])[0]) for s in t.get("tensor_shape", []) for d in s.get("dim", [])]
    vals = t.get("float_val", []) + t.get("int_val", []) + t.get("int64_val", [])
    return _tensor(dtype, shape, b"", vals)


def _text_attr(value: dict[str, list[Any]]) -> Any:
    if "tensor" in value:
        return _text_tensor(value["tensor"][0])
    if "list" in value:
        lst = value["list"][0]
        return list(lst.get("i", [])) + list(lst.get("f", []))
    for key in ("s", "i", "f", "b", "type"):
        if key in value:
            v = value[key][0]
            return float(v) if key == "f" else v
    return None


def read_pbtxt(path: str | Path) -> list[TfNode]:
    """The nodes of a text GraphDef (``.pbtxt``), such as OpenCV's text graphs."""
    p = Path(path)
    try:
        msg = parse_prototxt(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ModelError(f"cannot read {p}: {e}") from e
    except ModelError as e:
        raise ModelError(f"{p} is not a TensorFlow text graph (.pbtxt): {e}") from e
    nodes = []
    for n in msg.get("node", []):
        attrs = {a["key"][0]: _text_attr(a.get("value", [{}])[0]) for a in n.get("attr", [])}
        nodes.append(TfNode(str(n["name"][0]), str(n["op"][0]),
                            [str(i) for i in n.get("input", [])], attrs))
    if not nodes:
        raise ModelError(f"{p} is not a TensorFlow text graph (.pbtxt): it has no nodes")
    return nodes


def constants(nodes: list[TfNode]) -> dict[str, NDArray[Any]]:
    """Every constant by node name: ``Const`` values, and ``Dequantize`` nodes over quint8
    constants as float32 (``MIN_FIRST``: ``q * s + s * round(min / s)``, ``s = (max - min) /
    255``, as OpenCV's TensorFlow importer computes them)."""
    out: dict[str, NDArray[Any]] = {}
    for n in nodes:
        if n.op == "Const" and isinstance(n.attrs.get("value"), np.ndarray):
            out[n.name] = n.attrs["value"]
    for n in nodes:
        if n.op != "Dequantize":
            continue
        if n.attrs.get("mode", "MIN_COMBINED") != "MIN_FIRST" or len(n.inputs) != 3:
            raise ModelError(f"node {n.name}: only MIN_FIRST Dequantize of 3 constants is supported")
        try:
            q, lo, hi = (out[i.split(":")[0]] for i in n.inputs)
        except KeyError as e:
            raise ModelError(f"node {n.name}: input {e} is not a constant") from e
        scale = (float(hi.reshape(-1)[0]) - float(lo.reshape(-1)[0])) / 255.0
        shift = scale * round(float(lo.reshape(-1)[0]) / scale) if scale else 0.0
        out[n.name] = (q.astype(np.float32) * np.float32(scale) + np.float32(shift)).astype(np.float32)
    return out
