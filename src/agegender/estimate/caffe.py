"""Caffe models (Levi & Hassner's age and gender nets) without Caffe, and without OpenCV's
Caffe importer (OpenCV 5 removed it: ``readNetFromCaffe`` is gone).

The network definition (``deploy.prototxt``, protobuf text format) and the trained weights
(``.caffemodel``, a binary ``NetParameter`` protobuf) are read here with a small protobuf
reader, and turned into an ONNX graph (Conv, ReLU, MaxPool with Caffe's rounding, LRN, Gemm,
Softmax) that runs on onnxruntime. The authors' mean image (``mean.binaryproto``, a
``BlobProto``: 3 x 256 x 256, BGR, 0..255) is centre-cropped to the input size and subtracted,
as Caffe's test-phase data layer does.

Only the layer types these nets use are supported: Convolution, ReLU, Pooling, LRN,
InnerProduct, Dropout and Softmax; the old (V1, ``layers { type: CONVOLUTION }``) and the new
(``layer { type: "Convolution" }``) formats both read.

:class:`CaffeModel` is the estimator wrapper (same interface as
:class:`~agegender.estimate.onnx.OnnxModel`); :func:`add_levi_hassner` checks a user's
``.caffemodel`` against the network definition and puts it where the registry looks for it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError, ModelError
from ..registry.records import ModelRecord
from .onnx import OnnxModel

log = logging.getLogger(__name__)

OPSET = 17
IR_VERSION = 8
INPUT_NAME = "data"

# --------------------------------------------------------------------------- protobuf wire

_WIRE_VARINT, _WIRE_I64, _WIRE_LEN, _WIRE_I32 = 0, 1, 2, 5


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ModelError("truncated protobuf (varint runs past the end)")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ModelError("malformed protobuf (varint longer than 10 bytes)")


def _fields(buf: bytes | memoryview) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of each field of one protobuf message.

    Values: int for varints, a memoryview for length-delimited fields, bytes for fixed
    32/64-bit fields.
    """
    mv = memoryview(buf)
    pos, n = 0, len(mv)
    while pos < n:
        key, pos = _varint(mv, pos)
        field, wire = key >> 3, key & 7
        if wire == _WIRE_VARINT:
            value, pos = _varint(mv, pos)
        elif wire == _WIRE_LEN:
            size, pos = _varint(mv, pos)
            if pos + size > n:
                raise ModelError(f"truncated protobuf (field {field} runs past the end)")
            value, pos = mv[pos : pos + size], pos + size
        elif wire == _WIRE_I32:
            value, pos = bytes(mv[pos : pos + 4]), pos + 4
        elif wire == _WIRE_I64:
            value, pos = bytes(mv[pos : pos + 8]), pos + 8
        else:
            raise ModelError(f"malformed protobuf (wire type {wire} in field {field})")
        if pos > n:
            raise ModelError("truncated protobuf")
        yield field, wire, value


def _packed_varints(v: Any, wire: int) -> list[int]:
    if wire == _WIRE_VARINT:
        return [int(v)]
    out, pos, mv = [], 0, memoryview(v)
    while pos < len(mv):
        x, pos = _varint(mv, pos)
        out.append(x)
    return out


def parse_blob(buf: bytes | memoryview) -> NDArray[np.float32]:
    """A Caffe ``BlobProto`` as a float32 array of its shape (``shape``, or the legacy
    num/channels/height/width)."""
    legacy = {1: 1, 2: 1, 3: 1, 4: 1}
    have_legacy = False
    shape: list[int] | None = None
    chunks: list[NDArray[np.float32]] = []
    doubles: list[NDArray[np.float64]] = []
    for field, wire, v in _fields(buf):
        if field in legacy and wire == _WIRE_VARINT:
            legacy[field] = int(v)
            have_legacy = True
        elif field == 5:  # data: repeated float, packed
            if wire in (_WIRE_LEN, _WIRE_I32):
                chunks.append(np.frombuffer(v, "<f4"))
        elif field == 8:  # double_data
            if wire in (_WIRE_LEN, _WIRE_I64):
                doubles.append(np.frombuffer(v, "<f8"))
        elif field == 7 and wire == _WIRE_LEN:  # BlobShape {repeated int64 dim = 1 [packed]}
            shape = []
            for f2, w2, v2 in _fields(v):
                if f2 == 1:
                    shape.extend(_packed_varints(v2, w2))
    if chunks:
        data = np.concatenate(chunks).astype(np.float32)
    elif doubles:
        data = np.concatenate(doubles).astype(np.float32)
    else:
        data = np.zeros(0, np.float32)
    if shape is None:
        shape = [legacy[1], legacy[2], legacy[3], legacy[4]] if have_legacy else [data.size]
    if math.prod(shape) != data.size:
        raise ModelError(f"blob of shape {shape} holds {data.size} values")
    return data.reshape(shape)


