"""Caffe's file formats, read and written without Caffe: a minimal protobuf wire reader
and writer (``.caffemodel`` weights, ``.binaryproto`` blobs such as the mean image) and a
parser for the protobuf text format of network definitions (``deploy.prototxt``).

Only what Levi & Hassner's networks need is supported; see :mod:`.caffe` for the
conversion to ONNX.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError, ModelError

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
            value, pos = mv[pos : pos + size], pos + size  # type: ignore[assignment]
        elif wire == _WIRE_I32:
            value, pos = bytes(mv[pos : pos + 4]), pos + 4  # type: ignore[assignment]
        elif wire == _WIRE_I64:
            value, pos = bytes(mv[pos : pos + 8]), pos + 8  # type: ignore[assignment]
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
