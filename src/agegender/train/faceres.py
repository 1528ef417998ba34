"""Fine-tuning HSE FaceRes end to end on every labeled face we hold.

The body is the published TF.js graph as a trainable torch module
(:class:`~agegender.train.tfjs_torch.TfjsModule`, up to the 1024-d ``global_pooling``);
on it sit the published 256-d ``feats`` layer and two new heads, initialised from the
published ones: an age distribution over 0..100 years (the published 1..100 softmax,
shifted by one class) and a gender logit. Batches mix data sets; an unknown label (LFW has
no ages, FG-NET no genders) is masked out of its loss. Augmentation imitates in-the-wild
photos: down-scaling to 32-64 px and back, blur, JPEG quality 30-95, 10% grayscale, on top
of :class:`~agegender.train.data.Augment`'s mirroring, similarity jitter and colour.

The exported ONNX takes ``input`` (N, S, S, 3) NHWC, BGR minus the VGG means (as the
published model), and outputs ``age`` (N, 101 probabilities) and ``gender`` (N, 1,
P(male)).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..convert.tfjs import TfjsGraph, fuse, load_tfjs
from ..models.faceres import VGG_MEAN_BGR
from .data import Augment, AugmentConfig, FaceSet, load_faces
from .losses import AgeLossWeights, age_distribution_loss
from .tfjs_torch import TfjsModule

log = logging.getLogger(__name__)
AGES = torch.arange(101, dtype=torch.float32)


def published_heads(graph: TfjsGraph) -> tuple[nn.Linear, nn.Linear, nn.Linear]:
    """``feats`` (1024 -> 256), age (256 -> 101 years) and gender (256 -> 1 logit), initialised
    from the published FaceRes heads (the published age class i is age i + 1)."""
    w = graph.weights
    feats, age, gender = nn.Linear(1024, 256), nn.Linear(256, 101), nn.Linear(256, 1)
    with torch.no_grad():
        feats.weight.copy_(torch.from_numpy(w["feats/kernel"].T.copy()))
        feats.bias.copy_(torch.from_numpy(w["feats/bias"]))
        ak, ab = torch.from_numpy(w["age_pred/kernel"].T.copy()), torch.from_numpy(w["age_pred/bias"])
        age.weight[1:] = ak
        age.bias[1:] = ab
        age.weight[0] = ak[0]
        age.bias[0] = ab[0] - 1.0
        gender.weight.copy_(torch.from_numpy(w["gender_pred/kernel"].T.copy()))
        gender.bias.copy_(torch.from_numpy(w["gender_pred/bias"]))
    return feats, age, gender


def end_epoch(net: nn.Module, opt: Any, sched: Any, cfg: Any, out: Path,
              rows: list[dict[str, Any]], best: float) -> float:
    """After an epoch (its row last in ``rows``): keep OUT/best.pt when the ``monitor``
    improved, write OUT/last.pt and OUT/log.json; returns the best monitor so far."""
    row = rows[-1]
    log.info("epoch %d: %s", row["epoch"], row)
    if row["monitor"] < best:
        best = row["monitor"]
        torch.save(net.state_dict(), out / "best.pt")
    torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                "epoch": row["epoch"]}, out / "last.pt")
    (out / "log.json").write_text(json.dumps({"config": asdict(cfg), "epochs": rows}, indent=1))
    return best


def time_is_up(time_limit: float | None, t0: float, epoch: int) -> bool:
    """``--time-limit`` (minutes) passed since ``t0``: stop after this epoch."""
    if time_limit and (time.time() - t0) / 60 >= time_limit:
        log.info("time limit of %.0f min reached after epoch %d", time_limit, epoch)
        return True
    return False


class FaceResNet(nn.Module):
    """FaceRes body + feats + age (101) and gender (1 logit) heads; NHWC BGR-mean input.

    ``start``: a body node whose (NHWC) activation is the input instead of the image, so only
    the body above it is built (the top that trains on cached activations)."""

    def __init__(self, graph: TfjsGraph, dropout: float = 0.2, start: str | None = None) -> None:
        super().__init__()
        self.body = TfjsModule(graph, outputs=["global_pooling/Mean"], start=start)
        self.feats, self.age, self.gender = published_heads(graph)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(x)["global_pooling/Mean"]
        h = self.drop(F.relu(self.feats(f)))
        return self.age(h), self.gender(h)[:, 0]


@dataclass
class FaceResConfig:
    data: list[str]
    out: str
    size: int = 128
    margin: float = 0.0
    epochs: int = 6
    batch: int = 64
    lr: float = 4e-4  # heads; the body gets lr * body_lr
    body_lr: float = 0.25
    weight_decay: float = 1e-4
    dropout: float = 0.2
    time_limit: float | None = None  # minutes
    val_limit: int = 600
    limit: int | None = None
    threads: int = 2
    #: blocks 1..N of the body stay as published (their backward pass is most of the cost
    #: on a CPU; they hold 4% of the weights). 0 trains everything.
    freeze_blocks: int = 5
    #: faces drawn (without replacement) for each epoch; None = all
    epoch_size: int | None = None
    seed: int = 0
    gender_weight: float = 1.0
    age: AgeLossWeights = field(default_factory=lambda: AgeLossWeights(ld=1.0, l1=0.05, sigma=2.0))


def degrade(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """In-the-wild degradations of uint8 RGB faces (N, S, S, 3), each at random."""
    import cv2

    out = x.copy()
    s = x.shape[1]
    for i in range(len(out)):
        im = out[i]
        if rng.random() < 0.3:  # low resolution
            k = int(rng.integers(32, 65))
            im = cv2.resize(cv2.resize(im, (k, k), interpolation=cv2.INTER_AREA), (s, s),
                            interpolation=cv2.INTER_LINEAR)
        if rng.random() < 0.2:
            im = cv2.GaussianBlur(im, (0, 0), float(rng.uniform(0.5, 1.8)))
        if rng.random() < 0.5:
            ok, buf = cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 96))])
            if ok:
                im = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        if rng.random() < 0.1:
            g = (0.299 * im[..., 0] + 0.587 * im[..., 1] + 0.114 * im[..., 2]).astype(np.uint8)
            im = np.repeat(g[..., None], 3, axis=2)
        out[i] = im
    return out


def to_input(x_nchw_rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB pixels 0..255 -> the network's NHWC BGR minus VGG means."""
    x = x_nchw_rgb.flip(1).permute(0, 2, 3, 1)
    return x - torch.tensor(VGG_MEAN_BGR, dtype=x.dtype)