def read_binaryproto(path: str | Path) -> NDArray[np.float32]:
    """A ``.binaryproto`` mean image as a (C, H, W) float32 array (Caffe's BGR order)."""
    p = Path(path)
    try:
        blob = parse_blob(p.read_bytes())
    except OSError as e:
        raise ModelError(f"cannot read the mean image {p}: {e}") from e
    except ModelError as e:
        raise ModelError(f"{p} is not a Caffe BlobProto (.binaryproto): {e}") from e
    if blob.ndim == 4 and blob.shape[0] == 1:
        blob = blob[0]
    if blob.ndim != 3:
        raise ModelError(f"{p}: expected a mean image of shape (C, H, W), got {blob.shape}")
    return blob


def center_crop(img: NDArray[np.float32], size: tuple[int, int]) -> NDArray[np.float32]:
    """Caffe's test-phase crop of a (C, H, W) array to ``size`` = (width, height)."""
    w, h = size
    _, ih, iw = img.shape
    if ih < h or iw < w:
        # smaller than the input (not the case for the authors' files): stretch it
        import cv2

        hwc = cv2.resize(img.transpose(1, 2, 0), (w, h), interpolation=cv2.INTER_LINEAR)
        return np.ascontiguousarray(hwc.reshape(h, w, -1).transpose(2, 0, 1))
    y, x = (ih - h) // 2, (iw - w) // 2
    return np.ascontiguousarray(img[:, y : y + h, x : x + w])


