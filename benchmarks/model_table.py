"""Accuracy of several models on one labeled data set, as `agegender eval` scores them.

Each image is decoded and detected once (``--detector``); every model configuration
then estimates the same faces, through the pipeline (the face `eval` picks: largest and
most central) and on the given crops (`eval --crops`), optionally with background
removal. The figures are those of `agegender eval` with the same options (it uses the
same readers, face choice and report); this script only shares the detection.

Usage (Adience fold 0 and UTKFace val, as in docs/accuracy.md)::

    AGEGENDER_MIRROR=../shared/models nice -n 15 python benchmarks/model_table.py \\
        ../shared/data/adience --format adience --json /tmp/adience.json
    AGEGENDER_MIRROR=../shared/models nice -n 15 python benchmarks/model_table.py \\
        ../shared/data/utkface --split val --configs cydral,trained --mask off,on

Configurations (``--configs``): ``cydral`` (the defaults), ``trained`` (the opt-in
ensembles in ``weights/``, registered here from their cards without touching
``AGEGENDER_HOME``), ``ssrnet-imdb``, ``ssrnet-wiki``, ``ssrnet-morph``,
``ssrnet-megaage`` (SSR-Net, from the mirror).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))  # run from a checkout

from agegender.ages import ADIENCE_LABELS  # noqa: E402
from agegender.eval import build_report, read_dataset  # noqa: E402
from agegender.eval.run import _pred, pick_face  # noqa: E402
from agegender.faces import Faces  # noqa: E402
from agegender.io.images import decode_image  # noqa: E402

log = logging.getLogger("benchmarks.model_table")

CONFIGS: dict[str, tuple[str, str | None, str | None]] = {
    "cydral": ("Cydral (default)", "cydral-age", "cydral-gender"),
    "trained": (
        "trained here, opt-in (weights/)",
        "utkface-age-96+utkface-age-64",
        "utkface-gender-96+utkface-gender-32",
    ),
    "ssrnet-imdb": ("SSR-Net IMDB", "ssrnet-age.imdb", "ssrnet-gender.imdb"),
    "ssrnet-wiki": ("SSR-Net WIKI", "ssrnet-age.wiki", "ssrnet-gender.wiki"),
    "ssrnet-morph": ("SSR-Net MORPH2 / MORPH", "ssrnet-age.morph2", "ssrnet-gender.morph"),
    "ssrnet-megaage": ("SSR-Net MegaAge-Asian (age only)", "ssrnet-age.megaage-asian", None),
}


def _register_weights() -> None:
    from agegender.models import register
    from agegender.models.card import record_from_card

    for card_path in sorted((REPO / "weights").glob("*/card.json")):
        card = json.loads(card_path.read_text())
        card["file"] = str(card_path.parent / card["file"])
        register(record_from_card(card, origin=str(card_path)), replace=True)


def _row(report: dict[str, Any]) -> dict[str, Any]:
    ad = report.get("adience") or {}
    cm = np.asarray(ad.get("confusion_matrix") or np.zeros((8, 8)), np.float64)
    per_group = {
        lab: {"n": int(cm[i].sum()), "exact": float(cm[i, i] / cm[i].sum()) if cm[i].sum() else None}
        for i, lab in enumerate(ADIENCE_LABELS)
    }
    return {
        "found": report["detection"]["rate"],
        "n": report["n_samples"],
        "exact": ad.get("exact"),
        "one_off": ad.get("one_off"),
        "n_age": ad.get("n"),
        "mae": (report.get("age") or {}).get("mae"),
        "gender": (report.get("gender") or {}).get("accuracy"),
        "n_gender": (report.get("gender") or {}).get("n"),
        "per_group": per_group,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset")
    ap.add_argument("--format", default="auto")
    ap.add_argument("--split", default=None)
    ap.add_argument("--detector", default="hog-mtcnn", help="detector of the pipeline rows")
    ap.add_argument("--configs", default="cydral,trained,ssrnet-imdb,ssrnet-wiki,ssrnet-morph,ssrnet-megaage")
    ap.add_argument("--modes", default="pipeline,crops")
    ap.add_argument("--mask", default="off", help="off, on or off,on (background removal)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", help="write all rows here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from agegender.analyzer import Analyzer
    from agegender.detect import create_detector

    _register_weights()
    ds = read_dataset(args.dataset, format=args.format, split=args.split)
    samples = list(ds.samples)
    if args.limit and args.limit < len(samples):
        pick = np.linspace(0, len(samples) - 1, args.limit).round().astype(int)
        samples = [samples[i] for i in pick]
    images = [decode_image(s.path) for s in samples]
    modes = args.modes.split(",")
    picked: list[Faces] = []
    if "pipeline" in modes:
        det = create_detector(args.detector)
        t0 = time.perf_counter()
        for im in images:
            f = det.detect(im)
            i = pick_face(f, im.shape[1], im.shape[0])
            picked.append(Faces.empty() if i is None else f[[i]])
        log.info("detected %d images in %.0f s", len(images), time.perf_counter() - t0)
    crops = [
        Faces(boxes=[[0, 0, im.shape[1], im.shape[0]]], scores=[1.0],
              landmarks=np.full((1, 5, 2), np.nan, np.float32))
        for im in images
    ]
    rows = []
    for key in args.configs.split(","):
        label, age, gender = CONFIGS[key]
        for mask in args.mask.split(","):
            an = Analyzer(detector="hog", age_model=age, gender_model=gender,
                          mask_background=(mask == "on"))
            for mode in modes:
                faces_in = picked if mode == "pipeline" else crops
                t0 = time.perf_counter()
                preds = []
                for s in range(0, len(images), 64):
                    got = an.estimate(images[s:s + 64], faces_in[s:s + 64], whole=(mode == "crops"))
                    preds += [_pred(f, 0 if len(f) else None, 0.0) for f in got]
                report = build_report(preds, samples, meta={"mode": mode})
                row = {"config": key, "label": label, "age_model": age, "gender_model": gender,
                       "mode": mode, "mask": mask, **_row(report)}
                rows.append(row)
                log.info("%-34s %-8s mask %-3s exact %s one-off %s MAE %s gender %s (%.0f s)",
                         label, mode, mask, _pct(row["exact"]), _pct(row["one_off"]),
                         _num(row["mae"]), _pct(row["gender"]), time.perf_counter() - t0)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"dataset": args.dataset, "split": args.split, "detector": args.detector,
             "n": len(samples), "rows": rows}, indent=1))
    print(table(rows))
    return 0


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}"


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: one line per configuration, mode and mask."""
    out = ["| model | mode | mask | faces found | exact | one-off | age MAE | gender |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['label']} | {r['mode']} | {r['mask']} | {_pct(r['found'])} | "
                   f"{_pct(r['exact'])} | {_pct(r['one_off'])} | {_num(r['mae'])} | "
                   f"{_pct(r['gender'])} |")
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
