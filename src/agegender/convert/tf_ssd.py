"""OpenCV's TensorFlow SSD face detector (``opencv_face_detector_uint8.pb`` + its
``.pbtxt`` text graph) as an ONNX graph, without TensorFlow or ``cv2.dnn``.

The ``.pbtxt`` gives the structure as OpenCV's importer reads it (its own ``PriorBox``,
``DetectionOutput``, ``Flatten`` and ``L2Normalize`` nodes); the ``.pb`` gives the weights
(quint8, dequantized as OpenCV does). The ONNX graph is the ResNet-10 body and the loc/conf
heads: input ``data`` (N, 3, 300, 300), BGR minus the mean, NCHW; outputs ``mbox_loc``
(N, priors * 4) and ``mbox_conf`` (N, priors * 2, softmaxed per prior). Prior boxes and
DetectionOutput (decoding, NMS, keep_top_k) are not graph ops: their parameters go into the
model's metadata (``agegender.ssd``, JSON) and :mod:`agegender.detect.opencv_ssd` runs them
in numpy.

OpenCV's readings that are kept: ``SpaceToBatchND`` + ``Conv2D`` + ``BatchToSpaceND`` is one
convolution with the block shape as dilation and the first padding of each axis on both
sides; ``SAME`` puts an odd extra row/column at the end (ONNX ``SAME_UPPER``); ``Flatten``
of a 4-D tensor flattens in NHWC order; ``L2Normalize`` divides by ``sqrt(sum x^2 + 1e-10)``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError
from .tf_graph import TfNode, constants, read_graphdef, read_pbtxt
from .tf_onnx_writer import OnnxGraph

INPUT_SIZE = 300
METADATA_KEY = "agegender.ssd"
_NHWC_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1, -2: 3, -3: 2, -4: 0}


class _Builder:
    def __init__(self, consts: dict[str, NDArray[Any]]) -> None:
        self.c = consts
        self.g = OnnxGraph("opencv_face_detector")
        self.shape: dict[str, list[int]] = {}  # NCHW (rank 4) or as-is (rank 2, 3)
        self.alias: dict[str, str] = {}
        self.s2b: dict[str, TfNode] = {}
        self.priors: list[dict[str, Any]] = []
        self.detection: dict[str, Any] | None = None

    def src(self, ref: str) -> str:
        name = ref.split(":")[0]
        return self.alias.get(name, name)

    def const(self, node: TfNode, k: int) -> NDArray[Any]:
        name = node.inputs[k].split(":")[0]
        if name not in self.c:
            raise ModelError(f"node {node.name}: input {name} is not a constant in the .pb")
        return self.c[name]

    def channel_const(self, node: TfNode, k: int) -> str:
        w = self.const(node, k).astype(np.float32)
        if w.ndim == 1 and w.size > 1:
            w = w.reshape(1, -1, 1, 1)
        return self.g.const(node.inputs[k] + "__nchw", w)

    # ------------------------------------------------------------------ ops
    def conv(self, n: TfNode) -> None:
        x = self.src(n.inputs[0])
        w = self.const(n, 1).astype(np.float32)  # HWIO
        kh, kw = w.shape[:2]
        strides = n.attrs.get("strides") or [1, 1, 1, 1]
        sh, sw = int(strides[1]), int(strides[2])
        _, _, ih, iw = self.shape[x]
        attrs: dict[str, Any] = {"kernel_shape": [kh, kw], "strides": [sh, sw]}
        before = self.s2b.get(n.inputs[0].split(":")[0])
        if before is not None:  # OpenCV: block shape = dilation, first paddings on both sides
            dil = [int(v) for v in self.const(before, 1).reshape(-1)]
            pad = self.const(before, 2).reshape(2, 2)
            ph, pw = int(pad[0, 0]), int(pad[1, 0])
            attrs.update(dilations=dil, pads=[ph, pw, ph, pw])
            oh = (ih + 2 * ph - dil[0] * (kh - 1) - 1) // sh + 1
            ow = (iw + 2 * pw - dil[1] * (kw - 1) - 1) // sw + 1
        elif n.attrs.get("padding") == "SAME":
            attrs["auto_pad"] = "SAME_UPPER"
            oh, ow = math.ceil(ih / sh), math.ceil(iw / sw)
        elif n.attrs.get("padding") == "VALID":
            oh, ow = (ih - kh) // sh + 1, (iw - kw) // sw + 1
        else:
            raise ModelError(f"node {n.name}: padding {n.attrs.get('padding')!r} is not supported")
        wname = self.g.const(n.inputs[1] + "__oihw", np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
        self.shape[self.g.add("Conv", [x, wname], n.name, **attrs)] = [0, w.shape[3], oh, ow]

    def maxpool(self, n: TfNode) -> None:
        x = self.src(n.inputs[0])
        k, s = n.attrs["ksize"], n.attrs["strides"]
        _, c, ih, iw = self.shape[x]
        attrs: dict[str, Any] = {"kernel_shape": [k[1], k[2]], "strides": [s[1], s[2]]}
        if n.attrs.get("padding") == "SAME":
            attrs["auto_pad"] = "SAME_UPPER"
            oh, ow = math.ceil(ih / s[1]), math.ceil(iw / s[2])
        else:
            oh, ow = (ih - k[1]) // s[1] + 1, (iw - k[2]) // s[2] + 1
        self.shape[self.g.add("MaxPool", [x], n.name, **attrs)] = [0, c, oh, ow]

    def same_shape(self, op: str, inputs: list[str], n: TfNode, **attrs: Any) -> None:
        self.shape[self.g.add(op, inputs, n.name, **attrs)] = list(self.shape[inputs[0]])

    def l2normalize(self, n: TfNode) -> None:
        x = self.src(n.inputs[0])
        axes = [_NHWC_TO_NCHW[int(a)] for a in self.const(n, 1).reshape(-1)]
        g = self.g
        sq = g.add("ReduceSumSquare", [x], n.name + "/sumsq", axes=axes, keepdims=1)
        eps = g.const(n.name + "/eps", np.array(1e-10, np.float32))
        norm = g.add("Sqrt", [g.add("Add", [sq, eps], n.name + "/sumsq_eps")], n.name + "/norm")
        self.same_shape("Div", [x, norm], n)

    def flatten(self, n: TfNode) -> None:
        x = self.src(n.inputs[0])
        shape = self.shape[x]
        if len(shape) == 4:  # OpenCV flattens a TF graph's 4-D tensors in NHWC order
            x = self.g.add("Transpose", [x], n.name + "/nhwc", perm=[0, 2, 3, 1])
        self.g.add("Flatten", [x], n.name, axis=1)
        self.shape[n.name] = [0, math.prod(shape[1:])]

    def concat(self, n: TfNode) -> None:
        parts = [self.src(i) for i in n.inputs[:-1]]
        if any(p in {q["name"] for q in self.priors} for p in parts):
            return  # the prior boxes: computed by the detector from the metadata
        axis = int(self.const(n, len(n.inputs) - 1).reshape(-1)[0])
        rank = len(self.shape[parts[0]])
        axis = axis % rank
        if rank == 4:
            axis = _NHWC_TO_NCHW[axis]
        shape = list(self.shape[parts[0]])
        shape[axis] = sum(self.shape[p][axis] for p in parts)
        self.shape[self.g.add("Concat", parts, n.name, axis=axis)] = shape

    def reshape(self, n: TfNode) -> None:
        x = self.src(n.inputs[0])
        target = [int(v) for v in self.const(n, 1).reshape(-1)]
        total = math.prod(self.shape[x][1:])
        known = math.prod(v for v in target[1:] if v > 0)
        out = [0] + [total // known if v == -1 else v for v in target[1:]]
        shp = self.g.const(n.name + "/shape", np.array(target, np.int64))
        self.shape[self.g.add("Reshape", [x, shp], n.name)] = out

    def prior_box(self, n: TfNode) -> None:
        fm = self.shape[self.src(n.inputs[0])]
        a = n.attrs
        self.priors.append({
            "name": n.name,
            "feature": [fm[2], fm[3]],
            "min_size": float(a["min_size"]),
            "max_size": float(a["max_size"]) if "max_size" in a else None,
            "aspect_ratio": [float(v) for v in np.asarray(a.get("aspect_ratio", []), float).reshape(-1)],
            "flip": bool(a.get("flip", True)),
            "clip": bool(a.get("clip", False)),
            "offset": float(a.get("offset", 0.5)),
            "step": float(a["step"]) if "step" in a else None,
            "variance": [float(v) for v in np.asarray(a.get("variance", [0.1]), float).reshape(-1)],
        })

    def node(self, n: TfNode) -> None:
        op, ins = n.op, n.inputs
        if op == "Placeholder":
            self.shape[n.name] = [0, 3, INPUT_SIZE, INPUT_SIZE]
        elif op == "Const":
            pass
        elif op == "FusedBatchNorm":
            x = self.src(ins[0])
            p = [self.g.const(ins[k], self.const(n, k).astype(np.float32)) for k in (1, 2, 3, 4)]
            eps = float(n.attrs.get("epsilon", 1e-3))
            self.same_shape("BatchNormalization", [x, *p], n, epsilon=eps)
        elif op in ("Mul", "BiasAdd", "Add"):
            x = self.src(ins[0])
            onnx_op = "Mul" if op == "Mul" else "Add"
            other = ins[1].split(":")[0]
            y = self.channel_const(n, 1) if other in self.c else self.src(ins[1])
            self.same_shape(onnx_op, [x, y], n)
        elif op == "Relu":
            self.same_shape("Relu", [self.src(ins[0])], n)
        elif op == "SpaceToBatchND":
            self.s2b[n.name] = n
            self.alias[n.name] = self.src(ins[0])
        elif op == "BatchToSpaceND":
            self.alias[n.name] = self.src(ins[0])
        elif op == "Conv2D":
            self.conv(n)
        elif op == "MaxPool":
            self.maxpool(n)
        elif op == "L2Normalize":
            self.l2normalize(n)
        elif op == "Flatten":
            self.flatten(n)
        elif op == "ConcatV2":
            self.concat(n)
        elif op == "Reshape":
            self.reshape(n)
        elif op == "Softmax":
            x = self.src(ins[0])
            axis = int(n.attrs.get("axis", -1))
            self.same_shape("Softmax", [x], n, axis=axis)
        elif op == "PriorBox":
            self.prior_box(n)
        elif op == "DetectionOutput":
            a = n.attrs
            self.detection = {
                "loc": self.src(ins[0]), "conf": self.src(ins[1]),
                "num_classes": int(a.get("num_classes", 2)),
                "background_label_id": int(a.get("background_label_id", 0)),
                "code_type": str(a.get("code_type", "CENTER_SIZE")),
                "share_location": bool(a.get("share_location", True)),
                "confidence_threshold": float(a.get("confidence_threshold", 0.01)),
                "nms_threshold": float(a.get("nms_threshold", 0.45)),
                "top_k": int(a.get("top_k", -1)),
                "keep_top_k": int(a.get("keep_top_k", -1)),
            }
        else:
            raise ModelError(f"node {n.name}: TensorFlow op {op} is not supported by the SSD converter")


def build_ssd(pb: str | Path, pbtxt: str | Path) -> tuple[OnnxGraph, dict[str, Any]]:
    """The ONNX graph of the detector and its decoding parameters (priors, detection)."""
    consts = constants(read_graphdef(pb))
    text = read_pbtxt(pbtxt)
    consts.update(constants(text))
    b = _Builder(consts)
    for n in text:
        b.node(n)
    if b.detection is None or not b.priors:
        raise ModelError(f"{pbtxt}: no PriorBox / DetectionOutput nodes: not an SSD text graph")
    d = b.detection
    if d["code_type"] != "CENTER_SIZE" or not d["share_location"]:
        raise ModelError(f"{pbtxt}: only CENTER_SIZE boxes shared across classes are supported")
    n_priors = sum(_priors_per_cell(p) * p["feature"][0] * p["feature"][1] for p in b.priors)
    if b.shape[d["loc"]][1] != n_priors * 4 or b.shape[d["conf"]][1] != n_priors * d["num_classes"]:
        raise ModelError(f"{pbtxt}: heads and prior boxes disagree ({n_priors} priors)")
    meta = {"input_size": [INPUT_SIZE, INPUT_SIZE], "priors": b.priors, "detection": d}
    return b.g, meta


def _priors_per_cell(p: dict[str, Any]) -> int:
    ratios = [r for r in p["aspect_ratio"] if abs(r - 1.0) > 1e-6]
    return 1 + (p["max_size"] is not None) + len(ratios) * (2 if p["flip"] else 1)


def ssd_to_onnx(pb: str | Path, pbtxt: str | Path, out: str | Path) -> Path:
    """Convert the detector to ONNX at ``out`` (decoding parameters in its metadata)."""
    g, meta = build_ssd(pb, pbtxt)
    d = meta["detection"]
    outputs: dict[str, list[int | str]] = {d["loc"]: ["N", "L"], d["conf"]: ["N", "C"]}
    inputs: dict[str, list[int | str]] = {"data": ["N", 3, INPUT_SIZE, INPUT_SIZE]}
    return g.save(out, inputs, outputs, {METADATA_KEY: json.dumps(meta)})
