"""Import a (small, feed-forward) ONNX graph into PyTorch, so that it can be fine-tuned.

:class:`OnnxGraphModule` keeps the graph's nodes and runs them in order with torch
functions; the float weights become trainable ``nn.Parameter``\\ s (one-number constants and
integer tensors stay fixed buffers). It covers the operators of the two Cydral networks
(``Conv``, ``Mul``/``Add`` folded batch-norm affines, ``Relu``, ``MaxPool``,
``AveragePool``, ``GlobalAveragePool``, ``Pad`` of mismatched residuals, ``Flatten``,
``Gemm``, ``Softmax``) and a few common others (``BatchNormalization``, ``MatMul``,
``Reshape``, ``Concat``, ``Sigmoid``, ``Tanh``, ``Clip``, ``Identity``, ``Dropout``,
``Sub``, ``Div``, ``Transpose``). An unknown operator is refused when the graph is read,
with its name.

The module can return any named tensor of the graph (``outputs=``), and stops running
nodes once those are computed, so the body of a network can be cut off before its head::

    body = OnnxGraphModule.load("age-v1.onnx", outputs=["layer_1_flatten"])
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Node:
    """One graph node: operator, input and output tensor names, attributes."""

    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict[str, Any]


def _key(name: str) -> str:
    """A tensor name as a valid ``ParameterDict`` key."""
    return "t_" + re.sub(r"[^0-9A-Za-z_]", "_", name)


def _pads_2d(pads: Sequence[int]) -> tuple[int, int, int, int]:
    """ONNX 2-D pads ``[top, left, bottom, right]`` as F.pad's ``(left, right, top, bottom)``."""
    top, left, bottom, right = (int(v) for v in pads)
    return (left, right, top, bottom)


class OnnxGraphModule(nn.Module):
    """An ONNX graph run node by node with torch; its float weights are trainable."""

    def __init__(self, model: Any, *, outputs: Sequence[str] | None = None) -> None:
        super().__init__()
        from onnx import numpy_helper

        g = model.graph
        inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        self.input_name = next(i.name for i in g.input if i.name not in inits)
        self.params = nn.ParameterDict()
        self._consts: dict[str, list[int]] = {}
        for name, arr in inits.items():
            if arr.dtype.kind == "f" and arr.size > 1:
                self.params[_key(name)] = nn.Parameter(torch.from_numpy(arr.astype(np.float32)))
            elif arr.dtype.kind == "f":
                self.register_buffer(_key(name), torch.from_numpy(arr.astype(np.float32)))
            else:
                self._consts[name] = [int(v) for v in arr.ravel()]
        self.nodes: list[Node] = []
        for n in g.node:
            if n.op_type not in _OPS:
                raise ModelError(
                    f"cannot import ONNX operator {n.op_type!r} (node {n.name or n.output[0]!r}) "
                    f"into PyTorch; supported: {', '.join(sorted(_OPS))}"
                )
            from onnx import helper

            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            self.nodes.append(Node(n.op_type, tuple(n.input), tuple(n.output), attrs))
        produced = {o for n in self.nodes for o in n.outputs}
        self.output_names = list(outputs) if outputs else [o.name for o in g.output]
        for o in self.output_names:
            if o not in produced:
                raise ModelError(f"the ONNX graph has no tensor named {o!r} to return")
        # run only the nodes up to the last one that the requested outputs need
        last = max(i for i, n in enumerate(self.nodes) if set(n.outputs) & set(self.output_names))
        self.nodes = self.nodes[: last + 1]

    @classmethod
    def load(cls, path: str | Path, *, outputs: Sequence[str] | None = None) -> OnnxGraphModule:
        """Read an ``.onnx`` file (checked with onnx's checker) into a module."""
        import onnx

        try:
            model = onnx.load(str(path))
            onnx.checker.check_model(model)
        except Exception as e:  # noqa: BLE001 - re-raised with the path
            raise ModelError(f"{path} is not a readable ONNX model: {e}") from e
        return cls(model, outputs=outputs)

    def tensor(self, name: str) -> torch.Tensor:
        """A weight or constant of the graph by its ONNX name."""
        k = _key(name)
        if k in self.params:
            return self.params[k]
        buf = getattr(self, k, None)
        if isinstance(buf, torch.Tensor):
            return buf
        raise KeyError(name)

    def const(self, name: str) -> list[int]:
        """An integer initializer (pads, shapes) as a list."""
        return self._consts[name]

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """The requested output(s) for input ``x``."""
        env: dict[str, torch.Tensor] = {self.input_name: x}
        for node in self.nodes:
            args = [env[i] if i in env else (self.tensor(i) if i else None) for i in
                    node.inputs if i not in self._consts]
            res = _OPS[node.op](self, node, args)
            env[node.outputs[0]] = res
        outs = tuple(env[o] for o in self.output_names)
        return outs[0] if len(outs) == 1 else outs


# ------------------------------------------------------------------------- operators
Op = Callable[[OnnxGraphModule, Node, list[Any]], torch.Tensor]


