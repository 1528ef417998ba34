"""Age and gender estimation: models by name, ensembles, and test-time augmentation.

``create_estimator("age", "cydral-age")`` gives an :class:`Estimator`; a spec of
several names joined by ``+`` (``"a+b"``, or weighted ``"a:2+b:1"``) averages
the members' age distributions (or gender probabilities) with those weights.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..align import chip_transforms, warp_chips
from ..errors import InputError
from ..faces import Faces
from ..models.card import Card
from ..models.record import ModelRecord
from .onnx import OnnxModel, Tta, default_providers

log = logging.getLogger(__name__)

Task = Literal["age", "gender"]
#: Over-sampling as in Levi & Hassner: the chip is cut from a view 256/227 larger,
#: then 4 corner crops + the centre crop, and the mirror of each (10 views).
OVERSAMPLE_RATIO = 256 / 227


def parse_spec(spec: str) -> list[tuple[str, float]]:
    """``"a:2+b"`` -> ``[("a", 2.0), ("b", 1.0)]``; weights must be positive."""
    members = []
    for part in spec.split("+"):
        part = part.strip()
        if not part:
            raise InputError(f"model spec {spec!r} has an empty member; write e.g. 'a+b' or 'a:2+b:1'")
        name, _, w = part.partition(":")
        try:
            weight = float(w) if w else 1.0
        except ValueError:
            raise InputError(f"model spec {spec!r}: weight {w!r} of {name!r} is not a number") from None
        if weight <= 0:
            raise InputError(f"model spec {spec!r}: weight of {name!r} must be > 0")
        members.append((name, weight))
    return members


def _views(
    images: Sequence[NDArray[np.uint8]],
    faces: Sequence[Faces],
    card: Card,
    tta: Tta,
    whole: bool = False,
    mask: bool = False,
) -> tuple[NDArray[np.uint8], int]:
    """Chips of all faces of all images, as (V * N, h, w, 3) with V views per face.

    ``mask`` fades everything outside each face's ellipse to the chip's mean
    (:mod:`agegender.mask`) before any crop or flip.
    """
    w, h = card.size
    mats = [chip_transforms(f, card, whole=whole) for f in faces]

    def cut(im: NDArray[np.uint8], f: Faces, m: NDArray[np.float64], size: tuple[int, int]) -> NDArray[np.uint8]:
        chips = warp_chips(im, m, size)
        if mask:
            from ..mask import face_ellipses, mask_chips

            chips = mask_chips(chips, face_ellipses(f, m))
        return chips

    if tta == "oversample":
        bw, bh = round(w * OVERSAMPLE_RATIO), round(h * OVERSAMPLE_RATIO)
        # same scale, more context: the card's chip is the centre crop of this view
        shift = np.array([(bw - w) / 2, (bh - h) / 2])
        big_mats = [np.concatenate([m[:, :, :2], (m[:, :, 2] + shift)[..., None]], axis=2) for m in mats]
        big = np.concatenate(
            [cut(im, f, m, (bw, bh)) for im, f, m in zip(images, faces, big_mats)]
        ) if big_mats else np.zeros((0, bh, bw, 3), np.uint8)
        offs = [(0, 0), (bw - w, 0), (0, bh - h), (bw - w, bh - h), ((bw - w) // 2, (bh - h) // 2)]
        crops = [big[:, y : y + h, x : x + w] for x, y in offs]
        crops += [c[:, :, ::-1] for c in crops]
        return np.ascontiguousarray(np.concatenate(crops)), len(crops)
    chips = (
        np.concatenate([cut(im, f, m, (w, h)) for im, f, m in zip(images, faces, mats)])
        if mats
        else np.zeros((0, h, w, 3), np.uint8)
    )
    if tta == "flip":
        return np.ascontiguousarray(np.concatenate([chips, chips[:, :, ::-1]])), 2
    if tta != "none":
        raise InputError(f"tta must be none, flip or oversample, got {tta!r}")
    return chips, 1


def _load_model(record: ModelRecord, providers: list[str]) -> OnnxModel:
    """The wrapper for a record: ONNX by default; ``card["runtime"]`` may name another."""
    runtime = record.card.get("runtime", "onnx")
    if runtime == "caffe":
        from .caffe import CaffeModel

        return CaffeModel(record, providers=providers)
    if runtime != "onnx":
        raise InputError(f"model {record.name!r}: unknown runtime {runtime!r} in its card")
    return OnnxModel(record, providers=providers)


class Estimator:
    """One task (age or gender) estimated by one model or a weighted ensemble."""

    def __init__(
        self,
        task: Task,
        spec: str,
        *,
        device: str = "auto",
        tta: Tta = "none",
        providers: list[str] | None = None,
        mask_background: bool | None = None,
    ) -> None:
        """``mask_background``: True or False for every member; None (default) lets each
        model's card decide (``crop.mask_background``, off unless the card says so)."""
        from ..models import get

        if tta not in ("none", "flip", "oversample"):
            raise InputError(f"tta must be none, flip or oversample, got {tta!r}")
        self.task = task
        self.spec = spec
        self.tta: Tta = tta
        provs = providers or default_providers(device)
        members = parse_spec(spec)
        self.models = [_load_model(get(n, task), provs) for n, _ in members]
        w = np.array([wt for _, wt in members], np.float64)
        self.weights = w / w.sum()
        self.mask_background = mask_background
        self._masks = [
            m.card.mask_background if mask_background is None else bool(mask_background)
            for m in self.models
        ]

    def estimate(
        self,
        images: Sequence[NDArray[np.uint8]],
        faces: Sequence[Faces],
        *,
        whole: bool = False,
        chips: dict[Any, tuple[NDArray[np.uint8], int]] | None = None,
    ) -> list[Faces]:
        """New Faces with this task's columns, for the faces of each image (one batch).

        ``whole=True`` feeds each face box, as is, resized to the model's input (for
        images that are already tight face crops) instead of the card's crop.
        ``chips``: a dict shared by the estimators of one batch (the Analyzer passes one),
        so that models wanting the same chip (crop, template, size, views) share one
        alignment instead of warping every face again.
        """
        counts = [len(f) for f in faces]
        n = sum(counts)
        if n == 0:
            return [self._set(f, np.zeros((0, 101), np.float32), np.zeros(0, np.float32)) for f in faces]
        dist = np.zeros((n, 101), np.float64)
        years = np.zeros(n, np.float64)
        pm = np.zeros(n, np.float64)
        for model, wt, mask in zip(self.models, self.weights, self._masks):
            card = model.card
            key = (card.size, card.crop, card.margin, card.template, self.tta, whole, mask)
            if chips is not None and key in chips:
                views, v = chips[key]
            else:
                views, v = _views(images, faces, card, self.tta, whole, mask)
                if chips is not None:
                    chips[key] = (views, v)
            out = model.predict(views)
            if self.task == "age":
                d, y = out
                dist += wt * d.reshape(v, n, -1).mean(axis=0)
                years += wt * y.reshape(v, n).mean(axis=0)
            else:
                pm += wt * out.reshape(v, n).mean(axis=0)
        res = []
        start = 0
        for f, c in zip(faces, counts):
            sl = slice(start, start + c)
            start += c
            if self.task == "age":
                res.append(self._set(f, dist[sl].astype(np.float32), years[sl].astype(np.float32)))
            else:
                res.append(self._set(f, None, pm[sl].astype(np.float32)))
        return res

    def _set(self, f: Faces, dist: NDArray[np.float32] | None, v: NDArray[np.float32]) -> Faces:
        if self.task == "age":
            return f.with_age(dist, v)  # type: ignore[arg-type]
        return f.with_gender(v)

    def __repr__(self) -> str:
        return f"Estimator({self.task!r}, {self.spec!r}, tta={self.tta!r})"


__all__ = ["Estimator", "OnnxModel", "parse_spec"]


def create_estimator(task: Task, spec: str = "default", **kwargs: Any) -> Estimator:
    """An :class:`Estimator` for ``task`` (``"age"`` or ``"gender"``): one model name, or
    several joined by ``+`` with optional weights (``"a:2+b:1"``). ``"default"`` is the
    default profile's model for the task. Keyword arguments go to :class:`Estimator`
    (``device``, ``tta``, ``mask_background``)."""
    if spec == "default":
        from ..models.profiles import get_profile

        prof = get_profile(None)
        spec = prof.age_model if task == "age" else prof.gender_model
    return Estimator(task, spec, **kwargs)