def concat(sets: list[FaceSet]) -> FaceSet:
    return FaceSet(
        images=np.concatenate([s.images for s in sets]),
        ages=np.concatenate([s.ages for s in sets]),
        genders=np.concatenate([s.genders for s in sets]),
        groups=np.concatenate([s.groups for s in sets]),
        paths=[p for s in sets for p in s.paths],
    )


@torch.no_grad()
def raw_outputs(net: FaceResNet, images: np.ndarray, size: int, batch: int = 128
                ) -> tuple[np.ndarray, np.ndarray]:
    """(age distributions (N, 101), gender logits (N,)) for uint8 RGB crops, no
    augmentation and no calibration."""
    net.eval()
    aug = Augment(AugmentConfig(), size)
    dists, logits = [], []
    for i in range(0, len(images), batch):
        x = aug(torch.from_numpy(images[i : i + batch]), train=False)
        a, g = net(to_input(x))
        dists.append(torch.softmax(a, 1).numpy())
        logits.append(g.numpy())
    return np.concatenate(dists), np.concatenate(logits)


def score(net: FaceResNet, vals: dict[str, FaceSet], size: int) -> dict[str, float]:
    r: dict[str, float] = {}
    for name, v in vals.items():
        d, logit = raw_outputs(net, v.images, size)
        pm = 1 / (1 + np.exp(-logit))
        years = d @ AGES.numpy()
        known = ~np.isnan(v.ages)
        if known.any():
            r[f"{name}_mae"] = float(np.abs(years[known] - v.ages[known]).mean())
        g = v.genders >= 0
        if g.any():
            r[f"{name}_gender"] = float(((pm[g] >= 0.5) == (v.genders[g] == 1)).mean())
    maes = [v for k, v in r.items() if k.endswith("_mae")]
    accs = [v for k, v in r.items() if k.endswith("_gender")]
    # one number to keep the best epoch by: years of MAE + 20 years per unit of gender error
    r["monitor"] = float(np.mean(maes) + 20 * (1 - np.mean(accs)))
    return r