def _conv(m: OnnxGraphModule, n: Node, a: list[Any]) -> torch.Tensor:
    x, w = a[0], a[1]
    b = a[2] if len(a) > 2 else None
    pads = n.attrs.get("pads", [0, 0, 0, 0])
    if n.attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise ModelError("Conv with auto_pad is not supported; export the graph with explicit pads")
    stride = tuple(n.attrs.get("strides", [1, 1]))
    dil = tuple(n.attrs.get("dilations", [1, 1]))
    groups = int(n.attrs.get("group", 1))
    if pads[0] == pads[2] and pads[1] == pads[3]:
        return F.conv2d(x, w, b, stride, (int(pads[0]), int(pads[1])), dil, groups)
    return F.conv2d(F.pad(x, _pads_2d(pads)), w, b, stride, 0, dil, groups)


def _pool(m: OnnxGraphModule, n: Node, a: list[Any]) -> torch.Tensor:
    k = tuple(n.attrs["kernel_shape"])
    s = tuple(n.attrs.get("strides", [1, 1]))
    pads = n.attrs.get("pads", [0, 0, 0, 0])
    if pads[0] != pads[2] or pads[1] != pads[3]:
        raise ModelError(f"{n.op} with asymmetric pads {pads} is not supported")
    p = (int(pads[0]), int(pads[1]))
    ceil = bool(n.attrs.get("ceil_mode", 0))
    if n.op == "MaxPool":
        return F.max_pool2d(a[0], k, s, p, ceil_mode=ceil)
    return F.avg_pool2d(
        a[0], k, s, p, ceil_mode=ceil, count_include_pad=bool(n.attrs.get("count_include_pad", 0))
    )


def _pad(m: OnnxGraphModule, n: Node, a: list[Any]) -> torch.Tensor:
    mode = n.attrs.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if mode != "constant":
        raise ModelError(f"Pad mode {mode!r} is not supported (only constant)")
    pads = m.const(n.inputs[1]) if len(n.inputs) > 1 else list(n.attrs["pads"])
    r = len(pads) // 2
    torch_pads: list[int] = []
    for d in reversed(range(r)):  # F.pad wants the last dimension first
        torch_pads += [pads[d], pads[d + r]]
    value = float(a[1]) if len(a) > 1 and a[1] is not None else 0.0
    return F.pad(a[0], torch_pads, value=value)


def _gemm(m: OnnxGraphModule, n: Node, a: list[Any]) -> torch.Tensor:
    x, w = a[0], a[1]
    if n.attrs.get("transA", 0):
        x = x.t()
    if n.attrs.get("transB", 0):
        w = w.t()
    y = float(n.attrs.get("alpha", 1.0)) * (x @ w)
    if len(a) > 2 and a[2] is not None:
        y = y + float(n.attrs.get("beta", 1.0)) * a[2]
    return y


def _flatten(m: OnnxGraphModule, n: Node, a: list[Any]) -> torch.Tensor:
    axis = int(n.attrs.get("axis", 1))
    if axis != 1:
        raise ModelError(f"Flatten with axis {axis} is not supported (only 1)")
    return torch.flatten(a[0], 1)


def _reshape(m: OnnxGraphModule, n: Node, a: list[Any]) -> torch.Tensor:
    shape = m.const(n.inputs[1])
    shape = [a[0].shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return a[0].reshape(shape)


def _batchnorm(m: OnnxGraphModule, n: Node, a: list[Any]) -> torch.Tensor:
    x, scale, bias, mean, var = a
    eps = float(n.attrs.get("epsilon", 1e-5))
    return F.batch_norm(x, mean.detach(), var.detach(), scale, bias, False, 0.0, eps)


def _clip(m: OnnxGraphModule, n: Node, a: list[Any]) -> torch.Tensor:
    lo = a[1] if len(a) > 1 else n.attrs.get("min")
    hi = a[2] if len(a) > 2 else n.attrs.get("max")
    return torch.clamp(a[0], None if lo is None else float(lo), None if hi is None else float(hi))


_OPS: dict[str, Op] = {
    "Conv": _conv,
    "MaxPool": _pool,
    "AveragePool": _pool,
    "GlobalAveragePool": lambda m, n, a: a[0].mean(dim=(2, 3), keepdim=True),
    "Relu": lambda m, n, a: torch.relu(a[0]),
    "Sigmoid": lambda m, n, a: torch.sigmoid(a[0]),
    "Tanh": lambda m, n, a: torch.tanh(a[0]),
    "Add": lambda m, n, a: a[0] + a[1],
    "Sub": lambda m, n, a: a[0] - a[1],
    "Mul": lambda m, n, a: a[0] * a[1],
    "Div": lambda m, n, a: a[0] / a[1],
    "Pad": _pad,
    "Gemm": _gemm,
    "MatMul": lambda m, n, a: a[0] @ a[1],
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Softmax": lambda m, n, a: torch.softmax(a[0], dim=int(n.attrs.get("axis", -1))),
    "BatchNormalization": _batchnorm,
    "Concat": lambda m, n, a: torch.cat(a, dim=int(n.attrs["axis"])),
    "Transpose": lambda m, n, a: a[0].permute(*n.attrs["perm"]),
    "Clip": _clip,
    "Identity": lambda m, n, a: a[0],
    "Dropout": lambda m, n, a: a[0],
}


def last_gemm(module: OnnxGraphModule) -> Node:
    """The graph's last ``Gemm`` node: the classifier whose input is the body's feature vector."""
    for n in reversed(module.nodes):
        if n.op == "Gemm":
            return n
    raise ModelError("the ONNX graph has no Gemm (fully connected) layer to use as its head")
