"""Training FaceRes's top on cached activations: affordable on two CPU cores.

The lower blocks of the body (conv1 .. ``cut``) stay as published; their output for every
training chip is computed once with onnxruntime and kept on disk as float16
(:func:`cache_features`, optionally of the mirrored chip too). The blocks above ``cut``, the
256-d ``feats`` layer and the two heads are then trained for many epochs on the cache
(:func:`train_top`): an epoch costs the top's forward and backward only.

Labels of three kinds mix in one batch, unknown ones masked:

* exact ages (UTKFace, All-Age-Faces): KL to a Gaussian soft label plus L1 of the expected
  age (:func:`~agegender.train.losses.age_distribution_loss`);
* age bins (FairFace's 0-2 .. 70+): minus the log of the probability mass the model puts
  inside the bin (:func:`bin_loss`);
* perceived gender (all; LFW has nothing else): binary cross-entropy.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from ..convert.tfjs import TfjsGraph
from ..models.faceres import VGG_MEAN_BGR
from .faceres import FaceResNet, end_epoch, time_is_up
from .losses import AgeLossWeights, age_distribution_loss

log = logging.getLogger(__name__)
AGES = torch.arange(101, dtype=torch.float32)
#: the last activation the cache holds by default: block 12's pointwise output
CUT = "conv_pw_12_relu/clip_by_value"


def cut_for(top_blocks: int) -> str:
    """The cached activation when the top ``top_blocks`` of FaceRes's 13 blocks train."""
    if not 1 <= top_blocks <= 12:
        raise ValueError(f"top_blocks must be 1..12, got {top_blocks}")
    return f"conv_pw_{13 - top_blocks}_relu/clip_by_value"


def to_bgr_input(chips: NDArray[np.uint8], size: int) -> NDArray[np.float32]:
    """uint8 RGB chips (N, S, S, 3) -> the network's NHWC BGR minus VGG means at ``size``."""
    import cv2

    if chips.shape[1] != size:
        chips = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in chips])
    return chips[..., ::-1].astype(np.float32) - np.float32(VGG_MEAN_BGR)


