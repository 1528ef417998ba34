"""The training loop: recipes, optimiser and schedule, validation, early stopping,
resumable checkpoints and a CSV log per epoch.

:func:`train` runs a :class:`TrainConfig` and returns a :class:`TrainResult`; the model it
keeps is the best one on the validation split, written as ``OUT/best.pt`` (``OUT/last.pt``
holds the latest epoch, with the optimiser, schedule, epoch and random states, so that
``resume=OUT/last.pt`` continues exactly where the run stopped). ``OUT/log.csv`` gets one row
per epoch: epoch, train loss, val loss, val MAE, val group accuracy, val gender accuracy,
learning rate, seconds.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from .config import TrainConfig, TrainResult, resolve
from .data import Augment, AugmentConfig, FaceSet, load_faces, normalize
from .losses import age_distribution_loss, class_loss, regression_l1
from .models import ModelOptions, Net, build_model, predict

log = logging.getLogger(__name__)

LOG_COLUMNS = ("epoch", "train_loss", "val_loss", "val_mae", "val_group_acc",
               "val_gender_acc", "lr", "seconds")


def pick_device(device: str) -> torch.device:
    """``auto``: CUDA when torch sees a GPU, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for, but torch sees no GPU; use --device cpu")
    if device not in ("cpu", "cuda"):
        raise InputError(f"--device must be auto, cpu or cuda, got {device!r}")
    return torch.device(device)


def compute_loss(
    net: Net, outputs: tuple[torch.Tensor, ...], ages: torch.Tensor, genders: torch.Tensor,
    groups: torch.Tensor, cfg: TrainConfig,
) -> torch.Tensor:
    """The sum of each task's loss (gender weighted by ``gender_weight``)."""
    total = outputs[0].new_zeros(())
    for t, y in zip(net.tasks, outputs):
        k = net.kinds[t]
        if k == "dist":
            total = total + age_distribution_loss(y, ages, net.age_classes, cfg.age_loss)
        elif k == "groups":
            total = total + class_loss(y, groups, cfg.label_smoothing)
        elif k == "regression":
            total = total + regression_l1(y, ages)
        elif k == "logits2":
            total = total + cfg.gender_weight * class_loss(y, genders, cfg.label_smoothing)
        else:
            total = total + cfg.gender_weight * regression_l1(y, genders.float())
    return total


def _labels(fs: FaceSet, idx: np.ndarray, dev: torch.device) -> tuple[torch.Tensor, ...]:
    return (
        torch.from_numpy(fs.ages[idx]).to(dev),
        torch.from_numpy(fs.genders[idx]).to(dev),
        torch.from_numpy(fs.groups[idx]).to(dev),
    )


def evaluate(
    net: Net, fs: FaceSet, cfg: TrainConfig, dev: torch.device, batch: int = 256
) -> dict[str, float]:
    """Validation loss, MAE, Adience group accuracy and gender accuracy (NaN if absent)."""
    aug = Augment(cfg.augment or AugmentConfig(), net.inp.size)
    net.eval()
    losses, ages_p, groups_p, pm = [], [], [], []
    with torch.no_grad():
        for s in range(0, len(fs), batch):
            idx = np.arange(s, min(s + batch, len(fs)))
            x = aug(torch.from_numpy(fs.images[idx]).to(dev), train=False)
            x = normalize(x, net.inp.mean, net.inp.std, net.inp.channels)
            out = net(x)
            a, g, gr = _labels(fs, idx, dev)
            losses.append(float(compute_loss(net, out, a, g, gr, cfg)) * len(idx))
            p = predict(net, out)
            if "age" in p:
                ages_p.append(p["age"].cpu().numpy())
            if "group" in p:
                groups_p.append(p["group"].cpu().numpy())
            if "p_male" in p:
                pm.append(p["p_male"].cpu().numpy())
    res = {"val_loss": sum(losses) / max(len(fs), 1), "val_mae": math.nan,
           "val_group_acc": math.nan, "val_gender_acc": math.nan}
    known_age = ~np.isnan(fs.ages)
    if ages_p and known_age.any():
        a = np.concatenate(ages_p)
        res["val_mae"] = float(np.abs(a - fs.ages)[known_age].mean())
        from ..ages import nearest_group

        gp = nearest_group(a)
        res["val_group_acc"] = float((gp == fs.groups)[known_age].mean())
    if groups_p and known_age.any():
        res["val_group_acc"] = float((np.concatenate(groups_p) == fs.groups)[known_age].mean())
    known_g = fs.genders >= 0
    if pm and known_g.any():
        pred = (np.concatenate(pm) >= 0.5).astype(np.int64)
        res["val_gender_acc"] = float((pred == fs.genders)[known_g].mean())
    return res


