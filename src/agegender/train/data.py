"""Training data: labeled face crops decoded and resized once into a uint8 cache, then
augmented in batches with torch.

:func:`load_faces` reads a data set with :func:`agegender.eval.read_dataset` (UTKFace,
Adience, FairFace, CSV), cuts each image the way the evaluation's ``--crops`` mode does (the
image is the face: a square around the whole image, grown by ``margin`` of its side on every
side, anti-aliased with :func:`agegender.align.warp_chips`) and keeps the result as one
``(N, S, S, 3)`` uint8 RGB array, saved as ``.npy`` under the cache folder so that the next
run (and every epoch) skips decoding. 15,000 faces at 64x64 are 184 MB.

:class:`Augment` applies, to a batch on any device: random crops of the cached view (the
Levi & Hassner recipe), mirroring, a small random similarity transform (rotation, scale,
translation; the border is black, as in the pipeline's warps) and colour jitter.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from ..ages import nearest_group
from ..errors import InputError

log = logging.getLogger(__name__)

#: Where the five points (eyes, nose tip, mouth corners) sit in a UTKFace crop, in units of
#: the crop side: YuNet's landmarks, median over 396 UTKFace val faces. A model trained on
#: whole UTKFace crops gets chips cut with this template in the pipeline.
UTKFACE_TEMPLATE: tuple[tuple[float, float], ...] = (
    (0.2891, 0.2869),
    (0.6899, 0.2804),
    (0.4922, 0.5158),
    (0.3244, 0.6793),
    (0.6695, 0.6721),
)

CACHE_VERSION = 1


def template_for_margin(margin: float) -> list[list[float]]:
    """The UTKFace template in a chip that is the crop grown by ``margin`` on every side."""
    return [
        [round((x + margin) / (1 + 2 * margin), 4), round((y + margin) / (1 + 2 * margin), 4)]
        for x, y in UTKFACE_TEMPLATE
    ]


@dataclass
class FaceSet:
    """Face crops and their labels, as arrays.

    ``ages`` is NaN where unknown (a range label gives its middle), ``genders`` is 1 male,
    0 female, -1 unknown; ``groups`` is the Adience group of the age (nearest group, ties
    to the younger) or -1.
    """

    images: NDArray[np.uint8]
    ages: NDArray[np.float32]
    genders: NDArray[np.int64]
    groups: NDArray[np.int64]
    paths: list[str]
    format: str = ""

    def __len__(self) -> int:
        return len(self.images)


def default_cache_dir() -> Path:
    """``<AGEGENDER_HOME cache>/../train-cache``: beside the model cache."""
    from ..models.store import cache_dir

    return cache_dir().parent / "train-cache"


def _cut(path: str, side: int, margin: float) -> NDArray[np.uint8]:
    from ..align import box_transforms, warp_chips
    from ..io.images import decode_image

    im = decode_image(path)
    h, w = im.shape[:2]
    m = box_transforms(np.array([[0.0, 0.0, w, h]]), (side, side), margin)
    return warp_chips(im, m, (side, side))[0]


def load_faces(
    dataset: str | Path,
    *,
    format: str = "auto",
    split: str | None = "train",
    size: int = 64,
    margin: float = 0.0,
    context: float = 1.0,
    limit: int | None = None,
    cache_dir: Path | None = None,
    workers: int = 2,
    on_progress: Callable[[int, int], None] | None = None,
) -> FaceSet:
    """The faces of ``split`` as ``(N, S, S, 3)`` uint8 RGB with ``S = round(size * context)``.

    The chip a model sees is the image grown by ``margin`` on each side; ``context`` > 1
    keeps more around it (for random crops of ``size`` out of the cached view, as Levi &
    Hassner's 227 out of 256). ``limit`` keeps N samples spread evenly over the split.
    Unreadable images are skipped with a warning.
    """
    from ..eval.readers import read_dataset

    ds = read_dataset(dataset, format=format, split=split)
    samples = [s for s in ds.samples if s.age is not None or s.age_range is not None
               or s.gender is not None]
    if not samples:
        raise InputError(
            f"{dataset}: no labeled faces in split {split!r}; check --split (UTKFace: train, "
            "val, test; Adience: fold numbers such as 0,1,2,3)"
        )
    if limit and limit < len(samples):
        pick = np.linspace(0, len(samples) - 1, limit).round().astype(int)
        samples = [samples[i] for i in pick]
    side = int(round(size * context))
    cache_margin = ((1 + 2 * margin) * context - 1) / 2
    paths = [str(s.path) for s in samples]
    key = hashlib.sha1(
        json.dumps([CACHE_VERSION, side, round(cache_margin, 6), paths]).encode()
    ).hexdigest()[:16]
    cache = (cache_dir or default_cache_dir()) / f"faces-{side}-{key}"
    ages = np.array(
        [s.age if s.age is not None else (sum(s.age_range) / 2 if s.age_range else np.nan)
         for s in samples], np.float32)
    genders = np.array(
        [-1 if s.gender is None else int(s.gender == "male") for s in samples], np.int64)
    ok_file = cache.with_suffix(".ok.npy")
    img_file = cache.with_suffix(".npy")
    if img_file.is_file() and ok_file.is_file():
        images = np.load(img_file)
        ok = np.load(ok_file)
        log.info("faces: %d from the cache %s", int(ok.sum()), img_file)
    else:
        images = np.zeros((len(samples), side, side, 3), np.uint8)
        ok = np.ones(len(samples), bool)

        def one(i: int) -> None:
            try:
                images[i] = _cut(paths[i], side, cache_margin)
            except Exception as e:  # noqa: BLE001 - one bad image must not stop training
                ok[i] = False
                log.warning("skipping %s: %s", paths[i], e)

        done = 0
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for _ in pool.map(one, range(len(samples))):
                done += 1
                if on_progress and (done % 256 == 0 or done == len(samples)):
                    on_progress(done, len(samples))
        img_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = img_file.with_name(img_file.stem + f".part{os.getpid()}.npy")
        np.save(tmp, images)
        tmp.replace(img_file)
        np.save(ok_file, ok)
        log.info("faces: %d decoded into the cache %s", int(ok.sum()), img_file)
    groups = np.where(np.isnan(ages), -1, nearest_group(np.nan_to_num(ages))).astype(np.int64)
    return FaceSet(
        images=images[ok],
        ages=ages[ok],
        genders=genders[ok],
        groups=groups[ok],
        paths=[p for p, k in zip(paths, ok) if k],
        format=ds.format,
    )


@dataclass(frozen=True)
class AugmentConfig:
    """Random changes to each training face (all off: the chip as the pipeline cuts it)."""

    flip: bool = True
    rotate: float = 10.0  # degrees, uniform in +-rotate
    scale: float = 0.08  # relative, uniform in +-scale
    translate: float = 0.05  # fraction of the side, uniform in +-translate
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    random_crop: bool = False  # crops of `size` out of the cached view (Levi & Hassner)


class Augment:
    """Batched augmentation of uint8 NHWC faces into float NCHW pixels 0..255 (RGB)."""

    def __init__(self, cfg: AugmentConfig, size: int) -> None:
        self.cfg = cfg
        self.size = size

    def crop(self, x: torch.Tensor, gen: torch.Generator | None, train: bool) -> torch.Tensor:
        """Random (train) or centre crops of ``size`` from (N, C, S, S)."""
        s = x.shape[-1]
        if s == self.size:
            return x
        if not (train and self.cfg.random_crop):
            o = (s - self.size) // 2
            return x[..., o : o + self.size, o : o + self.size]
        n = x.shape[0]
        offs = torch.randint(0, s - self.size + 1, (n, 2), generator=gen)
        return torch.stack(
            [x[i, :, int(oy) : int(oy) + self.size, int(ox) : int(ox) + self.size]
             for i, (oy, ox) in enumerate(offs)]
        )

    def __call__(
        self, batch: torch.Tensor, *, train: bool, gen: torch.Generator | None = None
    ) -> torch.Tensor:
        """(N, S, S, 3) uint8 -> (N, 3, size, size) float32 pixels; random only if ``train``."""
        x = batch.permute(0, 3, 1, 2).float()
        x = self.crop(x, gen, train)
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear",
                              antialias=True, align_corners=False)
        if not train:
            return x.contiguous()
        c, n = self.cfg, x.shape[0]

        def u(k: int = 1) -> torch.Tensor:  # uniform in [-1, 1)
            return (torch.rand((n, k), generator=gen) * 2 - 1).to(x.device)

        if c.flip:
            flip = (torch.rand(n, generator=gen) < 0.5).to(x.device)
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        if c.rotate or c.scale or c.translate:
            ang = u()[:, 0] * math.radians(c.rotate)
            sc = 1 + u()[:, 0] * c.scale
            t = u(2) * c.translate * 2  # affine_grid works in [-1, 1]
            cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
            theta = torch.stack(
                [torch.stack([cos, -sin, t[:, 0]], 1), torch.stack([sin, cos, t[:, 1]], 1)], 1
            )
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if c.brightness:
            x = x * (1 + u()[:, :, None, None] * c.brightness)
        if c.contrast:
            m = x.mean(dim=(1, 2, 3), keepdim=True)
            x = (x - m) * (1 + u()[:, :, None, None] * c.contrast) + m
        if c.saturation:
            g = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
            x = (x - g) * (1 + u()[:, :, None, None] * c.saturation) + g
        return x.clamp(0, 255).contiguous()


def normalize(
    x: torch.Tensor, mean: tuple[float, float, float], std: tuple[float, float, float],
    channels: str = "RGB",
) -> torch.Tensor:
    """Pixels (N, 3, H, W) RGB 0..255 to a model's input, as its card describes."""
    if channels == "BGR":
        x = x.flip(1)
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - m) / s