def block_of(param: str) -> int:
    """The MobileNet block a body parameter belongs to (conv1: 0; conv_dw_K/conv_pw_K: K)."""
    m = re.search(r"conv_(?:dw|pw)_(\d+)", param)
    return int(m.group(1)) if m else 0


def freeze(net: FaceResNet, blocks: int) -> int:
    """Stop training ``conv1`` and blocks 1..``blocks`` (0: train all); returns how many."""
    n = 0
    for name, p in net.body.params.items():
        if blocks and block_of(name) <= blocks:
            p.requires_grad_(False)
            n += 1
    return n


def train_faceres(cfg: FaceResConfig, model_json: Path) -> dict[str, Any]:
    """Train, keep the best epoch on val (``monitor``), save OUT/best.pt and OUT/log.json."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    trains, vals = [], {}
    for d in cfg.data:
        trains.append(load_faces(d, split="train", size=cfg.size, margin=cfg.margin, limit=cfg.limit))
        vals[Path(d).name] = load_faces(d, split="val", size=cfg.size, margin=cfg.margin,
                                        limit=cfg.val_limit)
    tr = concat(trains)
    log.info("training on %d faces (%s), val %s", len(tr), [len(t) for t in trains],
             {k: len(v) for k, v in vals.items()})
    net = FaceResNet(fuse(load_tfjs(model_json)), cfg.dropout).to(memory_format=torch.channels_last)
    frozen = freeze(net, cfg.freeze_blocks)
    log.info("frozen: %d tensors (blocks 1..%d)", frozen, cfg.freeze_blocks)
    body = [p for p in net.body.parameters() if p.requires_grad]
    heads = [p for n, p in net.named_parameters() if not n.startswith("body.")]
    opt = torch.optim.AdamW([{"params": body, "lr": cfg.lr * cfg.body_lr},
                             {"params": heads, "lr": cfg.lr}], weight_decay=cfg.weight_decay)
    per_epoch = min(cfg.epoch_size or len(tr), len(tr))
    steps_per_epoch = math.ceil(per_epoch / cfg.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[cfg.lr * cfg.body_lr, cfg.lr], total_steps=cfg.epochs * steps_per_epoch,
        pct_start=0.15, anneal_strategy="cos")
    aug = Augment(AugmentConfig(rotate=12, scale=0.1, translate=0.06, brightness=0.3,
                                contrast=0.3, saturation=0.3), cfg.size)
    rows: list[dict[str, Any]] = [{"epoch": 0, **score(net, vals, cfg.size)}]
    log.info("before training: %s", rows[0])
    best = rows[0]["monitor"]
    torch.save(net.state_dict(), out / "best.pt")
    t0 = time.time()
    for epoch in range(1, cfg.epochs + 1):
        net.train()
        order = rng.permutation(len(tr))[:per_epoch]
        losses = []
        for step in range(steps_per_epoch):
            idx = np.sort(order[step * cfg.batch : (step + 1) * cfg.batch])
            x = aug(torch.from_numpy(degrade(tr.images[idx], rng)), train=True)
            ages = torch.from_numpy(tr.ages[idx])
            male = torch.from_numpy(tr.genders[idx])
            a, g = net(to_input(x))
            loss = age_distribution_loss(a, ages, AGES, cfg.age)
            known = male >= 0
            if bool(known.any()):
                loss = loss + cfg.gender_weight * F.binary_cross_entropy_with_logits(
                    g[known], male[known].float())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            if step % 50 == 0:
                el = time.time() - t0
                log.info("epoch %d step %d/%d loss %.3f (%.0f s elapsed)", epoch, step,
                         steps_per_epoch, np.mean(losses[-50:]), el)
        row = {"epoch": epoch, "loss": float(np.mean(losses)), "minutes": (time.time() - t0) / 60,
               **score(net, vals, cfg.size)}
        rows.append(row)
        best = end_epoch(net, opt, sched, cfg, out, rows, best)
        if time_is_up(cfg.time_limit, t0, epoch):
            break
    best_row = min(rows, key=lambda r: r["monitor"])
    return {"best": best_row, "epochs": rows}
