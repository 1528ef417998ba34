"""A minimal ONNX writer: a graph of nodes and float/int64 initializers serialized straight
to the protobuf wire format, so that a converter can build a model without the ``onnx``
package (which is an optional extra). onnxruntime loads what it writes; the tests check
it with ``onnx.checker`` where ``onnx`` is installed.

Field numbers are those of ``onnx.proto`` (ModelProto, GraphProto, NodeProto,
AttributeProto, TensorProto, ValueInfoProto).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError
from .caffe_format import _WIRE_I32, _WIRE_VARINT, _encode_varint, _len_field

IR_VERSION = 8
OPSET = 17
_FLOAT, _INT64 = 1, 7
_ATTR_FLOAT, _ATTR_INT, _ATTR_STRING, _ATTR_FLOATS, _ATTR_INTS = 1, 2, 3, 6, 7


def _varint_field(field: int, value: int) -> bytes:
    return _encode_varint(field << 3 | _WIRE_VARINT) + _encode_varint(value & ((1 << 64) - 1))


def _str_field(field: int, value: str) -> bytes:
    return _len_field(field, value.encode("utf-8"))


def _float_field(field: int, value: float) -> bytes:
    return _encode_varint(field << 3 | _WIRE_I32) + struct.pack("<f", value)


def _attribute(name: str, value: Any) -> bytes:
    out = _str_field(1, name)
    if isinstance(value, bool | int | np.integer):
        return out + _varint_field(3, int(value)) + _varint_field(20, _ATTR_INT)
    if isinstance(value, float | np.floating):
        return out + _float_field(2, float(value)) + _varint_field(20, _ATTR_FLOAT)
    if isinstance(value, str):
        return out + _str_field(4, value) + _varint_field(20, _ATTR_STRING)
    if isinstance(value, list | tuple) and all(isinstance(v, int | np.integer) for v in value):
        return out + b"".join(_varint_field(8, int(v)) for v in value) + _varint_field(20, _ATTR_INTS)
    if isinstance(value, list | tuple):
        return out + b"".join(_float_field(7, float(v)) for v in value) + _varint_field(20, _ATTR_FLOATS)
    raise ModelError(f"ONNX attribute {name}={value!r}: type not supported")


def _tensor(name: str, a: NDArray[Any]) -> bytes:
    if a.dtype == np.float32:
        kind, raw = _FLOAT, a.astype("<f4").tobytes()
    elif a.dtype == np.int64:
        kind, raw = _INT64, a.astype("<i8").tobytes()
    else:
        raise ModelError(f"ONNX initializer {name}: dtype {a.dtype} not supported")
    dims = b"".join(_varint_field(1, d) for d in a.shape)
    return dims + _varint_field(2, kind) + _str_field(8, name) + _len_field(9, raw)


def _value_info(name: str, shape: list[int | str]) -> bytes:
    dims = b"".join(
        _len_field(1, _str_field(2, d) if isinstance(d, str) else _varint_field(1, d))
        for d in shape
    )
    tensor_type = _varint_field(1, _FLOAT) + _len_field(2, dims)
    return _str_field(1, name) + _len_field(2, _len_field(1, tensor_type))


class OnnxGraph:
    """Nodes and initializers, added in order; :meth:`save` writes the model."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._nodes: list[bytes] = []
        self._inits: dict[str, bytes] = {}
        self.ops: list[str] = []

    def const(self, name: str, value: NDArray[Any]) -> str:
        """An initializer (float32 or int64); the same name is stored once."""
        if name not in self._inits:
            self._inits[name] = _tensor(name, np.ascontiguousarray(value))
        return name

    def add(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        body = b"".join(_str_field(1, i) for i in inputs) + _str_field(2, output)
        body += _str_field(3, output) + _str_field(4, op)
        body += b"".join(_len_field(5, _attribute(k, v)) for k, v in attrs.items())
        self._nodes.append(body)
        self.ops.append(op)
        return output

    def serialize(
        self,
        inputs: dict[str, list[int | str]],
        outputs: dict[str, list[int | str]],
        metadata: dict[str, str] | None = None,
    ) -> bytes:
        graph = b"".join(_len_field(1, n) for n in self._nodes) + _str_field(2, self.name)
        graph += b"".join(_len_field(5, t) for t in self._inits.values())
        graph += b"".join(_len_field(11, _value_info(k, v)) for k, v in inputs.items())
        graph += b"".join(_len_field(12, _value_info(k, v)) for k, v in outputs.items())
        model = _varint_field(1, IR_VERSION) + _str_field(2, "agegender")
        model += _len_field(7, graph) + _len_field(8, _str_field(1, "") + _varint_field(2, OPSET))
        for k, v in (metadata or {}).items():
            model += _len_field(14, _str_field(1, k) + _str_field(2, v))
        return model

    def save(self, path: str | Path, inputs: dict[str, list[int | str]],
             outputs: dict[str, list[int | str]], metadata: dict[str, str] | None = None) -> Path:
        out = Path(path)
        out.write_bytes(self.serialize(inputs, outputs, metadata))
        return out
