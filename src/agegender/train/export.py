"""Export a trained :class:`~agegender.train.models.Net` to ONNX with a model card.

:func:`export_model` writes, into a folder:

* ``model.onnx``: float32, opset 17, input ``input`` (N, 3, S, S) as the card describes,
  one output per task: ``age`` (probabilities over 0..100 years, over the 8 Adience groups,
  or years) and/or ``gender`` (probabilities of [female, male], or a male score);
* ``model.fp16.onnx``: the same with float16 weights (cast to float32 when loaded: float32
  input, output and arithmetic, half the size);
* ``card.json`` (and ``card-gender.json`` when one network has both heads): the card that
  ``agegender models add`` registers, naming the file, its sha256, the preprocessing, the
  training data and its license.

``flip=True`` bakes test-time mirroring into the graph (the mean of the face and its
mirror). Age cards get a ``temperature`` fitted on the validation faces (their 10..90%
interval then holds the true age 80% of the time), regression cards a fitted ``sigma``, and
gender cards the ``temperature`` of the logit that minimises the validation NLL.
"""

from __future__ import annotations

import io
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._fs import sha256_file
from ..errors import ModelError
from .data import FaceSet, template_for_margin
from .models import Net

log = logging.getLogger(__name__)

OPSET = 17
INPUT_NAME = "input"

#: Known training data sets and their licenses (what a card must say about its weights).
DATA_LICENSES = {
    "utkface": "UTKFace: non-commercial research purposes only; the copyright of each "
    "photo stays with its owner",
}


class ExportWrapper(nn.Module):
    """A Net as it is exported: probabilities for classifiers, optionally flip-averaged."""

    def __init__(self, net: Net, flip: bool = False) -> None:
        super().__init__()
        self.net = net
        self.flip = flip

    def _one(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for t, y in zip(self.net.tasks, self.net(x)):
            outs.append(torch.softmax(y, 1) if self.net.kinds[t] in
                        ("dist", "groups", "logits2") else y.reshape(-1, 1))
        return outs

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = self._one(x)
        if self.flip:
            outs = [(a + b) * 0.5 for a, b in zip(outs, self._one(x.flip(3)))]
        return tuple(outs)


def onnx_bytes(net: Net, *, flip: bool = False) -> bytes:
    """The float32 ONNX graph of ``net`` (eval mode, dynamic batch)."""
    wrapper = ExportWrapper(net, flip).eval().cpu()
    x = torch.zeros(2, 3, net.inp.size, net.inp.size)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            wrapper, (x,), buf, dynamo=False, opset_version=OPSET, input_names=[INPUT_NAME],
            output_names=list(net.tasks),
            dynamic_axes={INPUT_NAME: {0: "N"}, **{t: {0: "N"} for t in net.tasks}},
            do_constant_folding=True,
        )
    return buf.getvalue()


def fp16_weights(data: bytes) -> bytes:
    """The model with every float32 weight stored as float16 and cast back when loaded."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load_from_string(data)
    g = m.graph
    keep, casts = [], []
    for t in g.initializer:
        arr = numpy_helper.to_array(t)
        if arr.dtype != np.float32 or arr.size < 16:
            keep.append(t)
            continue
        half = t.name + "__fp16"
        keep.append(numpy_helper.from_array(arr.astype(np.float16), half))
        casts.append(helper.make_node("Cast", [half], [t.name], to=onnx.TensorProto.FLOAT,
                                      name=t.name + "__cast"))
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    onnx.checker.check_model(m)
    return m.SerializeToString()


def int8_weights(data: bytes, max_bytes: int) -> bytes:
    """Store the largest weights as int8 (per output channel) until the file fits
    ``max_bytes``; the rest stays float16. Weights are dequantized when the model loads."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load_from_string(fp16_weights(data))
    g = m.graph
    by_name = {t.name: t for t in g.initializer}
    halves = sorted((t for t in g.initializer if t.name.endswith("__fp16")),
                    key=lambda t: -int(np.prod(t.dims)))
    size = m.ByteSize()
    for t in halves:
        if size <= max_bytes:
            break
        arr = numpy_helper.to_array(t).astype(np.float32)
        if arr.ndim < 2:
            continue
        flat = arr.reshape(arr.shape[0], -1)
        scale = np.maximum(np.abs(flat).max(axis=1), 1e-12) / 127.0
        q = np.clip(np.rint(flat / scale[:, None]), -127, 127).astype(np.int8).reshape(arr.shape)
        base = t.name[: -len("__fp16")]
        g.initializer.remove(by_name[t.name])
        g.initializer.extend([
            numpy_helper.from_array(q, base + "__int8"),
            numpy_helper.from_array(scale.astype(np.float32), base + "__scale"),
            numpy_helper.from_array(np.zeros(arr.shape[0], np.int8), base + "__zero"),
        ])
        cast = next(n for n in g.node if n.name == base + "__cast")
        idx = list(g.node).index(cast)
        g.node.remove(cast)
        g.node.insert(idx, helper.make_node(
            "DequantizeLinear", [base + "__int8", base + "__scale", base + "__zero"], [base],
            axis=0, name=base + "__dequant"))
        size = m.ByteSize()
    if size > max_bytes:
        raise ModelError(f"the model is {size} bytes even with int8 weights (limit {max_bytes})")
    onnx.checker.check_model(m)
    return m.SerializeToString()