def monitor_value(cfg: TrainConfig, net: Net, r: dict[str, float]) -> float:
    """Lower is better: the single task's own figure, the validation loss for two tasks."""
    if len(net.tasks) > 1:
        return r["val_loss"]
    if net.tasks[0] == "gender":
        return 1.0 - r["val_gender_acc"]
    if net.kinds["age"] == "groups":
        return 1.0 - r["val_group_acc"]
    return r["val_mae"]


def _optimizer(net: Net, cfg: TrainConfig) -> torch.optim.Optimizer:
    decay = [p for n, p in net.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in net.named_parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def _scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, total: int) -> Any:
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.lr, total_steps=max(total, 2), pct_start=0.15, div_factor=10,
            final_div_factor=100,
        )
    at = cfg.step_at if cfg.step_at and cfg.step_at < total else max(1, (2 * total) // 3)
    return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[at], gamma=0.1)


def _rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
            "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _set_rng_state(s: dict[str, Any]) -> None:
    # generator states are CPU byte tensors, even in a checkpoint loaded onto a GPU
    torch.set_rng_state(s["torch"].cpu())
    np.random.set_state(s["numpy"])
    random.setstate(s["python"])
    if s.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([t.cpu() for t in s["cuda"]])


def _write_log(path: Path, rows: list[dict[str, float]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=LOG_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


def _data_mean(fs: FaceSet, channels: str) -> tuple[float, float, float]:
    m = fs.images[:: max(1, len(fs) // 2000)].reshape(-1, 3).mean(axis=0)
    m = m[::-1] if channels == "BGR" else m
    return (round(float(m[0]), 3), round(float(m[1]), 3), round(float(m[2]), 3))


def load_data(
    cfg: TrainConfig, net_size: int, context: float,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> tuple[FaceSet, FaceSet | None]:
    """The training and validation faces for ``cfg`` (decoded once into the cache)."""
    def prog(what: str) -> Callable[[int, int], None] | None:
        return (lambda i, n: on_progress(what, i, n)) if on_progress else None

    common = dict(format=cfg.format, size=net_size, margin=cfg.margin, context=context,
                  cache_dir=cfg.cache_dir, workers=cfg.workers)
    train_fs = load_faces(cfg.data, split=cfg.split, limit=cfg.limit,
                          on_progress=prog("decoding train"), **common)  # type: ignore[arg-type]
    val_fs = None
    if cfg.val_split:
        val_fs = load_faces(cfg.data, split=cfg.val_split, limit=cfg.val_limit or cfg.limit,
                            on_progress=prog("decoding val"), **common)  # type: ignore[arg-type]
    return train_fs, val_fs


def train(
    config: TrainConfig,
    *,
    on_step: Callable[[int, int, int, float], None] | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> TrainResult:
    """Train as ``config`` says; return the best model on validation (or the last one)."""
    cfg = resolve(config)
    dev = pick_device(cfg.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its kernels
    cfg.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    probe = build_model(cfg.arch, cfg.task, ModelOptions(cfg.input_size, cfg.body, cfg.dropout))
    train_fs, val_fs = load_data(cfg, probe.inp.size, probe.inp.context, on_progress)
    if len(train_fs) < 2:
        raise InputError(f"{cfg.data}: only {len(train_fs)} training face(s) could be read")
    mean = _data_mean(train_fs, probe.inp.channels) if cfg.arch != "cydral" else None
    torch.manual_seed(cfg.seed)
    net = build_model(cfg.arch, cfg.task,
                      ModelOptions(cfg.input_size, cfg.body, cfg.dropout, mean)).to(dev)
    batch = min(cfg.batch or 1, len(train_fs))
    steps_per_epoch = len(train_fs) // batch
    total_steps = steps_per_epoch * (cfg.epochs or 1)
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)
    opt = _optimizer(net, cfg)
    sched = _scheduler(opt, cfg, total_steps)
    aug = Augment(cfg.augment or AugmentConfig(), net.inp.size)
    history: list[dict[str, float]] = []
    start_epoch, best_val, best_epoch, bad, step, elapsed = 1, math.inf, 0, 0, 0, 0.0
    commands: list[str] = []
    if cfg.resume is not None:
        ck = torch.load(cfg.resume, map_location=dev, weights_only=False)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        start_epoch = ck["epoch"] + 1
        best_val, best_epoch, bad = ck["best_val"], ck["best_epoch"], ck["bad_epochs"]
        history, step, elapsed = ck["history"], ck["step"], ck.get("seconds", 0.0)
        commands = list(ck.get("commands", []))
        _set_rng_state(ck["rng"])
        log.info("resuming from %s after epoch %d", cfg.resume, ck["epoch"])
    if cfg.command:
        commands.append(cfg.command)
    t_run = time.monotonic() - elapsed
    stopped = ""
    for epoch in range(start_epoch, (cfg.epochs or 1) + 1):
        if step >= total_steps:
            break
        t0 = time.monotonic()
        net.train()
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
        order = torch.randperm(len(train_fs), generator=gen).numpy()
        run_loss, n_seen = 0.0, 0
        for i in range(steps_per_epoch):
            if step >= total_steps:
                break
            idx = np.sort(order[i * batch : (i + 1) * batch])
            x = aug(torch.from_numpy(train_fs.images[idx]).to(dev), train=True, gen=gen)
            x = normalize(x, net.inp.mean, net.inp.std, net.inp.channels)
            a, g, gr = _labels(train_fs, idx, dev)
            loss = compute_loss(net, net(x), a, g, gr, cfg)
            if not torch.isfinite(loss):
                raise InputError(
                    f"the training loss became {float(loss)} at step {step + 1}; lower --lr"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            run_loss += loss.item() * len(idx)
            n_seen += len(idx)
            if on_step:
                on_step(epoch, i + 1, steps_per_epoch, run_loss / n_seen)
        row: dict[str, float] = {"epoch": epoch, "train_loss": run_loss / max(n_seen, 1)}
        row.update(evaluate(net, val_fs, cfg, dev) if val_fs is not None and len(val_fs) else
                   {"val_loss": math.nan, "val_mae": math.nan, "val_group_acc": math.nan,
                    "val_gender_acc": math.nan})
        row["lr"] = float(opt.param_groups[0]["lr"])
        row["seconds"] = round(time.monotonic() - t0, 1)
        history.append(row)
        _write_log(cfg.out / "log.csv", history)
        value = monitor_value(cfg, net, row) if val_fs is not None and len(val_fs) else -epoch
        if math.isnan(value):
            value = -epoch
        if value < best_val:
            best_val, best_epoch, bad = value, epoch, 0
            torch.save({"model": net.state_dict(), "epoch": epoch}, cfg.out / "best.pt")
        else:
            bad += 1
        torch.save(
            {"model": net.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict(), "epoch": epoch, "best_val": best_val,
             "best_epoch": best_epoch, "bad_epochs": bad, "history": history, "step": step,
             "seconds": time.monotonic() - t_run, "rng": _rng_state(), "commands": commands,
             "config": {k: str(v) for k, v in dataclasses.asdict(cfg).items()}},
            cfg.out / "last.pt",
        )
        if on_epoch:
            on_epoch(row)
        if bad >= cfg.patience:
            stopped = f"early stop: no better validation figure for {bad} epochs"
            log.info("%s", stopped)
            break
        if cfg.time_limit is not None and time.monotonic() - t_run >= cfg.time_limit * 60:
            stopped = f"time limit: {cfg.time_limit:g} minutes reached after epoch {epoch}"
            log.warning("%s; the schedule did not finish", stopped)
            break
    seconds = time.monotonic() - t_run
    best_path = cfg.out / "best.pt"
    if not best_path.is_file() and cfg.resume is not None:  # exporting a finished run elsewhere
        best_path = Path(cfg.resume).parent / "best.pt"
    if best_path.is_file():
        net.load_state_dict(torch.load(best_path, map_location=dev, weights_only=False)["model"])
    best = next((r for r in history if r["epoch"] == best_epoch), history[-1] if history else {})
    return TrainResult(net=net.eval(), config=cfg, best_epoch=best_epoch, best=best,
                       history=history, seconds=seconds, val=val_fs,
                       data_format=train_fs.format, commands=commands,
                       n_train=len(train_fs), stopped=stopped)
