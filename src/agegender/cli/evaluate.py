"""``agegender eval``: score models on a labeled data set and write a report."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from ._common import add_model_options, make_analyzer
from .progress import Progress

log = logging.getLogger("agegender")


def add_eval_parser(sub: Any) -> None:
    ev = sub.add_parser(
        "eval",
        help="evaluate on a labeled data set (UTKFace, Adience, FairFace, CSV)",
        description="Report age MAE, CS@5, Adience 8-group accuracy, gender accuracy and "
        "calibration, interval coverage, detection rate, per-group breakdowns, a table per "
        "ten-year band of true age and perceived gender's risk-coverage. With "
        "--gender-min-confidence, undetermined faces count as not answered.",
    )
    ev.add_argument("dataset", help="data set folder or CSV file")
    ev.add_argument("--format", default="auto", choices=["auto", "utkface", "adience", "fairface", "csv"])
    ev.add_argument("--split", default=None, help="split to evaluate (e.g. test); Adience: fold numbers")
    ev.add_argument("--crops", action="store_true", help="images are face crops: no detection")
    ev.add_argument("--limit", type=int, default=None, help="evaluate N samples spread evenly")
    ev.add_argument("--report", metavar="DIR", help="write report.json, report.md and plots here")
    add_model_options(ev)
    ev.set_defaults(func=cmd_eval)


def cmd_eval(a: argparse.Namespace) -> int:
    import numpy as np

    from ..eval import build_report, read_dataset, summary_text, write_report
    from ..eval.run import predict_samples

    ds = read_dataset(a.dataset, format=a.format, split=a.split)
    samples = list(ds.samples)
    if a.limit and a.limit < len(samples):
        pick = np.linspace(0, len(samples) - 1, a.limit).round().astype(int)
        samples = [samples[i] for i in pick]
    for p in ds.problems:
        log.warning("%s", p)
    analyzer = make_analyzer(a)
    progress = Progress(len(samples), enabled=not a.quiet)

    def step(n: int) -> None:
        while progress.n < n:
            progress.step()

    preds = predict_samples(analyzer, samples, crops=a.crops, on_progress=step)
    progress.close()
    running = analyzer.describe()
    meta = {
        "dataset": str(a.dataset),
        "format": ds.format,
        "split": a.split,
        "mode": "crops" if a.crops else "pipeline",
        "detector": None if a.crops else running["detector"]["name"],
        "age_model": running["age_model"],
        "gender_model": running["gender_model"],
        "profile": running["profile"]["name"],
        "profile_license": running["profile"]["license"],
        "tta": a.tta,
        "gender_min_confidence": a.gender_min_confidence,
        "samples": len(samples),
        "rejected_label_rows": len(ds.problems),
        "unreadable_images": sum(1 for p in preds if p.get("error")),
    }
    report = build_report(preds, samples, meta=meta, gender_min_confidence=a.gender_min_confidence)
    sys.stdout.write(summary_text(report) + "\n")
    if a.report:
        files = write_report(report, Path(a.report))
        log.warning("report written: %s", ", ".join(str(f) for f in files.values()))
    return 0