def verify_onnx(net: Net, data: bytes, x: torch.Tensor, *, flip: bool = False,
                atol: float = 1e-4) -> float:
    """Largest difference between onnxruntime and torch on ``x``; raises above ``atol``."""
    import onnxruntime as ort

    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = [t.numpy() for t in ExportWrapper(net, flip).eval().cpu()(x)]
    got = sess.run(None, {INPUT_NAME: x.numpy()})
    err = max(float(np.abs(a - b).max()) for a, b in zip(got, ref))
    if err > atol:
        raise ModelError(f"the exported ONNX model differs from torch by {err:.2e} (> {atol})")
    return err


# ------------------------------------------------------------------ calibration
def fit_temperature(dist: np.ndarray, ages: np.ndarray, target: float = 0.8) -> float:
    """The temperature (p ** (1/T)) whose 10..90% interval holds ``target`` of true ages."""
    from ..ages import age_quantiles

    best = (1.0, -1.0)
    for t in np.arange(0.5, 6.01, 0.1):
        d = np.power(np.clip(dist, 1e-12, None), 1.0 / t)
        d = d / d.sum(axis=1, keepdims=True)
        lo, hi = age_quantiles(d, 0.1), age_quantiles(d, 0.9)
        cov = float(np.mean((ages >= lo) & (ages <= hi)))
        if best[1] < 0 or abs(cov - target) < abs(best[1] - target):
            best = (round(float(t), 2), cov)
    return best[0]


def _val_outputs(net: Net, val: FaceSet, flip: bool) -> list[np.ndarray]:
    from .data import Augment, AugmentConfig, normalize

    aug = Augment(AugmentConfig(), net.inp.size)
    wrapper = ExportWrapper(net, flip).eval()
    dev = next(net.parameters()).device
    outs: list[list[np.ndarray]] = [[] for _ in net.tasks]
    with torch.no_grad():
        for s in range(0, len(val), 256):
            x = aug(torch.from_numpy(val.images[s : s + 256]).to(dev), train=False)
            for k, y in enumerate(wrapper(normalize(x, net.inp.mean, net.inp.std,
                                                    net.inp.channels))):
                outs[k].append(y.cpu().numpy())
    return [np.concatenate(o) for o in outs]


def fit_gender_temperature(p_male: np.ndarray, male: np.ndarray) -> float:
    """The T dividing the logit of p(male) that minimises the validation NLL."""
    p = np.clip(p_male, 1e-7, 1 - 1e-7)
    logit = np.log(p / (1 - p))
    best = (1.0, np.inf)
    for t in np.arange(0.5, 4.01, 0.05):
        q = np.clip(1 / (1 + np.exp(-logit / t)), 1e-7, 1 - 1e-7)
        nll = float(-np.mean(male * np.log(q) + (1 - male) * np.log(1 - q)))
        if nll < best[1]:
            best = (round(float(t), 2), nll)
    return best[0]


def calibration(net: Net, val: FaceSet | None, flip: bool) -> dict[str, dict[str, float]]:
    """Per task, what its card gets from the validation faces: age ``temperature`` (or
    ``sigma`` for years), gender ``temperature`` (classifiers only)."""
    res: dict[str, dict[str, float]] = {t: {} for t in net.tasks}
    if val is None or len(val) == 0:
        return res
    from ..ages import groups_to_distribution

    outs = _val_outputs(net, val, flip)
    known = ~np.isnan(val.ages)
    if "age" in net.tasks and known.any():
        y = outs[net.tasks.index("age")]
        kind = net.kinds["age"]
        if kind == "regression":
            err = np.abs(y[known, 0] - val.ages[known])
            res["age"] = {"sigma": round(float(np.quantile(err, 0.8) / 1.2816), 2)}
        else:
            dist = y if kind == "dist" else groups_to_distribution(y)
            res["age"] = {"temperature": fit_temperature(dist[known], val.ages[known])}
    sexed = val.genders >= 0
    if "gender" in net.tasks and net.kinds["gender"] == "logits2" and sexed.any():
        pm = outs[net.tasks.index("gender")][sexed, 1]
        res["gender"] = {"temperature": fit_gender_temperature(pm, val.genders[sexed])}
    return res


