"""``agegender train``: train or fine-tune an age / gender model, export ONNX and a card.

Importing this module imports neither torch nor the training code: the command checks for
torch only when it runs, so the rest of the CLI works without it.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("agegender")

INSTALL_HINT = "pip install 'agegender[train]'"


def add_train_parser(sub: Any) -> None:
    """Add ``train`` to the CLI; training has its own options (its ``--device`` is torch's)."""
    tr = sub.add_parser(
        "train",
        help="train or fine-tune an age/gender model on labeled faces (needs torch)",
        description="Train on labeled face crops (UTKFace, Adience, FairFace, CSV); keep the "
        "best epoch on the validation split; write OUT/model.onnx (+ float16 copy) and "
        "OUT/card.json for `agegender models add`. Needs " + INSTALL_HINT + ".",
    )
    tr.add_argument("--task", default="age", choices=["age", "gender", "both"])
    tr.add_argument("--arch", default=None,
                    choices=["cydral", "levi-hassner", "ssrnet", "faceres", "faceres-top"],
                    help="cydral (fine-tune the Cydral networks; default), levi-hassner, ssrnet, "
                    "faceres (fine-tune HSE FaceRes for both tasks on DATASET[,DATASET...]), "
                    "faceres-top (the default's recipe: chips cut by the pipeline's detector, "
                    "FaceRes's lower blocks cached once, its top trained on the cache; "
                    "age bins, exact ages and gender-only sets mixed)")
    tr.add_argument("--cache", default=None, metavar="DIR",
                    help="faceres-top: folder for the chips and the feature cache (reused by "
                    "the next run; default OUT/cache)")
    tr.add_argument("--top-blocks", type=int, default=1, metavar="K",
                    help="faceres-top: how many of FaceRes's 13 blocks train (the ones below are "
                    "cached once); 1 trains block 13")
    tr.add_argument("--flip-sets", default="fairface", metavar="NAMES",
                    help="faceres-top: data sets (by name) whose mirrored chips are cached too")
    tr.add_argument("--freeze-blocks", type=int, default=3,
                    help="faceres: keep the first N MobileNet blocks as published (0 trains all)")
    tr.add_argument("--epoch-size", type=int, default=None,
                    help="faceres: faces drawn per epoch (default: all)")
    tr.add_argument("--data", required=True, metavar="DATASET", help="data set folder or CSV")
    tr.add_argument("--format", default="auto", choices=["auto", "utkface", "adience", "fairface", "csv"])
    tr.add_argument("--split", default="train", help="training split (Adience: folds, e.g. 0,1,2,3)")
    tr.add_argument("--val-split", default="val", help="validation split ('' for none; Adience: e.g. 4)")
    tr.add_argument("--out", required=True, metavar="DIR", help="folder for checkpoints, log, model, card")
    tr.add_argument("--epochs", type=int, default=None)
    tr.add_argument("--batch", type=int, default=None)
    tr.add_argument("--lr", type=float, default=None, help="(peak) learning rate")
    tr.add_argument("--weight-decay", type=float, default=None)
    tr.add_argument("--optimizer", default=None, choices=["sgd", "adamw"])
    tr.add_argument("--schedule", default=None, choices=["onecycle", "step"])
    tr.add_argument("--step-at", type=int, default=None, help="step schedule: iteration of the x0.1 drop")
    tr.add_argument("--input-size", type=int, default=None, help="input side in pixels")
    tr.add_argument("--body", default=None, choices=["age", "gender"],
                    help="cydral: which network's body to start from (default: the task's)")
    tr.add_argument("--margin", type=float, default=0.0,
                    help="grow (or, negative, shrink) each crop by this fraction of its side")
    tr.add_argument("--dropout", type=float, default=None)
    tr.add_argument("--resume", metavar="CKPT", default=None, help="continue from OUT/last.pt")
    tr.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    tr.add_argument("--workers", type=int, default=2, help="threads decoding images into the cache")
    tr.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (default: torch's; 1 is fastest on a busy machine)")
    tr.add_argument("--limit", type=int, default=None, help="use N training faces (and N val faces)")
    tr.add_argument("--val-limit", type=int, default=None, help="use N validation faces")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--recipe", default=None, choices=["levi-hassner"],
                    help="the paper's recipe (SGD 1e-3 -> 1e-4, batch 50, 227 crops, mirroring)")
    tr.add_argument("--patience", type=int, default=5, help="early stop after N epochs without gain")
    tr.add_argument("--max-steps", type=int, default=None, help="stop after N optimiser steps")
    tr.add_argument("--time-limit", type=float, default=None, metavar="MIN",
                    help="stop after the epoch that passes MIN minutes of training (the "
                    "best epoch on val is kept and exported; the schedule is cut short)")
    tr.add_argument("--gender-weight", type=float, default=1.0, help="weight of the gender loss")
    tr.add_argument("--ld-sigma", type=float, default=2.0, help="age soft label width (years)")
    tr.add_argument("--ce-weight", type=float, default=0.0, help="age cross-entropy weight")
    tr.add_argument("--ld-weight", type=float, default=1.0, help="age label-distribution KL weight")
    tr.add_argument("--l1-weight", type=float, default=0.05, help="expected-age L1 weight")
    tr.add_argument("--label-smoothing", type=float, default=0.0)
    tr.add_argument("--no-augment", action="store_true", help="no jitter (mirroring only)")
    tr.add_argument("--export-flip", action="store_true",
                    help="bake mirror averaging (test-time flip) into the exported model")
    tr.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "compact"],
                    help="which exported file the card names (compact: fp16, int8 largest weights)")
    tr.add_argument("--max-bytes", type=int, default=5_000_000, help="size limit of 'compact'")
    tr.add_argument("--name", default=None, help="model name in the card (default: OUT's name)")
    tr.add_argument("--data-license", default=None, help="license of the training data, for the card")
    tr.add_argument("--cache-dir", default=None, help="where decoded faces are cached")
    tr.set_defaults(func=cmd_train)


