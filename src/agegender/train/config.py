"""What a training run is asked to do (:class:`TrainConfig`, checked and completed by
:func:`resolve`) and what it gives back (:class:`TrainResult`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from .data import AugmentConfig, FaceSet
from .losses import AgeLossWeights
from .models import Net


@dataclass
class TrainConfig:
    """Everything a training run needs; ``None`` fields take the arch's (or recipe's) default."""

    data: str
    out: Path
    task: str = "age"
    arch: str = "cydral"
    format: str = "auto"
    split: str | None = "train"
    val_split: str | None = "val"
    epochs: int | None = None
    batch: int | None = None
    lr: float | None = None
    weight_decay: float | None = None
    optimizer: str | None = None  # sgd | adamw
    schedule: str | None = None  # onecycle | step
    step_at: int | None = None  # step schedule: iteration of the x0.1 drop
    input_size: int | None = None
    margin: float = 0.0
    body: str | None = None
    dropout: float | None = None
    resume: Path | None = None
    device: str = "auto"
    workers: int = 2
    limit: int | None = None
    val_limit: int | None = None
    seed: int = 0
    recipe: str | None = None
    patience: int = 5
    max_steps: int | None = None
    time_limit: float | None = None  # minutes of training; stops after the epoch that passes it
    gender_weight: float = 1.0
    label_smoothing: float = 0.0
    age_loss: AgeLossWeights = field(default_factory=AgeLossWeights)
    augment: AugmentConfig | None = None
    cache_dir: Path | None = None
    name: str | None = None
    command: str | None = None  # how the run was started (kept in checkpoints and cards)


#: Defaults per arch: epochs, batch, lr, weight decay, optimizer, schedule.
DEFAULTS: dict[str, dict[str, Any]] = {
    "cydral": dict(epochs=12, batch=64, lr=3e-4, weight_decay=0.01, optimizer="adamw",
                   schedule="onecycle"),
    "levi-hassner": dict(epochs=30, batch=50, lr=1e-3, weight_decay=5e-4, optimizer="sgd",
                         schedule="step"),
    "ssrnet": dict(epochs=30, batch=128, lr=2e-3, weight_decay=1e-4, optimizer="adamw",
                   schedule="onecycle"),
}

#: Levi & Hassner (2015): SGD (momentum 0.9, weight decay 5e-4), lr 1e-3 then 1e-4 after
#: 10,000 iterations, batch 50, dropout 0.5, 227 random crops of a 256 view and mirroring,
#: Gaussian initialisation (std 0.01), from scratch; no other augmentation.
LEVI_HASSNER_RECIPE: dict[str, Any] = dict(
    arch="levi-hassner", optimizer="sgd", schedule="step", lr=1e-3, step_at=10_000, batch=50,
    dropout=0.5, weight_decay=5e-4,
    augment=AugmentConfig(flip=True, rotate=0, scale=0, translate=0, brightness=0,
                          contrast=0, saturation=0, random_crop=True),
)


def resolve(cfg: TrainConfig) -> TrainConfig:
    """Fill the defaults: the recipe's, then the arch's."""
    c = dataclasses.replace(cfg)
    if c.recipe is not None:
        if c.recipe != "levi-hassner":
            raise InputError(f"unknown --recipe {c.recipe!r}; the one recipe is levi-hassner")
        for k, v in LEVI_HASSNER_RECIPE.items():
            if k == "arch":
                if c.arch not in (None, "levi-hassner"):
                    raise InputError("--recipe levi-hassner trains --arch levi-hassner")
                c.arch = v
            elif getattr(c, k) is None:
                setattr(c, k, v)
    if c.arch not in DEFAULTS:
        raise InputError(f"unknown --arch {c.arch!r}; use cydral, levi-hassner or ssrnet")
    for k, v in DEFAULTS[c.arch].items():
        if getattr(c, k) is None:
            setattr(c, k, v)
    if c.augment is None:
        c.augment = AugmentConfig(random_crop=c.arch == "levi-hassner")
    if c.optimizer not in ("sgd", "adamw"):
        raise InputError(f"--optimizer must be sgd or adamw, got {c.optimizer!r}")
    if c.schedule not in ("onecycle", "step"):
        raise InputError(f"--schedule must be onecycle or step, got {c.schedule!r}")
    if (c.epochs or 0) < 1 or (c.batch or 0) < 1 or (c.lr or 0) <= 0:
        raise InputError("--epochs and --batch must be >= 1 and --lr > 0")
    c.out = Path(c.out)
    c.name = c.name or c.out.resolve().name
    return c


@dataclass
class TrainResult:
    """What a run produced: the best model (loaded), its epoch and validation figures."""

    net: Net
    config: TrainConfig
    best_epoch: int
    best: dict[str, float]
    history: list[dict[str, float]]
    seconds: float
    val: FaceSet | None
    data_format: str = ""
    commands: list[str] = field(default_factory=list)
    n_train: int = 0
    stopped: str = ""  # why training ended before its last epoch ("" if it ran them all)