# ------------------------------------------------------------------ cards
def _output_card(net: Net, task: str, cal: dict[str, dict[str, float]]) -> dict[str, Any]:
    k = net.kinds[task]
    if k == "dist":
        out: dict[str, Any] = {"decode": "expected_value",
                               "ages": [int(a) for a in net.age_classes.tolist()],
                               "softmax": False}
    elif k == "groups":
        out = {"decode": "groups", "softmax": False}
    elif k == "regression":
        out = {"decode": "regression", "sigma": 4.0}
    elif k == "logits2":
        out = {"decode": "softmax", "labels": ["female", "male"], "softmax": False}
    else:
        out = {"decode": "sigmoid", "positive": "male"}
    out.update(cal.get(task, {}))
    out["name"] = task
    return out


def make_card(
    net: Net, task: str, *, name: str, file: str, sha256: str, margin: float,
    training: dict[str, Any], license: str, description: str, cal: dict[str, dict[str, float]],
) -> dict[str, Any]:
    """A card in :mod:`agegender.models.card`'s format for one task of ``net``."""
    inp = net.inp
    return {
        "name": name,
        "task": task,
        "description": description,
        "license": license,
        "file": file,
        "sha256": sha256,
        "input": {"size": inp.size, "layout": "NCHW", "channels": inp.channels,
                  "mean": [round(float(v), 6) for v in inp.mean],
                  "std": [round(float(v), 6) for v in inp.std], "name": INPUT_NAME},
        "crop": {"method": "align", "template": template_for_margin(margin)},
        "output": _output_card(net, task, cal),
        "training": training,
    }


def card_names(name: str, tasks: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """Per task: (model name, card file name). One task: ``name`` and ``card.json``."""
    if len(tasks) == 1:
        return {tasks[0]: (name, "card.json")}
    return {"age": (f"{name}-age", "card.json"), "gender": (f"{name}-gender", "card-gender.json")}


def export_model(
    net: Net,
    out: Path,
    *,
    name: str,
    margin: float = 0.0,
    val: FaceSet | None = None,
    flip: bool = False,
    training: dict[str, Any] | None = None,
    data_license: str | None = None,
    base_license: str | None = None,
    precision: str = "fp32",
    max_bytes: int | None = None,
) -> dict[str, Path]:
    """Write the ONNX files and card(s) into ``out``; return their paths by role.

    ``precision`` picks the file the cards point at: ``fp32`` (``model.onnx``), ``fp16``
    (``model.fp16.onnx``) or ``compact`` (float16, largest weights int8 until the file is
    at most ``max_bytes``; ``model.compact.onnx``).
    """
    net = net.eval().cpu()
    out.mkdir(parents=True, exist_ok=True)
    data = onnx_bytes(net, flip=flip)
    x = torch.from_numpy(np.random.default_rng(0).normal(0, 0.5, (4, 3, net.inp.size,
                                                                   net.inp.size)).astype(np.float32))
    err = verify_onnx(net, data, x, flip=flip)
    log.info("ONNX export matches torch to %.1e", err)
    paths = {"fp32": out / "model.onnx", "fp16": out / "model.fp16.onnx"}
    paths["fp32"].write_bytes(data)
    paths["fp16"].write_bytes(fp16_weights(data))
    if precision == "compact":
        paths["compact"] = out / "model.compact.onnx"
        paths["compact"].write_bytes(int8_weights(data, max_bytes or 5_000_000))
    elif precision not in ("fp32", "fp16"):
        raise ModelError(f"precision must be fp32, fp16 or compact, got {precision!r}")
    target = paths[precision]
    digest = sha256_file(target)
    cal = calibration(net, val, flip)
    lic = data_license or "the license of the training data set (check it before use)"
    lic_text = f"weights trained on {lic}" + (f"; base network {base_license}"
                                              if base_license else "")
    res: dict[str, Path] = {"onnx": target}
    for task, (nm, fname) in card_names(name, net.tasks).items():
        desc = (f"{net.arch} {task} model trained by `agegender train`"
                + (" (mirror-averaged)" if flip else ""))
        card = make_card(net, task, name=nm, file=target.name, sha256=digest, margin=margin,
                         training=training or {}, license=lic_text, description=desc, cal=cal)
        p = out / fname
        p.write_text(json.dumps(card, indent=2) + "\n")
        res[f"card-{task}"] = p
    return res
