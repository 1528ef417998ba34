"""DEX-style age models (Rothe, Timofte & Van Gool, "Deep EXpectation of apparent age",
ICCV 2015 workshops) as published in the ONNX Model Zoo.

``agegender models add dex --onnx FILE`` writes a model card for a file with that
interface and registers it (as ``dex-age``, or ``--name``):

* input ``1x3x224x224`` (NCHW), BGR, pixels 0..255 with no mean subtracted;
* output 101 probabilities (a softmax over ages 0..100; ``--logits`` if the graph stops
  before its softmax), decoded as their expected value;
* the face cropped from its box with a 40% margin on each side, as DEX was trained.

The ONNX Model Zoo (github.com/onnx/models, ``validated/vision/body_analysis/age_gender``)
has two such files: ``vgg_ilsvrc_16_age_imdb_wiki.onnx`` (trained on IMDB-WIKI) and
``vgg_ilsvrc_16_age_chalearn_iccv2015.onnx`` (fine-tuned on ChaLearn LAP 2015). The file's
interface is checked when it is added, so a file of another shape is refused at once.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..errors import InputError
from . import store

log = logging.getLogger(__name__)

DEX_SIZE = 224
DEX_CLASSES = 101
DEX_LICENSE = (
    "as published with the file (ONNX Model Zoo: Apache-2.0 for the zoo; DEX weights by "
    "Rothe et al., IMDB-WIKI: academic research only)"
)


def dex_card(onnx_path: Path, *, name: str = "dex-age", logits: bool = False) -> dict[str, Any]:
    """The model card of a DEX-style ONNX age model, after checking its interface."""
    path = Path(onnx_path).expanduser().resolve()
    if not path.is_file():
        raise InputError(f"models add dex: {path} does not exist; give the .onnx file with --onnx")
    inp_name, out_name = _check_interface(path)
    return {
        "name": name,
        "task": "age",
        "description": f"DEX-style age model ({path.name}): 101-way softmax over ages 0..100, "
        "expected value; 224x224 BGR 0..255, face box with a 40% margin",
        "license": DEX_LICENSE,
        "file": str(path),
        "sha256": store.sha256_of(path),
        "input": {"size": DEX_SIZE, "layout": "NCHW", "channels": "BGR", "mean": 0.0,
                  "std": 1.0, "name": inp_name},
        "crop": {"method": "box", "margin": 0.4},
        "output": {"decode": "expected_value", "ages": list(range(DEX_CLASSES)),
                   "softmax": bool(logits), "name": out_name},
    }


def _check_interface(path: Path) -> tuple[str, str]:
    """(input name, output name); raises InputError unless it is 1x3x224x224 -> 101."""
    import onnxruntime as ort

    try:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - any load failure is the user's file
        raise InputError(f"models add dex: onnxruntime cannot load {path}: {e}") from e
    inputs, outputs = sess.get_inputs(), sess.get_outputs()
    if len(inputs) != 1:
        raise InputError(f"models add dex: {path} has {len(inputs)} inputs; a DEX model has one")
    shape = list(inputs[0].shape)
    ok = len(shape) == 4 and list(shape[1:]) == [3, DEX_SIZE, DEX_SIZE] and (
        not isinstance(shape[0], int) or shape[0] >= 1)
    if not ok:
        raise InputError(
            f"models add dex: {path} takes input {inputs[0].name!r} of shape {shape}; a DEX "
            f"model takes 1x3x{DEX_SIZE}x{DEX_SIZE} (NCHW). For other models write a model card "
            "(see agegender/estimate/card.py) and use `agegender models add CARD`"
        )
    for out in outputs:
        last = out.shape[-1] if out.shape else None
        if last == DEX_CLASSES:
            return inputs[0].name, out.name
    shapes = ", ".join(f"{o.name} {list(o.shape)}" for o in outputs)
    raise InputError(
        f"models add dex: no output of {path} has {DEX_CLASSES} values (ages 0..100); it has "
        f"{shapes}. For other models write a model card and use `agegender models add CARD`"
    )


def add_dex(onnx_path: Path, *, name: str = "dex-age", logits: bool = False) -> Path:
    """Write the card of a DEX-style model into the user's cards; returns the card's path."""
    from .card import record_from_card
    from .user import cards_dir
    from .zoo import reload_user_cards

    card = dex_card(onnx_path, name=name, logits=logits)
    record_from_card(card, origin=f"models add dex --onnx {onnx_path}")  # validates the card
    d = cards_dir()
    d.mkdir(parents=True, exist_ok=True)
    dest = d / f"{name}.json"
    dest.write_text(json.dumps(card, indent=2))
    reload_user_cards()  # usable at once in this process too
    log.info("added DEX-style age model %r from %s", name, onnx_path)
    return dest