def cache_features(graph: TfjsGraph, chips: NDArray[np.uint8], size: int, out: Path,
                   cut: str = CUT, flip: bool = False, batch: int = 32) -> NDArray[np.float16]:
    """The body's ``cut`` activation (N, h, w, C) float16 for every chip, written to ``out``
    (a .npy, reused when complete); ``flip`` mirrors each chip first."""
    import onnxruntime as ort

    from ..convert.tfjs_onnx import tfjs_to_onnx

    done = out.with_suffix(".done")
    if done.is_file():
        return np.load(out, mmap_mode="r")  # type: ignore[no-any-return]
    sess = ort.InferenceSession(tfjs_to_onnx(graph, outputs=[cut], input_size=(size, size)))
    name = sess.get_inputs()[0].name
    probe = sess.run(None, {name: to_bgr_input(np.asarray(chips[:1]), size)})[0]
    arr = np.lib.format.open_memmap(out, mode="w+", dtype=np.float16,
                                    shape=(len(chips), *probe.shape[1:]))
    t0 = time.time()
    for i in range(0, len(chips), batch):
        x = np.asarray(chips[i : i + batch])
        if flip:
            x = x[:, :, ::-1]
        arr[i : i + batch] = sess.run(None, {name: to_bgr_input(x, size)})[0].astype(np.float16)
        if (i // batch) % 100 == 0:
            log.info("%s: %d/%d (%.0f s)", out.name, i, len(chips), time.time() - t0)
    arr.flush()
    done.write_text("ok")
    return np.load(out, mmap_mode="r")  # type: ignore[no-any-return]


class TopNet(FaceResNet):
    """The body above ``cut`` + ``feats`` + age (101) and gender (1 logit) heads, initialised
    from the published FaceRes; its input is the cached activation at ``cut``."""

    def __init__(self, graph: TfjsGraph, cut: str = CUT, dropout: float = 0.2) -> None:
        super().__init__(graph, dropout, start=cut)


def bin_loss(logits: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Minus the log of the probability mass inside [lo, hi] (whole years), over known bins."""
    known = ~torch.isnan(lo)
    if not bool(known.any()):
        return logits.sum() * 0.0
    logp = torch.log_softmax(logits[known], dim=1)
    inside = (AGES[None, :] >= lo[known][:, None]) & (AGES[None, :] <= hi[known][:, None])
    return -torch.logsumexp(logp.masked_fill(~inside, -1e4), dim=1).mean()


@dataclass
class Labels:
    """Labels aligned with a feature cache: NaN / -1 where unknown."""

    age: NDArray[np.float32]
    age_lo: NDArray[np.float32]
    age_hi: NDArray[np.float32]
    male: NDArray[np.int64]

    def take(self, idx: NDArray[np.int64]) -> tuple[torch.Tensor, ...]:
        return tuple(torch.from_numpy(np.ascontiguousarray(a[idx]))
                     for a in (self.age, self.age_lo, self.age_hi, self.male))


@dataclass
class TopConfig:
    out: str
    cut: str = CUT
    size: int = 224
    epochs: int = 8
    batch: int = 128
    lr: float = 1e-3  # heads; the top blocks get lr * body_lr
    body_lr: float = 0.3
    weight_decay: float = 1e-4
    dropout: float = 0.3
    bin_weight: float = 1.0
    gender_weight: float = 1.0
    time_limit: float | None = None  # minutes
    threads: int = 2
    seed: int = 0
    feature_noise: float = 0.0  # multiplicative noise on cached activations (augmentation)
    age: AgeLossWeights = field(default_factory=lambda: AgeLossWeights(ld=1.0, l1=0.05, sigma=2.0))


def _loss(net: TopNet, x: torch.Tensor, lab: tuple[torch.Tensor, ...], cfg: TopConfig
          ) -> torch.Tensor:
    age, lo, hi, male = lab
    a, g = net(x)
    loss = age_distribution_loss(a, age, AGES, cfg.age) + cfg.bin_weight * bin_loss(a, lo, hi)
    known = male >= 0
    if bool(known.any()):
        loss = loss + cfg.gender_weight * F.binary_cross_entropy_with_logits(
            g[known], male[known].float())
    return loss


@torch.no_grad()
def predict(net: TopNet, feats: NDArray[np.float16], batch: int = 256
            ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """(age distributions (N, 101), gender logits (N,)) from cached activations."""
    net.eval()
    d, g = [], []
    for i in range(0, len(feats), batch):
        a, lg = net(torch.from_numpy(np.asarray(feats[i : i + batch], np.float32)))
        d.append(torch.softmax(a, 1).numpy())
        g.append(lg.numpy())
    return np.concatenate(d), np.concatenate(g)


def scores(net: TopNet, vals: dict[str, tuple[NDArray[np.float16], Labels]]) -> dict[str, float]:
    """Val figures per set: MAE (exact ages), bin accuracy (bins), perceived gender."""
    r: dict[str, float] = {}
    for name, (f, lab) in vals.items():
        d, logit = predict(net, f)
        years = d @ AGES.numpy()
        k = ~np.isnan(lab.age)
        if k.any():
            r[f"{name}_mae"] = float(np.abs(years[k] - lab.age[k]).mean())
        b = ~np.isnan(lab.age_lo)
        if b.any():
            # the bin holding the most probability mass
            edges = np.unique(np.concatenate([lab.age_lo[b], lab.age_hi[b] + 1]))
            cum = np.concatenate([np.zeros((len(d), 1)), np.cumsum(d, 1)], 1)
            e = np.clip(edges, 0, 101).astype(int)
            mass = cum[:, e[1:]] - cum[:, e[:-1]]
            pred_lo = edges[:-1][mass.argmax(1)]
            r[f"{name}_bin"] = float((pred_lo[b] == lab.age_lo[b]).mean())
        g = lab.male >= 0
        if g.any():
            r[f"{name}_gender"] = float(((logit[g] >= 0) == (lab.male[g] == 1)).mean())
    maes = [v for k, v in r.items() if k.endswith("_mae")]
    accs = [v for k, v in r.items() if k.endswith("_gender")]
    bins = [v for k, v in r.items() if k.endswith("_bin")]
    r["monitor"] = float(np.mean(maes or [0]) + 40 * (1 - np.mean(accs or [1]))
                         + 10 * (1 - np.mean(bins or [1])))
    return r


def train_top(graph: TfjsGraph, train: list[tuple[NDArray[np.float16], Labels, float]],
              vals: dict[str, tuple[NDArray[np.float16], Labels]], cfg: TopConfig
              ) -> dict[str, Any]:
    """Train on ``train`` (cache, labels, sampling weight per set); keep the best epoch on
    ``vals`` (``monitor``) in OUT/best.pt; OUT/last.pt and OUT/log.json after each epoch."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    net = TopNet(graph, cfg.cut, cfg.dropout)
    body = list(net.body.parameters())
    heads = [p for n, p in net.named_parameters() if not n.startswith("body.")]
    opt = torch.optim.AdamW([{"params": body, "lr": cfg.lr * cfg.body_lr},
                             {"params": heads, "lr": cfg.lr}], weight_decay=cfg.weight_decay)
    sizes = np.array([len(f) for f, _, _ in train])
    weights = np.array([w for _, _, w in train], np.float64)
    per_epoch = int(sizes.sum())
    steps = math.ceil(per_epoch / cfg.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[cfg.lr * cfg.body_lr, cfg.lr], total_steps=cfg.epochs * steps,
        pct_start=0.1, anneal_strategy="cos")
    # each set drawn in proportion to size x weight, with replacement where weight > 1
    share = sizes * weights / (sizes * weights).sum()
    rows: list[dict[str, Any]] = [{"epoch": 0, **scores(net, vals)}]
    log.info("before training: %s", rows[0])
    best = rows[0]["monitor"]
    torch.save(net.state_dict(), out / "best.pt")
    t0 = time.time()
    for epoch in range(1, cfg.epochs + 1):
        net.train()
        counts = rng.multinomial(per_epoch, share)
        picks = [(s, np.sort(rng.choice(sizes[s], c, replace=c > sizes[s])))
                 for s, c in enumerate(counts)]
        flat = np.concatenate([np.stack([np.full(len(p), s), p], 1) for s, p in picks])
        flat = flat[rng.permutation(len(flat))]
        losses = []
        for step in range(steps):
            chunk = flat[step * cfg.batch : (step + 1) * cfg.batch]
            xs, labs = [], []
            for s in np.unique(chunk[:, 0]):
                idx = np.sort(chunk[chunk[:, 0] == s, 1])
                f, lab, _ = train[s]
                xs.append(torch.from_numpy(np.asarray(f[idx], np.float32)))
                labs.append(lab.take(idx))
            x = torch.cat(xs)
            if cfg.feature_noise:
                x = x * (1 + cfg.feature_noise * torch.randn_like(x)).clamp(min=0)
            lab = tuple(torch.cat([lb[k] for lb in labs]) for k in range(4))
            loss = _loss(net, x, lab, cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            if step % 100 == 0:
                log.info("epoch %d step %d/%d loss %.3f (%.0f s)", epoch, step, steps,
                         np.mean(losses[-100:]), time.time() - t0)
        row = {"epoch": epoch, "loss": float(np.mean(losses)),
               "minutes": round((time.time() - t0) / 60, 2), **scores(net, vals)}
        rows.append(row)
        best = end_epoch(net, opt, sched, cfg, out, rows, best)
        if time_is_up(cfg.time_limit, t0, epoch):
            break
    return {"best": min(rows, key=lambda r: r["monitor"]), "epochs": rows}
