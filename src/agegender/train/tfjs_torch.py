"""A TF.js graph model as a trainable torch module.

:class:`TfjsModule` walks a :class:`~agegender.convert.tfjs.TfjsGraph` the way the ONNX
builder does (NHWC input, NCHW inside; TF's ``SAME`` padding puts the odd extra row and
column at the end), with every float constant of more than one value as an
``nn.Parameter`` (filters, biases, folded batch-norm scales) so the whole body can be
fine-tuned. Scalars (ReLU6's bounds) and integer constants are fixed buffers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..convert.tfjs import Node, TfjsGraph
from ..errors import ModelError

_AXIS = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1, -2: 3, -3: 2, -4: 0}


def _key(name: str) -> str:
    return name.replace("/", "__").replace(".", "_")


def _same_pad(x: torch.Tensor, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int]) -> torch.Tensor:
    pads = []
    for size, kk, ss, dd in ((x.shape[3], k[1], s[1], d[1]), (x.shape[2], k[0], s[0], d[0])):
        out = math.ceil(size / ss)
        total = max((out - 1) * ss + (kk - 1) * dd + 1 - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads) if any(pads) else x


class TfjsModule(nn.Module):
    """``forward(x)`` (N, H, W, C) NHWC -> dict of the requested outputs (4-D ones NHWC)."""

    def __init__(self, graph: TfjsGraph, outputs: list[str] | None = None,
                 start: str | None = None) -> None:
        """``start``: a node whose (NHWC) activation is the input instead of the
        placeholder; only the nodes after it are built (the top of a body)."""
        super().__init__()
        self.outputs = list(outputs or graph.outputs)
        self.order: list[Node] = graph.ancestors(self.outputs)
        if start is not None:
            below = {n.name for n in graph.ancestors([start])}
            self.order = [n for n in self.order if n.name not in below or n.op == "Const"]
            self.input_name = start
        else:
            (self.input_name,) = list(graph.inputs)
        self.start = start
        self.params = nn.ParameterDict()
        self.fixed: dict[str, torch.Tensor] = {}
        used = {i for n in self.order for i in n.inputs}
        for name, w in graph.weights.items():
            if name not in used:
                continue
            users = [n for n in self.order if name in n.inputs]
            t = torch.from_numpy(np.ascontiguousarray(self._layout(name, w, users)))
            if w.dtype == np.float32 and w.size > 1:
                self.params[_key(name)] = nn.Parameter(t)
            else:
                self.register_buffer(_key(name), t, persistent=True)
                self.fixed[name] = t

    @staticmethod
    def _layout(name: str, w: np.ndarray[Any, Any], users: list[Node]) -> np.ndarray[Any, Any]:
        """Filters to OIHW (depthwise: (C*mult, 1, kh, kw)); everything else as stored."""
        for n in users:
            if len(n.inputs) > 1 and n.inputs[1] == name:
                if n.op in ("Conv2D", "_FusedConv2D"):
                    return w.transpose(3, 2, 0, 1)
                if n.op == "DepthwiseConv2dNative":
                    kh, kw, cin, m = w.shape
                    return w.reshape(kh, kw, cin * m).transpose(2, 0, 1)[:, None]
        return w

    def _get(self, name: str, env: dict[str, torch.Tensor]) -> torch.Tensor:
        if name in env:
            return env[name]
        k = _key(name)
        if k in self.params:
            return self.params[k]
        return getattr(self, k)  # type: ignore[no-any-return]

    def _bcast(self, t: torch.Tensor, rank: int) -> torch.Tensor:
        if rank == 4 and t.dim() == 1 and t.numel() > 1:
            return t.view(1, -1, 1, 1)
        if rank == 4 and t.dim() == 4:
            return t.permute(0, 3, 1, 2)
        return t

    @staticmethod
    def _act(kind: str, x: torch.Tensor) -> torch.Tensor:
        if kind == "Relu":
            return F.relu(x)
        if kind == "Relu6":
            return F.relu6(x)
        if kind == "Sigmoid":
            return torch.sigmoid(x)
        if kind == "Tanh":
            return torch.tanh(x)
        raise ModelError(f"fused activation {kind!r} is not supported")

    def _conv(self, n: Node, env: dict[str, torch.Tensor]) -> torch.Tensor:
        x = env[n.inputs[0]]
        w = self._get(n.inputs[1], env)
        fused = n.strings("fused_ops")
        bias = None
        if fused and fused[0] == "BiasAdd":
            bias, fused = self._get(n.inputs[2], env), fused[1:]
        st = n.ints("strides") or [1, 1, 1, 1]
        dl = n.ints("dilations") or [1, 1, 1, 1]
        s, d = (st[1], st[2]), (dl[1], dl[2])
        k = (int(w.shape[2]), int(w.shape[3]))
        if n.string("padding", "VALID") == "SAME":
            x = _same_pad(x, k, s, d)
        groups = x.shape[1] if n.op == "DepthwiseConv2dNative" else 1
        y = F.conv2d(x, w, bias, stride=s, dilation=d, groups=groups)
        for a in fused:
            y = self._act(a, y)
        return y

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        env: dict[str, torch.Tensor] = {}
        rank: dict[str, int] = {}
        if self.start is not None:
            env[self.start], rank[self.start] = x.permute(0, 3, 1, 2), 4
        for n in self.order:
            op = n.op
            if op == "Const":
                continue
            if op == "Placeholder":
                env[n.name], rank[n.name] = x.permute(0, 3, 1, 2), 4
                continue
            ins = [self._get(i, env) for i in n.inputs]
            r = max((rank.get(i, ins[j].dim()) for j, i in enumerate(n.inputs)), default=0)
            if op in ("Conv2D", "DepthwiseConv2dNative", "_FusedConv2D"):
                y, r = self._conv(n, env), 4
            elif op in ("MatMul", "_FusedMatMul"):
                a, b = ins[0], ins[1]
                if n.flag("transpose_a"):
                    a = a.t()
                if n.flag("transpose_b"):
                    b = b.t()
                y, r = a @ b, 2
                fused = n.strings("fused_ops")
                if fused and fused[0] == "BiasAdd":
                    y, fused = y + ins[2], fused[1:]
                for k in fused:
                    y = self._act(k, y)
            elif op in ("Add", "AddV2", "BiasAdd", "Sub", "Mul", "RealDiv", "Minimum", "Maximum"):
                a, b = (self._bcast(t, r) if i not in env else t for t, i in zip(ins, n.inputs))
                fn = {"Add": torch.add, "AddV2": torch.add, "BiasAdd": torch.add, "Sub": torch.sub,
                      "Mul": torch.mul, "RealDiv": torch.div, "Minimum": torch.minimum,
                      "Maximum": torch.maximum}[op]
                y = fn(a, b)
            elif op in ("Relu", "Relu6", "Sigmoid", "Tanh"):
                y = self._act(op, ins[0])
            elif op == "Identity":
                y = ins[0]
            elif op == "Softmax":
                y = torch.softmax(ins[0], dim=1 if r == 4 else -1)
            elif op == "Mean":
                axes = [int(a) for a in ins[1].reshape(-1).tolist()]
                if r == 4:
                    axes = [_AXIS[a] for a in axes]
                keep = n.flag("keep_dims")
                y = ins[0].mean(dim=axes, keepdim=keep)
                r = r if keep else r - len(axes)
            elif op in ("MaxPool", "AvgPool"):
                ks, st = n.ints("ksize"), n.ints("strides")
                k, s = (ks[1], ks[2]), (st[1], st[2])
                if n.string("padding", "VALID") == "SAME":
                    raise ModelError(f"node {n.name}: SAME pooling is not supported in training")
                pool = F.max_pool2d if op == "MaxPool" else F.avg_pool2d
                y = pool(ins[0], k, s)
            else:
                raise ModelError(f"node {n.name}: op {op} is not supported in training")
            env[n.name], rank[n.name] = y, r
        return {o: env[o].permute(0, 2, 3, 1) if rank[o] == 4 else env[o] for o in self.outputs}
