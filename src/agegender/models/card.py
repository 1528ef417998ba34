"""Model cards: how to feed an age or gender model and how to read its output.

A card is a small JSON (or YAML) document; built-in models carry one in their
registry record, and ``agegender models add CARD`` registers a user's model::

    {
      "name": "dex-age", "task": "age", "license": "...",
      "file": "dex_age.onnx", "sha256": "...",      # or "url" + "sha256"
      "input": {"size": 224, "layout": "NCHW", "channels": "BGR",
                "mean": [0, 0, 0], "std": 1.0},
      "crop": {"method": "box", "margin": 0.4},     # or {"method": "align", "template": [[x, y] x5]}
                                                    # "mask_background": true fades all but the face
      "output": {"decode": "expected_value", "ages": [0, 1, ..., 100]}
    }

Input values are ``(pixel - mean) / std`` with pixels in 0..255 (``mean`` and
``std`` per channel or one number). Decodings:

* ``expected_value`` — softmax over the ages listed in ``ages``; years = expected value.
* ``groups`` — softmax over age groups (``groups``: ``[[lo, hi], ...]``, default Adience 8).
* ``regression`` — one number of years (``scale`` multiplies it); a Gaussian of
  ``sigma`` years stands in for the missing distribution.
* ``sigmoid`` — one number, probability of ``positive`` (``"male"`` or ``"female"``).
* ``softmax`` — probabilities over ``labels`` (must contain ``female`` and ``male``).

* ``l2`` / ``raw`` (embeddings) — a vector per face, scaled to unit length or as is.

A network with several heads is one model: its card has ``"outputs"``, one such object
per task (``{"age": {...}, "gender": {...}, "embedding": {...}}``, each with the ``name`` of
its graph output), in place of ``"output"``, and the network runs once for all of them.

``"softmax": false`` says the graph already outputs probabilities. ``"temperature": T``
(default 1) calibrates confidences, fitted on validation data with
``tools/calibrate_temperature.py``: for age it flattens the distribution (``p ** (1/T)``)
so that its intervals hold their nominal coverage, and years are unaffected; for gender
it divides the logit of p(male), so labels are unaffected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .record import ModelFile, ModelRecord

_DECODES_AGE = ("expected_value", "groups", "regression")
_DECODES_GENDER = ("sigmoid", "softmax")
_DECODES_EMBEDDING = ("l2", "raw")
_DECODES = {"age": _DECODES_AGE, "gender": _DECODES_GENDER, "embedding": _DECODES_EMBEDDING}


@dataclass(frozen=True)
class Card:
    """Validated preprocessing and decoding of one model."""

    size: tuple[int, int]  # (width, height)
    layout: str  # "NCHW" | "NHWC"
    channels: str  # "RGB" | "BGR"
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    crop: str  # "align" | "box"
    margin: float
    template: tuple[tuple[float, float], ...] | None
    decode: str
    params: dict[str, Any]
    input_name: str | None = None
    output_name: str | None = None
    #: Fade everything outside the face ellipse to the chip's mean (agegender.mask)
    mask_background: bool = False

    @staticmethod
    def parse(d: dict[str, Any], *, task: str, where: str = "card") -> Card:
        def bad(msg: str) -> InputError:
            return InputError(f"{where}: {msg}")

        inp = d.get("input")
        out = d.get("output")
        outs = d.get("outputs")
        if outs is not None:
            if not isinstance(outs, dict) or not outs:
                raise bad("'outputs' must map each task (age, gender, embedding) to its output")
            if task not in outs:
                raise bad(f"has no {task!r} output; its outputs are {', '.join(outs)}")
            out = outs[task]
        if not isinstance(inp, dict) or not isinstance(out, dict):
            raise bad("needs an 'input' object and an 'output' object (or 'outputs')")
        size = inp.get("size")
        if isinstance(size, int):
            size = (size, size)
        if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(
            isinstance(v, int) and 8 <= v <= 2048 for v in size
        )):
            raise bad(f"input.size must be an int or [width, height] within 8..2048, got {size!r}")
        layout = str(inp.get("layout", "NCHW")).upper()
        if layout not in ("NCHW", "NHWC"):
            raise bad(f"input.layout must be NCHW or NHWC, got {layout!r}")
        channels = str(inp.get("channels", "RGB")).upper()
        if channels not in ("RGB", "BGR"):
            raise bad(f"input.channels must be RGB or BGR, got {channels!r}")

        def triple(v: Any, name: str, default: float) -> tuple[float, float, float]:
            v = default if v is None else v
            if isinstance(v, (int, float)):
                return (float(v),) * 3
            if isinstance(v, (list, tuple)) and len(v) == 3:
                return tuple(float(x) for x in v)  # type: ignore[return-value]
            raise bad(f"input.{name} must be a number or 3 numbers, got {v!r}")

        mean = triple(inp.get("mean"), "mean", 0.0)
        std = triple(inp.get("std"), "std", 1.0)
        if any(s == 0 for s in std):
            raise bad("input.std must not be 0")
        crop_d = d.get("crop", {"method": "box", "margin": 0.2})
        crop = str(crop_d.get("method", "box"))
        if crop not in ("align", "box"):
            raise bad(f"crop.method must be 'align' or 'box', got {crop!r}")
        template = crop_d.get("template")
        if crop == "align":
            if not (isinstance(template, list) and len(template) == 5):
                raise bad("crop.method 'align' needs crop.template: five [x, y] in chip units")
            template = tuple((float(x), float(y)) for x, y in template)
        mask_bg = crop_d.get("mask_background", False)
        if not isinstance(mask_bg, bool):
            raise bad(f"crop.mask_background must be true or false, got {mask_bg!r}")
        decode = str(out.get("decode", ""))
        allowed = _DECODES.get(task, _DECODES_GENDER)
        if decode not in allowed:
            raise bad(f"output.decode for a {task} model must be one of {allowed}, got {decode!r}")
        params = {k: v for k, v in out.items() if k != "decode"}
        if decode == "expected_value" and not isinstance(params.get("ages"), list):
            raise bad("output.ages must list the age (years) of each output class")
        if decode == "softmax":
            labels = params.get("labels")
            if not (isinstance(labels, list) and {"female", "male"} <= set(labels)):
                raise bad("output.labels must name the classes and include 'female' and 'male'")
        if decode == "sigmoid" and params.get("positive", "male") not in ("male", "female"):
            raise bad("output.positive must be 'male' or 'female'")
        return Card(
            size=(int(size[0]), int(size[1])),
            layout=layout,
            channels=channels,
            mean=mean,
            std=std,
            crop=crop,
            margin=float(crop_d.get("margin", 0.0)),
            template=template,
            decode=decode,
            params=params,
            input_name=inp.get("name"),
            output_name=out.get("name"),
            mask_background=mask_bg,
        )


def record_from_card(d: dict[str, Any], *, origin: str) -> ModelRecord:
    """A registry record for a user's model card (validated now, not at first use)."""

    where = f"model card {origin}"
    for key in ("name", "task"):
        if not isinstance(d.get(key), str):
            raise InputError(f"{where}: needs a string '{key}'")
    if d["task"] not in ("age", "gender", "embedding", "multi"):
        raise InputError(
            f"{where}: task must be 'age', 'gender', 'embedding' or 'multi' (several "
            f"'outputs'), got {d['task']!r}"
        )
    if d["task"] == "multi" and not isinstance(d.get("outputs"), dict):
        raise InputError(f"{where}: task 'multi' needs 'outputs': task -> output")
    for task in d["outputs"] if d["task"] == "multi" else [d["task"]]:
        Card.parse(d, task=task, where=where)
    if "file" in d:
        f = ModelFile(str(Path(d["file"]).expanduser().resolve()), d.get("sha256"))
    elif "url" in d:
        if not d.get("sha256"):
            raise InputError(f"{where}: a 'url' needs its 'sha256' so the download can be checked")
        f = ModelFile(Path(d["url"]).name, d["sha256"], url=d["url"], mirror_path=d.get("mirror_path"))
    else:
        raise InputError(f"{where}: needs 'file' (a local .onnx path) or 'url' + 'sha256'")
    return ModelRecord(
        name=d["name"],
        task=d["task"],
        description=d.get("description", "user model"),
        license=d.get("license", "unknown"),
        files=(f,),
        card={k: d[k] for k in ("input", "crop", "output", "outputs") if k in d},
        origin=origin,
    )