def read_caffemodel(path: str | Path) -> dict[str, list[NDArray[np.float32]]]:
    """The learned blobs of each layer of a ``.caffemodel``, by layer name."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read {p}: {e}") from e
    out: dict[str, list[NDArray[np.float32]]] = {}
    try:
        for field, wire, v in _fields(data):
            if wire != _WIRE_LEN or field not in (2, 100):
                continue
            # 2: V1LayerParameter (name = 4, blobs = 6); 100: LayerParameter (1, 7)
            name_f, blobs_f = (4, 6) if field == 2 else (1, 7)
            name, blobs = None, []
            for f2, w2, v2 in _fields(v):
                if f2 == name_f and w2 == _WIRE_LEN:
                    name = bytes(v2).decode("utf-8", "replace")
                elif f2 == blobs_f and w2 == _WIRE_LEN:
                    blobs.append(parse_blob(v2))
            if name is not None and blobs:
                out[name] = blobs
    except ModelError as e:
        raise ModelError(f"{p} is not a Caffe model (.caffemodel): {e}") from e
    if not out:
        raise ModelError(f"{p} is not a Caffe model (.caffemodel): no layer with weights in it")
    return out


def _encode_varint(x: int) -> bytes:
    out = bytearray()
    while True:
        b = x & 0x7F
        x >>= 7
        if x:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _len_field(field: int, payload: bytes) -> bytes:
    return _encode_varint(field << 3 | _WIRE_LEN) + _encode_varint(len(payload)) + payload


def encode_blob(a: NDArray[np.floating], *, legacy: bool = False) -> bytes:
    """A ``BlobProto`` holding ``a`` (float32, packed); ``legacy`` writes num/channels/
    height/width (as 2015's Caffe did) instead of ``shape``."""
    a = np.asarray(a, np.float32)
    if legacy:
        dims = [1] * (4 - a.ndim) + list(a.shape)
        if len(dims) != 4:
            raise InputError(f"a legacy blob has at most 4 dimensions, got {a.shape}")
        head = b"".join(
            _encode_varint(f << 3 | _WIRE_VARINT) + _encode_varint(d)
            for f, d in zip((1, 2, 3, 4), dims)
        )
    else:
        head = _len_field(7, _len_field(1, b"".join(_encode_varint(d) for d in a.shape)))
    return head + _len_field(5, a.astype("<f4").tobytes())


def write_caffemodel(
    path: str | Path, layers: dict[str, list[NDArray[np.floating]]], *, legacy: bool = False
) -> Path:
    """Write learned blobs (``{layer name: [weight, bias]}``) as a ``.caffemodel`` that Caffe,
    and :func:`read_caffemodel`, read. ``legacy`` writes the V1 format (``layers``, as the
    authors' 2015 files). Only names and blobs are stored: the net comes from its prototxt."""
    parts = []
    for name, blobs in layers.items():
        if legacy:
            body = _len_field(4, name.encode()) + b"".join(
                _len_field(6, encode_blob(b, legacy=True)) for b in blobs
            )
            parts.append(_len_field(2, body))
        else:
            body = _len_field(1, name.encode()) + b"".join(_len_field(7, encode_blob(b)) for b in blobs)
            parts.append(_len_field(100, body))
    out = Path(path)
    out.write_bytes(b"".join(parts))
    return out


# --------------------------------------------------------------------------- prototxt

_TOKEN = re.compile(
    r'\s*(?:#[^\n]*\n?|(?P<s>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<p>[{}:<>\[\],;])'
    r"|(?P<w>[^\s{}:<>\[\],;\"'#]+))"
)


def parse_prototxt(text: str) -> dict[str, list[Any]]:
    """Protobuf text format as nested dicts; every field maps to a list of its values
    (numbers become int or float, quoted strings str, enum names str)."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ModelError(f"prototxt: cannot read near {text[pos:pos + 30]!r}")
        pos = m.end()
        if m.group("s") is not None:
            tokens.append(("s", m.group("s")[1:-1]))
        elif m.group("p") is not None:
            tokens.append(("p", m.group("p")))
        elif m.group("w") is not None:
            tokens.append(("w", m.group("w")))

    def scalar(kind: str, tok: str) -> Any:
        if kind == "s":
            return tok
        for conv in (int, float):
            try:
                return conv(tok)
            except ValueError:
                pass
        return {"true": True, "false": False}.get(tok, tok)

    i = 0

    def message(end: str | None) -> dict[str, list[Any]]:
        nonlocal i
        msg: dict[str, list[Any]] = {}
        while i < len(tokens):
            kind, tok = tokens[i]
            if kind == "p" and tok in ("}", ">") and end is not None:
                i += 1
                return msg
            if kind == "p" and tok in (",", ";"):
                i += 1
                continue
            if kind != "w":
                raise ModelError(f"prototxt: expected a field name, got {tok!r}")
            name = tok
            i += 1
            if i < len(tokens) and tokens[i] == ("p", ":"):
                i += 1
            if i >= len(tokens):
                raise ModelError(f"prototxt: field {name!r} has no value")
            kind, tok = tokens[i]
            if kind == "p" and tok in ("{", "<"):
                i += 1
                msg.setdefault(name, []).append(message("}" if tok == "{" else ">"))
            elif kind == "p" and tok == "[":
                i += 1
                while i < len(tokens) and tokens[i] != ("p", "]"):
                    if tokens[i] != ("p", ","):
                        msg.setdefault(name, []).append(scalar(*tokens[i]))
                    i += 1
                i += 1
            else:
                msg.setdefault(name, []).append(scalar(kind, tok))
                i += 1
        if end is not None:
            raise ModelError("prototxt: a '{' is never closed")
        return msg

    return message(None)


# --------------------------------------------------------------------------- conversion

_V1_TYPES = {
    "CONVOLUTION": "Convolution",
    "RELU": "ReLU",
    "POOLING": "Pooling",
    "LRN": "LRN",
    "INNER_PRODUCT": "InnerProduct",
    "DROPOUT": "Dropout",
    "SOFTMAX": "Softmax",
    "SPLIT": "Split",
}


def _one(d: dict[str, list[Any]], key: str, default: Any = None) -> Any:
    v = d.get(key)
    return v[0] if v else default


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
    import onnx
    from onnx import TensorProto, helper, numpy_helper

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
            kh = int(_one(p, "kernel_h", _one(p, "kernel_size", 1)))
            kw = int(_one(p, "kernel_w", _one(p, "kernel_size", 1)))
            sh = int(_one(p, "stride_h", _one(p, "stride", 1)))
            sw = int(_one(p, "stride_w", _one(p, "stride", 1)))
            ph = int(_one(p, "pad_h", _one(p, "pad", 0)))
            pw = int(_one(p, "pad_w", _one(p, "pad", 0)))
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
                kh = int(_one(p, "kernel_h", _one(p, "kernel_size", 1)))
                kw = int(_one(p, "kernel_w", _one(p, "kernel_size", 1)))
                sh = int(_one(p, "stride_h", _one(p, "stride", 1)))
                sw = int(_one(p, "stride_w", _one(p, "stride", 1)))
                ph = int(_one(p, "pad_h", _one(p, "pad", 0)))
                pw = int(_one(p, "pad_w", _one(p, "pad", 0)))

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
                        pads=[ph, pw, eh, ew], **extra,
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
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".part-", suffix=".onnx")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(net.onnx_bytes)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


# --------------------------------------------------------------------------- the wrapper


class CaffeModel(OnnxModel):
    """A Caffe age or gender model (``card["runtime"] == "caffe"``).

    ``record.path()`` gives the ONNX conversion of the weights (the record's ``convert``
    hook makes it); the mean image named by ``card["input"]["mean_image"]`` (one of the
    record's files) is centre-cropped to the input size and subtracted from the chips
    before the card's ``mean``/``std``. Decoding is :class:`OnnxModel`'s.
    """

    def __init__(self, record: ModelRecord, *, providers: list[str] | None = None) -> None:
        super().__init__(record, providers=providers)
        self._mean_image: NDArray[np.float32] | None = None
        self._mean_lock = threading.Lock()

    def mean_image(self) -> NDArray[np.float32]:
        """The mean image cropped to the input, (H, W, 3) in the card's channel order
        (zeros when the card names none)."""
        with self._mean_lock:
            if self._mean_image is None:
                w, h = self.card.size
                fname = self.record.card.get("input", {}).get("mean_image")
                if not fname:
                    self._mean_image = np.zeros((h, w, 3), np.float32)
                else:
                    base = dataclasses.replace(self.record, convert=None)
                    found = dict(zip((f.filename for f in base.files), base.paths()))
                    if fname not in found:
                        raise ModelError(
                            f"model {self.name!r}: its card names the mean image {fname!r}, "
                            "which is not one of its files"
                        )
                    m = center_crop(read_binaryproto(found[fname]), (w, h))  # (3, h, w), BGR
                    hwc = m.transpose(1, 2, 0)
                    if self.card.channels == "RGB":
                        hwc = hwc[..., ::-1]
                    self._mean_image = np.ascontiguousarray(hwc, np.float32)
        return self._mean_image

    def preprocess(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        c = self.card
        x = chips[..., ::-1] if c.channels == "BGR" else chips
        x = x.astype(np.float32) - self.mean_image()
        x = (x - np.asarray(c.mean, np.float32)) / np.asarray(c.std, np.float32)
        if c.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x)

    def __repr__(self) -> str:
        return f"CaffeModel({self.name!r}, task={self.task!r})"


# --------------------------------------------------------------------------- adding weights


def add_levi_hassner(caffemodel: Path, task: str | None = None) -> Path:
    """Check Levi & Hassner ``caffemodel`` weights against their deploy prototxt and copy
    them to where the registry looks (``<cache>/levi-hassner-<task>/<task>_net.caffemodel``).

    ``task`` (``"age"`` or ``"gender"``) is taken from the file name when ``None``. Returns
    the destination. Raises :class:`InputError` for a missing, unreadable or mismatched file.
    """
    from ..registry import get
    from ..registry.extra import levi_hassner_weights_path

    src = Path(caffemodel).expanduser()
    if not src.is_file():
        raise InputError(f"no such file: {src} (give the path of age_net.caffemodel or "
                         "gender_net.caffemodel)")
    if task is None:
        low = src.name.lower()
        is_age, is_gender = "age" in low.replace("gender", ""), "gender" in low
        if is_age == is_gender:
            raise InputError(
                f"cannot tell from the name {src.name!r} whether it is the age or the gender "
                "network; pass --task age or --task gender"
            )
        task = "age" if is_age else "gender"
    if task not in ("age", "gender"):
        raise InputError(f"task must be 'age' or 'gender', not {task!r}")
    record = get(f"levi-hassner-{task}", task)  # type: ignore[arg-type]
    prototxt = dataclasses.replace(record, convert=None, ready=None).paths()[0]
    try:
        weights = read_caffemodel(src)
    except ModelError as e:
        raise InputError(f"{e}. Expected the authors' {task}_net.caffemodel") from e
    try:
        net = caffe_to_onnx(prototxt, weights, where=str(src))
    except ModelError as e:
        other = "gender" if task == "age" else "age"
        hint = ""
        try:
            other_rec = get(f"levi-hassner-{other}", other)  # type: ignore[arg-type]
            caffe_to_onnx(dataclasses.replace(other_rec, convert=None, ready=None).paths()[0], weights)
            hint = f"; it fits the {other} network: pass --task {other}"
        except Exception:  # noqa: BLE001 - only a hint
            pass
        raise InputError(f"{e}{hint}") from e
    _smoke_run(net, src)
    dest = levi_hassner_weights_path(task)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-", suffix=".caffemodel")
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    stale = dest.parent / f"{record.name}.onnx"  # an older conversion of other weights
    if stale.exists():
        stale.unlink()
    log.debug("added %s as %s", src, dest)
    return dest


def _smoke_run(net: _Net, src: Path) -> None:
    """Run the converted net once on zeros: the weights must give finite probabilities."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(net.onnx_bytes, opts, providers=["CPUExecutionProvider"])
        y = sess.run(None, {INPUT_NAME: np.zeros((1, *net.input_shape), np.float32)})[0]
    except Exception as e:  # noqa: BLE001 - re-raised as the user's problem
        raise InputError(f"{src}: the converted network does not run: {e}") from e
    if not np.all(np.isfinite(y)):
        raise InputError(f"{src}: the network gives non-finite outputs; the file is damaged")
