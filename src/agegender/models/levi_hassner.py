"""Adding Levi & Hassner's Caffe weights (``agegender models add age_net.caffemodel``).

The weights are not redistributable, so the user brings them: they are checked against the
network definition, converted once and run on zeros before they are put where the registry
looks for them.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .._fs import copy_atomic
from ..convert.caffe import INPUT_NAME, _Net, caffe_to_onnx
from ..convert.caffe_format import read_caffemodel
from ..errors import InputError, ModelError
from .extra import levi_hassner_weights_path
from .record import ModelRecord
from .zoo import get

log = logging.getLogger(__name__)




def add_levi_hassner(caffemodel: Path, task: str | None = None) -> Path:
    """Check Levi & Hassner ``caffemodel`` weights against their deploy prototxt and copy
    them to where the registry looks (``<cache>/levi-hassner-<task>/<task>_net.caffemodel``).

    ``task`` (``"age"`` or ``"gender"``) is taken from the file name when ``None``. Returns
    the destination. Raises :class:`InputError` for a missing, unreadable or mismatched file.
    """
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
    dest = copy_atomic(src, levi_hassner_weights_path(task))
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


def caffe_mean_image(record: ModelRecord, size: tuple[int, int], channels: str) -> NDArray[np.float32]:
    """The mean image named by ``record.card["input"]["mean_image"]`` (one of the record's
    files, a Caffe ``BlobProto``: 3 x 256 x 256, BGR, 0..255), centre-cropped to ``size``
    (width, height), as (H, W, 3) float32 in ``channels`` order; zeros when the card names
    none. (The runtime wrapper, :class:`agegender.estimate.caffe.CaffeModel`, subtracts it.)"""
    from ..convert.caffe_format import center_crop, read_binaryproto

    w, h = size
    fname = record.card.get("input", {}).get("mean_image")
    if not fname:
        return np.zeros((h, w, 3), np.float32)
    base = dataclasses.replace(record, convert=None)
    found = dict(zip((f.filename for f in base.files), base.paths()))
    if fname not in found:
        raise ModelError(
            f"model {record.name!r}: its card names the mean image {fname!r}, which is not one "
            "of its files"
        )
    hwc = center_crop(read_binaryproto(found[fname]), (w, h)).transpose(1, 2, 0)  # BGR
    if channels == "RGB":
        hwc = hwc[..., ::-1]
    return np.ascontiguousarray(hwc, np.float32)
