"""The recipe of the FairFace default: chips cut by the pipeline, a feature cache, the
top of FaceRes trained on it, and the export with its two cards.

    agegender train --arch faceres-top --data fairface=~/data/fairface,utkface=../shared/data/utkface,\\
        aaf=../shared/data/aaf,lfw=../shared/data/lfw-gender --out runs/fairface --cache ~/data/agc

Steps (each reused when its files are complete, so a second run only trains):

1. :func:`~agegender.train.chips.build_chips`: every ``train`` and ``val`` face of each set,
   landmarks from the pipeline's detector, aligned to the FairFace template at 224 px.
2. :func:`~agegender.train.cached.cache_features`: the published body up to block 12, once
   per chip (and once per mirrored chip for the sets listed in ``flip``), float16 on disk.
3. :func:`~agegender.train.cached.train_top`: block 13, ``feats`` and both heads.
4. The top's weights go back into the whole network, which is calibrated on ``val`` and
   exported as one ONNX (float16 weights, folded padding) by
   :func:`~agegender.train.faceres_export.export`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..convert.tfjs import TfjsGraph
from ..errors import ModelError
from .cached import Labels, TopConfig, cache_features, train_top
from .chips import FAIRFACE_TEMPLATE, ChipSet, build_chips
from .data import FaceSet
from .faceres import FaceResNet

log = logging.getLogger(__name__)


@dataclass
class RecipeConfig:
    #: name -> data set folder
    data: dict[str, str]
    cache: str
    top: TopConfig
    #: sets whose mirrored chips are cached too (twice the faces, twice the time)
    flip: list[str] = field(default_factory=lambda: ["fairface"])
    #: sampling weight per set (1 = in proportion to its size)
    weights: dict[str, float] = field(default_factory=dict)
    detector: str = "yunet"
    #: faces per set and split, spread evenly (None: all)
    limit: int | None = None


def _labels(cs: ChipSet) -> Labels:
    return Labels(age=cs.age, age_lo=cs.age_lo, age_hi=cs.age_hi, male=cs.male)


def prepare(graph: TfjsGraph, cfg: RecipeConfig, splits: tuple[str, ...] = ("val", "train")
            ) -> dict[tuple[str, str], tuple[ChipSet, list[np.ndarray[Any, Any]]]]:
    """Chips and feature caches of every set and split (views: as is, then mirrored)."""
    cache = Path(cfg.cache).expanduser()
    out: dict[tuple[str, str], tuple[ChipSet, list[np.ndarray[Any, Any]]]] = {}
    for split in splits:
        for name, path in cfg.data.items():
            cs = build_chips(str(Path(path).expanduser()), split, cache / "chips" / f"{name}-{split}",
                             template=FAIRFACE_TEMPLATE, detector=cfg.detector, limit=cfg.limit)
            # beside its chips: build_chips removes them when it cuts the chips anew
            block = cfg.top.cut.split("_")[2]  # conv_pw_N_relu/...: the last block cached
            tag = cache / "chips" / f"{name}-{split}" / f"features-{cfg.top.size}-b{block}"
            views = [cache_features(graph, cs.chips, cfg.top.size, tag.with_suffix(".npy"),
                                    cfg.top.cut)]
            if split == "train" and name in cfg.flip:
                views.append(cache_features(graph, cs.chips, cfg.top.size,
                                            tag.with_name(tag.name + "-flip.npy"), cfg.top.cut,
                                            flip=True))
            out[(name, split)] = (cs, views)
    return out


def train(graph: TfjsGraph, cfg: RecipeConfig) -> dict[str, Any]:
    """Prepare (cached) and train the top; returns train_top's record."""
    data = prepare(graph, cfg)
    tr = []
    for (name, split), (cs, views) in data.items():
        if split == "train":
            tr += [(v, _labels(cs), cfg.weights.get(name, 1.0)) for v in views]
    vals = {name: (views[0], _labels(cs)) for (name, split), (cs, views) in data.items()
            if split == "val"}
    return train_top(graph, tr, vals, cfg.top)


def whole_network(graph: TfjsGraph, state: dict[str, torch.Tensor], dropout: float) -> FaceResNet:
    """The published FaceRes with the trained top (blocks above the cut, feats, heads)."""
    net = FaceResNet(graph, dropout)
    missing, unexpected = net.load_state_dict(state, strict=False)
    if unexpected:
        raise ModelError(f"the trained top has weights that FaceRes lacks: {unexpected[:5]}; "
                         "was it trained from another base network?")
    trained = set(state)
    log.info("whole network: %d tensors from the trained top, %d as published",
             len(trained), len(missing))
    return net.eval()


def calibration_set(cfg: RecipeConfig) -> FaceSet:
    """Every ``val`` chip (at the model's size) with its labels, for the export's calibration.
    Bin-only ages (FairFace) count as unknown there: the age temperatures need exact ages."""
    import cv2

    cache = Path(cfg.cache).expanduser()
    imgs, ages, males = [], [], []
    for name, path in cfg.data.items():
        cs = build_chips(str(Path(path).expanduser()), "val", cache / "chips" / f"{name}-val",
                         template=FAIRFACE_TEMPLATE, detector=cfg.detector, limit=cfg.limit)
        ch = np.asarray(cs.chips)
        if ch.shape[1] != cfg.top.size:
            ch = np.stack([cv2.resize(c, (cfg.top.size,) * 2, interpolation=cv2.INTER_AREA)
                           for c in ch])
        imgs.append(ch)
        ages.append(cs.age)
        males.append(cs.male)
    a = np.concatenate(ages).astype(np.float32)
    return FaceSet(images=np.concatenate(imgs), ages=a, genders=np.concatenate(males),
                   groups=np.full(len(a), -1, np.int64), paths=[""] * len(a))
