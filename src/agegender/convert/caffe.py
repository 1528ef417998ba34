"""Caffe networks (Levi & Hassner's age and gender nets) to ONNX, without Caffe and without
OpenCV's Caffe importer (OpenCV 5 removed ``readNetFromCaffe``).

The network definition (``deploy.prototxt``, protobuf text format) and the trained weights
(``.caffemodel``, a binary ``NetParameter`` protobuf) are read with the small protobuf
reader of :mod:`.caffe_format`, and turned here into an ONNX graph (Conv, ReLU, MaxPool with
Caffe's rounding, LRN, Gemm, Softmax) that runs on onnxruntime.

Only the layer types these nets use are supported: Convolution, ReLU, Pooling, LRN,
InnerProduct, Dropout and Softmax; the old (V1, ``layers { type: CONVOLUTION }``) and the new
(``layer { type: "Convolution" }``) formats both read. The runtime wrapper (mean image,
preprocessing) is :class:`agegender.estimate.caffe.CaffeModel`; adding a user's weights is
:func:`agegender.models.levi_hassner.add_levi_hassner`.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._fs import write_bytes_atomic
from ..errors import ModelError
from .caffe_format import _V1_TYPES, parse_prototxt, read_caffemodel

OPSET = 17
IR_VERSION = 8
INPUT_NAME = "data"


def _one(d: dict[str, list[Any]], key: str, default: Any = None) -> Any:
    v = d.get(key)
    return v[0] if v else default


def _window(p: dict[str, list[Any]]) -> tuple[int, int, int, int, int, int]:
    """Kernel, stride and pad (h, w each) of a convolution or pooling parameter block."""

    def hw(name: str, default: int) -> tuple[int, int]:
        both = _one(p, name if name != "kernel" else "kernel_size", default)
        return int(_one(p, f"{name}_h", both)), int(_one(p, f"{name}_w", both))

    (kh, kw), (sh, sw), (ph, pw) = hw("kernel", 1), hw("stride", 1), hw("pad", 0)
    return kh, kw, sh, sw, ph, pw


@dataclasses.dataclass
class _Net:
    """The converted graph and what it expects."""

    onnx_bytes: bytes
    input_shape: tuple[int, int, int]  # (C, H, W)
    output_shape: tuple[int, ...]


def caffe_to_onnx(
    prototxt: str | Path,
    weights: dict[str, list[NDArray[np.float32]]],
    *,
    where: str = "caffemodel",
) -> _Net:
    """An ONNX graph of the deploy ``prototxt`` with ``weights`` (see :func:`read_caffemodel`).

    Raises :class:`ModelError` when a layer's weights are missing or do not fit the
    definition (e.g. the gender net's weights for the age net's prototxt).
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as e:
        raise ModelError(
            'converting a Caffe model needs onnx, which is not installed: pip install "agegender[convert]"'
        ) from e

    proto_path = Path(prototxt)
    net = parse_prototxt(proto_path.read_text())
    # input: "data" with input_dim x4, input_shape { dim x4 }, or an Input layer
    dims = [int(d) for d in net.get("input_dim", [])]
    if not dims and net.get("input_shape"):
        dims = [int(d) for d in net["input_shape"][0].get("dim", [])]
    layers = net.get("layers", []) + net.get("layer", [])
    in_name = _one(net, "input", INPUT_NAME)
    if not dims:
        for ly in layers:
            if str(_one(ly, "type", "")) == "Input":
                in_name = _one(ly, "top")
                shape = _one(_one(ly, "input_param", {}), "shape", {})
                dims = [int(d) for d in shape.get("dim", [])]
                break
    if len(dims) != 4:
        raise ModelError(f"{proto_path}: no 4-D input (input_dim / input_shape) in the prototxt")

    nodes: list[Any] = []
    inits: list[Any] = []
    shapes: dict[str, tuple[int, ...]] = {in_name: tuple(dims[1:])}
    names: dict[str, str] = {in_name: INPUT_NAME}  # caffe blob -> current onnx tensor
    last = in_name

    def bad(layer: str, why: str) -> ModelError:
        return ModelError(f"{where} does not fit {proto_path.name}: layer {layer!r} {why}")

    def blobs_of(layer: str, n: int) -> list[NDArray[np.float32]]:
        got = weights.get(layer)
        if got is None:
            raise bad(layer, "has no weights in the file")
        if len(got) < n:
            raise bad(layer, f"has {len(got)} weight blob(s), expected {n}")
        return got

    def init(name: str, a: NDArray[Any]) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(a, np.float32), name))
        return name

    for k, ly in enumerate(layers):
        ltype = str(_one(ly, "type", ""))
        ltype = _V1_TYPES.get(ltype, ltype)
        lname = str(_one(ly, "name", f"layer{k}"))
        if ltype in ("Input", "Data"):
            continue
        if any(str(_one(r, "phase", "TEST")) == "TRAIN" for r in ly.get("include", [])):
            continue
        bottom = _one(ly, "bottom")
        top = _one(ly, "top", lname)
        if bottom not in shapes:
            raise ModelError(f"{proto_path}: layer {lname!r} reads {bottom!r}, which nothing made")
        x, shp = names[bottom], shapes[bottom]
        out = f"{top}__{k}"
        if ltype == "Convolution":
            p = _one(ly, "convolution_param", {})
            cout = int(_one(p, "num_output"))
            kh, kw, sh, sw, ph, pw = _window(p)
            group = int(_one(p, "group", 1))
            has_bias = bool(_one(p, "bias_term", True))
            c, h, w = shp
            b = blobs_of(lname, 2 if has_bias else 1)
            wshape = (cout, c // group, kh, kw)
            if b[0].size != math.prod(wshape):
                raise bad(lname, f"weights hold {b[0].size} values, the prototxt needs {wshape}")
            ins = [x, init(f"{lname}.weight", b[0].reshape(wshape))]
            if has_bias:
                if b[1].size != cout:
                    raise bad(lname, f"bias holds {b[1].size} values, expected {cout}")
                ins.append(init(f"{lname}.bias", b[1].reshape(cout)))
            nodes.append(
                helper.make_node(
                    "Conv", ins, [out], name=lname, kernel_shape=[kh, kw], strides=[sh, sw],
                    pads=[ph, pw, ph, pw], group=group,
                )
            )
            shapes[top] = (cout, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)
        elif ltype == "ReLU":
            slope = float(_one(_one(ly, "relu_param", {}), "negative_slope", 0.0))
            if slope:
                nodes.append(helper.make_node("LeakyRelu", [x], [out], name=lname, alpha=slope))
            else:
                nodes.append(helper.make_node("Relu", [x], [out], name=lname))
            shapes[top] = shp
        elif ltype == "Pooling":
            p = _one(ly, "pooling_param", {})
            c, h, w = shp
            pool = str(_one(p, "pool", "MAX"))
            if bool(_one(p, "global_pooling", False)):
                op = "GlobalMaxPool" if pool in ("MAX", "0") else "GlobalAveragePool"
                nodes.append(helper.make_node(op, [x], [out], name=lname))
                shapes[top] = (c, 1, 1)
            else:
                kh, kw, sh, sw, ph, pw = _window(p)

                def caffe_out(size: int, k_: int, s: int, pad: int) -> int:
                    # Caffe rounds up, then drops a last window that starts in the padding
                    o = math.ceil((size + 2 * pad - k_) / s) + 1
                    if pad and (o - 1) * s >= size + pad:
                        o -= 1
                    return o

                oh, ow = caffe_out(h, kh, sh, ph), caffe_out(w, kw, sw, pw)
                # explicit end padding reproduces the rounding up exactly
                eh = max((oh - 1) * sh + kh - h - ph, 0)
                ew = max((ow - 1) * sw + kw - w - pw, 0)
                if pool in ("MAX", "0"):
                    op, extra = "MaxPool", {}
                elif pool in ("AVE", "1"):
                    if eh != ph or ew != pw:
                        raise ModelError(
                            f"{proto_path}: layer {lname!r}: average pooling whose windows run "
                            "past the image is not supported"
                        )
                    op, extra = "AveragePool", {"count_include_pad": 1}
                else:
                    raise ModelError(f"{proto_path}: layer {lname!r}: pooling {pool} unsupported")
                nodes.append(
                    helper.make_node(
                        op, [x], [out], name=lname, kernel_shape=[kh, kw], strides=[sh, sw],
                        pads=[ph, pw, eh, ew], **extra,  # type: ignore[arg-type]
                    )
                )
                shapes[top] = (c, oh, ow)
        elif ltype == "LRN":
            p = _one(ly, "lrn_param", {})
            if str(_one(p, "norm_region", "ACROSS_CHANNELS")) not in ("ACROSS_CHANNELS", "0"):
                raise ModelError(f"{proto_path}: layer {lname!r}: only ACROSS_CHANNELS LRN")
            nodes.append(
                helper.make_node(
                    "LRN", [x], [out], name=lname, size=int(_one(p, "local_size", 5)),
                    alpha=float(_one(p, "alpha", 1.0)), beta=float(_one(p, "beta", 0.75)),
                    bias=float(_one(p, "k", 1.0)),
                )
            )
            shapes[top] = shp
        elif ltype == "InnerProduct":
            p = _one(ly, "inner_product_param", {})
            cout = int(_one(p, "num_output"))
            has_bias = bool(_one(p, "bias_term", True))
            fin = math.prod(shp)
            if len(shp) > 1:
                flat = f"{top}__flat{k}"
                nodes.append(helper.make_node("Flatten", [x], [flat], axis=1))
                x = flat
            b = blobs_of(lname, 2 if has_bias else 1)
            if b[0].size != cout * fin:
                raise bad(
                    lname, f"weights hold {b[0].size} values, the prototxt needs {cout} x {fin}"
                )
            wmat = b[0].reshape(fin, cout).T if bool(_one(p, "transpose", False)) else b[0]
            ins = [x, init(f"{lname}.weight", wmat.reshape(cout, fin))]
            if has_bias:
                if b[1].size != cout:
                    raise bad(lname, f"bias holds {b[1].size} values, expected {cout}")
                ins.append(init(f"{lname}.bias", b[1].reshape(cout)))
            nodes.append(helper.make_node("Gemm", ins, [out], name=lname, transB=1))
            shapes[top] = (cout,)
        elif ltype == "Dropout":  # a no-op at test time (Caffe scales while training)
            nodes.append(helper.make_node("Identity", [x], [out], name=lname))
            shapes[top] = shp
        elif ltype == "Softmax":
            nodes.append(helper.make_node("Softmax", [x], [out], name=lname, axis=1))
            shapes[top] = shp
        else:
            raise ModelError(f"{proto_path}: layer {lname!r} of type {ltype!r} is not supported")
        if any(s <= 0 for s in shapes[top]):
            raise ModelError(f"{proto_path}: layer {lname!r} leaves an empty output {shapes[top]}")
        names[top] = out
        last = top

    final = names[last]
    nodes.append(helper.make_node("Identity", [final], ["output"], name="output"))
    out_shape = shapes[last]
    graph = helper.make_graph(
        nodes,
        proto_path.stem,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", *dims[1:]])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", *out_shape])],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="agegender.estimate.caffe",
        doc_string=f"converted from {proto_path.name} and its Caffe weights",
    )
    model.ir_version = IR_VERSION
    try:
        onnx.checker.check_model(model)
    except Exception as e:  # a checker failure is a bug in this converter
        raise ModelError(f"the graph converted from {proto_path} failed onnx's checker: {e}") from e
    return _Net(model.SerializeToString(), (dims[1], dims[2], dims[3]), out_shape)


def convert_caffemodel(prototxt: str | Path, caffemodel: str | Path, out_path: str | Path) -> Path:
    """Convert ``caffemodel`` (with its deploy ``prototxt``) to the ONNX file ``out_path``,
    written atomically; return the path."""
    net = caffe_to_onnx(prototxt, read_caffemodel(caffemodel), where=str(caffemodel))
    return write_bytes_atomic(Path(out_path), net.onnx_bytes)
