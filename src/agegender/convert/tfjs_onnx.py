"""A TF.js graph model (:class:`~agegender.convert.tfjs.TfjsGraph`) as an ONNX graph.

The TF.js graph is NHWC; the ONNX graph keeps the model's NHWC input and output but runs
NCHW inside (one Transpose after the input, ONNX's native convolution layout): 4-D
tensors are NCHW, filters are transposed to OIHW, per-channel constants are reshaped to
broadcast over C, and axes of Mean/Softmax on 4-D tensors are mapped. TF's ``SAME``
padding (extra row/column at the end) is ONNX's ``SAME_UPPER``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError
from .tfjs import Node, TfjsGraph

OPSET = 17
IR_VERSION = 8  # the lowest IR version that carries opset 17
_INNER = "__nchw"
_NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1, -2: 3, -3: 2, -4: 0}


class _Builder:
    def __init__(self, graph: TfjsGraph) -> None:
        from onnx import helper

        self.g = graph
        self.h = helper
        self.nodes: list[Any] = []
        self.inits: dict[str, Any] = {}
        self.rank: dict[str, int] = {}

    # ---------------------------------------------------------------- helpers
    def const(self, name: str, value: NDArray[Any]) -> str:
        from onnx import numpy_helper

        if name not in self.inits:
            self.inits[name] = numpy_helper.from_array(np.ascontiguousarray(value), name)
        return name

    def add(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(self.h.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def operand(self, name: str, other_rank: int) -> str:
        """A graph tensor, or a constant laid out to broadcast against a ``other_rank`` tensor."""
        if name not in self.g.weights:  # a graph tensor
            return name
        w, key = self.g.weights[name], name
        if other_rank == 4 and w.ndim == 1 and w.size > 1:
            w, key = w.reshape(1, -1, 1, 1), f"{name}__nchw"
        elif other_rank == 4 and w.ndim == 4:
            w, key = w.transpose(0, 3, 1, 2), f"{name}__nchw"
        return self.const(key, w.astype(np.float32) if w.dtype != np.int32 else w)

    @staticmethod
    def _pads(n: Node) -> dict[str, Any]:
        padding = n.string("padding", "VALID")
        if padding == "SAME":
            return {"auto_pad": "SAME_UPPER"}
        if padding == "VALID":
            return {"auto_pad": "VALID"}
        raise ModelError(f"node {n.name}: padding {padding!r} is not supported")

    def _spatial(self, n: Node, key: str) -> list[int]:
        v = n.ints(key) or [1, 1, 1, 1]
        if n.string("data_format", "NHWC") != "NHWC":
            raise ModelError(f"node {n.name}: only NHWC graphs are supported")
        return [v[1], v[2]]

    def activation(self, kind: str, x: str, out: str) -> str:
        if kind == "Relu":
            return self.add("Relu", [x], out)
        if kind == "Relu6":
            lo = self.const(f"{out}__lo", np.array(0, np.float32))
            hi = self.const(f"{out}__hi", np.array(6, np.float32))
            return self.add("Clip", [x, lo, hi], out)
        if kind == "Sigmoid":
            return self.add("Sigmoid", [x], out)
        if kind == "Tanh":
            return self.add("Tanh", [x], out)
        raise ModelError(f"fused activation {kind!r} is not supported")

    # ---------------------------------------------------------------- ops
    def conv(self, n: Node, depthwise: bool) -> str:
        x = n.inputs[0]
        f = self.g.weights[n.inputs[1]]
        kh, kw, cin, cout = f.shape
        if depthwise:
            w = f.reshape(kh, kw, cin * cout).transpose(2, 0, 1)[:, None]  # (cin*mult, 1, kh, kw)
            group = cin
        else:
            w = f.transpose(3, 2, 0, 1)
            group = 1
        ins = [x, self.const(n.inputs[1] + "__oihw", w.astype(np.float32))]
        fused = n.strings("fused_ops")
        if fused and fused[0] == "BiasAdd":
            ins.append(self.const(n.inputs[2], self.g.weights[n.inputs[2]].astype(np.float32)))
            fused = fused[1:]
        out = n.name if not fused else n.name + "__conv"
        self.add("Conv", ins, out, kernel_shape=[kh, kw], strides=self._spatial(n, "strides"),
                 dilations=self._spatial(n, "dilations"), group=group, **self._pads(n))
        for k in fused:
            out = self.activation(k, out, n.name)
        return out

    def matmul(self, n: Node) -> str:
        a, b = n.inputs[0], n.inputs[1]
        w = self.g.weights.get(b)
        if w is None:
            raise ModelError(f"node {n.name}: MatMul with a computed right operand is not supported")
        if n.flag("transpose_b"):
            w = w.T
        ins = [a, self.const(b, w.astype(np.float32))]
        fused = n.strings("fused_ops")
        if fused and fused[0] == "BiasAdd":
            ins.append(self.const(n.inputs[2], self.g.weights[n.inputs[2]].astype(np.float32)))
            fused = fused[1:]
        out = n.name if not fused else n.name + "__mm"
        self.add("Gemm", ins, out, transA=int(n.flag("transpose_a")))
        for k in fused:
            out = self.activation(k, out, n.name)
        return out

    def node(self, n: Node) -> None:
        op = n.op
        if op == "Const":
            return
        if op == "Placeholder":  # the graph input keeps the name; inside it is NCHW
            self.add("Transpose", [n.name.removesuffix(_INNER)], n.name, perm=[0, 3, 1, 2])
            self.rank[n.name] = 4
            return
        ranks = [self.rank.get(i, self.g.weights[i].ndim if i in self.g.weights else 0) for i in n.inputs]
        r = max(ranks) if ranks else 0
        if op in ("Conv2D", "DepthwiseConv2dNative", "_FusedConv2D"):
            self.conv(n, depthwise=op == "DepthwiseConv2dNative")
            r = 4
        elif op in ("MatMul", "_FusedMatMul"):
            self.matmul(n)
            r = 2
        elif op in ("Add", "AddV2", "BiasAdd", "Sub", "Mul", "RealDiv", "Minimum", "Maximum"):
            onnx_op = {"AddV2": "Add", "BiasAdd": "Add", "RealDiv": "Div", "Minimum": "Min",
                       "Maximum": "Max"}.get(op, op)
            self.add(onnx_op, [self.operand(i, r) for i in n.inputs], n.name)
        elif op in ("Relu", "Relu6", "Sigmoid", "Tanh"):
            self.activation(op, n.inputs[0], n.name)
        elif op == "Identity":
            self.add("Identity", [n.inputs[0]], n.name)
        elif op == "Softmax":
            self.add("Softmax", [n.inputs[0]], n.name, axis=1 if r == 4 else -1)
        elif op == "Mean":
            axes = [int(a) for a in np.atleast_1d(self.g.weights[n.inputs[1]])]
            if r == 4:
                axes = [_NHWC_TO_NCHW_AXIS[a] for a in axes]
            keep = n.flag("keep_dims")
            self.add("ReduceMean", [n.inputs[0]], n.name, axes=axes, keepdims=int(keep))
            r = r if keep else r - len(axes)
        elif op in ("MaxPool", "AvgPool"):
            self.add("MaxPool" if op == "MaxPool" else "AveragePool", [n.inputs[0]], n.name,
                     kernel_shape=self._spatial(n, "ksize"), strides=self._spatial(n, "strides"),
                     **self._pads(n))
        elif op in ("Reshape", "Squeeze"):
            if r == 4:
                raise ModelError(f"node {n.name}: {op} of a 4-D tensor is not supported")
            if op == "Squeeze":
                self.add("Flatten", [n.inputs[0]], n.name)
                r = 2
            else:
                shape = self.g.weights[n.inputs[1]].astype(np.int64)
                self.add("Reshape", [n.inputs[0], self.const(n.inputs[1] + "__i64", shape)], n.name)
                r = len(shape)
        else:  # load_tfjs refuses unknown ops before we get here
            raise ModelError(f"node {n.name}: op {op} is not supported")
        self.rank[n.name] = r


def tfjs_to_onnx(
    graph: TfjsGraph,
    out: str | Path | None = None,
    *,
    outputs: list[str] | None = None,
    input_size: tuple[int, int] | None = None,
) -> bytes:
    """The ONNX model (serialized) for ``graph``'s ``outputs``; also written to ``out``.

    The input keeps the placeholder's name and NHWC layout; ``input_size`` (h, w) fixes its
    spatial size, else it is left free (fully convolutional graphs run at any size).
    4-D outputs are returned NHWC, like TF.js.
    """
    try:
        from onnx import TensorProto, checker, helper
    except ImportError as e:
        raise ModelError(
            f"converting {graph.source} to ONNX needs onnx, which is not installed: "
            'pip install "agegender[convert]"'
        ) from e

    outputs = outputs or graph.outputs
    if len(graph.inputs) != 1:
        raise ModelError(f"{graph.source}: expected one input, found {list(graph.inputs)}")
    (in_name, in_shape), = graph.inputs.items()
    b = _Builder(graph)
    inner = in_name + _INNER
    for n in graph.ancestors(outputs):
        b.node(Node(inner if n.name == in_name else n.name, n.op,
                    tuple(inner if i == in_name else i for i in n.inputs), n.attr))
    shape: list[Any] = ["N", *(input_size or ("H", "W")), in_shape[3]]
    outs = []
    for o in outputs:
        if b.rank[o] == 4:
            b.add("Transpose", [o], o + "__nhwc_out", perm=[0, 2, 3, 1])
            outs.append(helper.make_tensor_value_info(o + "__nhwc_out", TensorProto.FLOAT, ["N", None, None, None]))
        else:
            dims = ["N", *([None] * (b.rank[o] - 1))]
            outs.append(helper.make_tensor_value_info(o, TensorProto.FLOAT, dims))
    g = helper.make_graph(
        b.nodes, Path(graph.source).stem or "tfjs",
        [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, shape)],
        outs, initializer=list(b.inits.values()),
    )
    model = helper.make_model(g, producer_name="agegender.convert.tfjs",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    checker.check_model(model)
    data: bytes = model.SerializeToString()
    if out is not None:
        Path(out).write_bytes(data)
    return data