class _Bar:
    """Training progress on stderr, only when it is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.t0 = time.monotonic()
        self.last = 0.0

    def step(self, epoch: int, i: int, n: int, loss: float) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if i < n and now - self.last < 0.2:
            return
        self.last = now
        done = int(30 * i / max(n, 1))
        sys.stderr.write(f"\repoch {epoch} [{'#' * done}{'.' * (30 - done)}] {i}/{n} "
                         f"loss {loss:.4f} ")
        sys.stderr.flush()

    def progress(self, what: str, i: int, n: int) -> None:
        if self.enabled:
            sys.stderr.write(f"\r{what} {i}/{n} ")
            sys.stderr.flush()
            if i == n:
                sys.stderr.write("\n")

    def epoch(self, row: dict[str, float], quiet: bool) -> None:
        if self.enabled:
            sys.stderr.write("\n")
        if quiet:
            return
        parts = [f"epoch {int(row['epoch'])}", f"train loss {row['train_loss']:.4f}"]
        for k, label, fmt in (("val_mae", "val MAE", "{:.3f}"), ("val_group_acc", "val group acc",
                              "{:.4f}"), ("val_gender_acc", "val gender acc", "{:.4f}")):
            v = row.get(k)
            if v is not None and v == v:
                parts.append(f"{label} {fmt.format(v)}")
        parts += [f"lr {row['lr']:.2e}", f"{row['seconds']:.0f}s"]
        sys.stderr.write("  ".join(parts) + "\n")
        sys.stderr.flush()


def _config(a: argparse.Namespace) -> Any:
    from ..train.config import TrainConfig
    from ..train.data import AugmentConfig
    from ..train.losses import AgeLossWeights

    augment = None
    if a.no_augment:
        augment = AugmentConfig(rotate=0, scale=0, translate=0, brightness=0, contrast=0,
                                saturation=0, random_crop=a.arch == "levi-hassner"
                                or a.recipe == "levi-hassner")
    arch = a.arch or ("levi-hassner" if a.recipe == "levi-hassner" else "cydral")
    return TrainConfig(
        data=a.data, out=Path(a.out), task=a.task, arch=arch, format=a.format,
        split=a.split or None, val_split=a.val_split or None, epochs=a.epochs, batch=a.batch,
        lr=a.lr, weight_decay=a.weight_decay, optimizer=a.optimizer, schedule=a.schedule,
        step_at=a.step_at, input_size=a.input_size, margin=a.margin, body=a.body,
        dropout=a.dropout, resume=Path(a.resume) if a.resume else None, device=a.device,
        workers=a.workers, limit=a.limit, val_limit=a.val_limit, seed=a.seed, recipe=a.recipe,
        patience=a.patience, max_steps=a.max_steps, time_limit=a.time_limit,
        gender_weight=a.gender_weight,
        label_smoothing=a.label_smoothing,
        age_loss=AgeLossWeights(ce=a.ce_weight, ld=a.ld_weight, l1=a.l1_weight, sigma=a.ld_sigma),
        augment=augment, cache_dir=Path(a.cache_dir) if a.cache_dir else None, name=a.name,
    )


def cmd_train(a: argparse.Namespace) -> int:
    """Run ``agegender train``: train, keep the best epoch, export ONNX and card(s)."""
    from ..errors import AgeGenderError

    try:
        import torch
    except ImportError:
        raise AgeGenderError(
            f"agegender train needs PyTorch, which is not installed: {INSTALL_HINT}"
        ) from None
    from ..train.export import DATA_LICENSES, export_model
    from ..train.loop import train

    if a.threads:
        torch.set_num_threads(a.threads)
    if a.arch == "faceres":
        from .train_faceres import run

        return run(a)
    if a.arch == "faceres-top":
        from .train_faceres_top import run as run_top

        return run_top(a)
    cfg = _config(a)
    cfg.command = "agegender " + " ".join(shlex.quote(x) for x in getattr(a, "argv", []))
    bar = _Bar(enabled=not a.quiet)
    t0 = time.monotonic()
    res = train(cfg, on_step=bar.step, on_epoch=lambda r: bar.epoch(r, a.quiet),
                on_progress=bar.progress)
    c = res.config
    fmt = res.data_format or a.format
    training = {
        "data": f"{Path(a.data).name} ({fmt} format), split {c.split!r}, {res.n_train} faces",
        "data_license": a.data_license or DATA_LICENSES.get(fmt, "see the data set's license"),
        "arch": c.arch, "task": c.task, "epochs_run": len(res.history), "best_epoch": res.best_epoch,
        "val": {k: round(v, 4) for k, v in res.best.items() if k.startswith("val_") and v == v},
        "train_seconds": round(res.seconds, 1), "commands": res.commands,
        **({"stopped": res.stopped} if res.stopped else {}),
        "base": "Cydral dlib-models network (CC0-1.0)" if c.arch == "cydral" else "from scratch",
    }
    files = export_model(
        res.net, c.out, name=c.name or c.out.name, margin=c.margin, val=res.val,
        flip=a.export_flip, training=training,
        data_license=a.data_license or DATA_LICENSES.get(fmt),
        base_license="Cydral (dlib-models), CC0-1.0" if c.arch == "cydral" else None,
        precision=a.precision, max_bytes=a.max_bytes,
    )
    val: dict[str, Any] = training["val"]  # type: ignore[assignment]
    summary = {"best_epoch": res.best_epoch, **val,
               "train_seconds": training["train_seconds"],
               "total_seconds": round(time.monotonic() - t0, 1),
               "files": {k: str(v) for k, v in files.items()}}
    (c.out / "train.json").write_text(json.dumps({**summary, "training": training,
                                                   "history": res.history}, indent=2) + "\n")
    sys.stdout.write(json.dumps(summary) + "\n")
    if not a.quiet:
        cards = [v for k, v in files.items() if k.startswith("card-")]
        sys.stderr.write("register with: " + "; ".join(f"agegender models add {p}" for p in cards)
                         + "\n")
    return 0
