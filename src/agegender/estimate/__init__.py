"""Age and gender estimation: models by name, ensembles, and test-time augmentation.

``create_estimator("age", "cydral-age")`` gives an :class:`Estimator`; a spec of
several names joined by ``+`` (``"a+b"``, or weighted ``"a:2+b:1"``) averages
the members' age distributions (or gender probabilities) with those weights.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..align import chip_transforms, warp_chips
from ..errors import InputError
from ..faces import Faces
from ..models.card import Card
from ..models.record import OUTPUT_TASKS, ModelRecord
from ..runtime import default_providers
from .onnx import OnnxModel, Tta

log = logging.getLogger(__name__)

Task = Literal["age", "gender", "embedding"]
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
    """Age, perceived gender (and embeddings) of faces, each task by one model or a weighted
    ensemble, with test-time augmentation.

    ``Estimator("age", "a:2+b:1")`` estimates one task; ``Estimator({"age": "faceres-age",
    "gender": "faceres-gender"})`` several. One network is one model: a model named by
    several tasks (a record with several outputs, under any of its names) is loaded once and
    runs once per batch for all of them.
    """

    def __init__(
        self,
        task: str | Mapping[str, str | None],
        spec: str | None = None,
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
        asked = {task: spec} if isinstance(task, str) else dict(task)
        specs = {t: s for t, s in asked.items() if s}
        for t in specs:
            if t not in OUTPUT_TASKS:
                raise InputError(f"cannot estimate {t!r}; tasks are {', '.join(OUTPUT_TASKS)}")
        if not specs:
            raise InputError("an Estimator needs a model for at least one task (age, gender)")
        self.specs: dict[str, str] = specs
        self.tta: Tta = tta
        provs = providers or default_providers(device)
        by_name: dict[str, OnnxModel] = {}
        #: task -> [(model, normalised weight)], in the spec's order
        self.members: dict[str, list[tuple[OnnxModel, np.float64]]] = {}
        for t, sp in self.specs.items():
            pairs = parse_spec(sp)
            total = sum(w for _, w in pairs)
            members = []
            for name, w in pairs:
                rec = get(name, t)  # type: ignore[arg-type]
                if rec.name not in by_name:
                    by_name[rec.name] = _load_model(rec, provs)
                members.append((by_name[rec.name], np.float64(w) / total))
            self.members[t] = members
        #: every network once, in the order first named
        self.models: list[OnnxModel] = list(by_name.values())
        self.mask_background = mask_background
        self._masks = {
            m.name: m.card.mask_background if mask_background is None else bool(mask_background)
            for m in self.models
        }

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.specs)

    @property
    def task(self) -> str:
        """The task of a one-task Estimator (``multi`` when it has several)."""
        return self.tasks[0] if len(self.specs) == 1 else "multi"

    @property
    def spec(self) -> str:
        """The model spec of a one-task Estimator (``task=spec`` pairs when several)."""
        if len(self.specs) == 1:
            return next(iter(self.specs.values()))
        return " ".join(f"{t}={s}" for t, s in self.specs.items())

    @property
    def weights(self) -> NDArray[np.float64]:
        """The members' normalised weights of the first task."""
        return np.array([w for _, w in self.members[self.tasks[0]]], np.float64)

    def _outputs(
        self,
        images: Sequence[NDArray[np.uint8]],
        faces: Sequence[Faces],
        whole: bool,
        chips: dict[Any, tuple[NDArray[np.uint8], int]] | None,
    ) -> dict[str, tuple[dict[str, Any], int]]:
        """Each model's decoded outputs for the tasks it serves here (one run each), and
        its number of views per face."""
        out = {}
        for model in self.models:
            card, mask = model.card, self._masks[model.name]
            key = (card.size, card.crop, card.margin, card.template, self.tta, whole, mask)
            if chips is not None and key in chips:
                views, v = chips[key]
            else:
                views, v = _views(images, faces, card, self.tta, whole, mask)
                if chips is not None:
                    chips[key] = (views, v)
            tasks = [t for t, ms in self.members.items() if any(m is model for m, _ in ms)]
            out[model.name] = (model.predict_all(views, tasks), v)
        return out

    def estimate(
        self,
        images: Sequence[NDArray[np.uint8]],
        faces: Sequence[Faces],
        *,
        whole: bool = False,
        chips: dict[Any, tuple[NDArray[np.uint8], int]] | None = None,
    ) -> list[Faces]:
        """New Faces with this Estimator's columns, for the faces of each image (one batch).

        ``whole=True`` feeds each face box, as is, resized to the model's input (for
        images that are already tight face crops) instead of the card's crop.
        Models wanting the same chip (crop, template, size, views) share one alignment
        instead of warping every face again; ``chips``, a dict, carries them to another
        Estimator of the same batch. Each network runs once for all the tasks it serves.
        """
        chips = {} if chips is None else chips
        counts = [len(f) for f in faces]
        n = sum(counts)
        cols: dict[str, list[NDArray[Any]]] = {}
        if n == 0:
            cols = {"dist": [np.zeros((0, 101), np.float32)], "years": [np.zeros(0, np.float32)],
                    "gender": [np.zeros(0, np.float32)], "embedding": [np.zeros((0, 0), np.float32)]}
            return [self._set(f, {k: v[0] for k, v in cols.items()}) for f in faces]
        outputs = self._outputs(images, faces, whole, chips)
        acc: dict[str, NDArray[np.float64]] = {}
        for t, members in self.members.items():
            for model, wt in members:
                got, v = outputs[model.name]
                if t == "age":
                    d, y = got[t]
                    acc["dist"] = acc.get("dist", 0) + wt * d.reshape(v, n, -1).mean(axis=0)
                    acc["years"] = acc.get("years", 0) + wt * y.reshape(v, n).mean(axis=0)
                else:
                    key = "gender" if t == "gender" else "embedding"
                    per = got[t].reshape(v, n, -1).mean(axis=0)
                    acc[key] = acc.get(key, 0) + wt * (per[:, 0] if t == "gender" else per)
        res = []
        start = 0
        for f, c in zip(faces, counts):
            sl = slice(start, start + c)
            start += c
            res.append(self._set(f, {k: a[sl].astype(np.float32) for k, a in acc.items()}))
        return res

    def _set(self, f: Faces, cols: dict[str, NDArray[np.float32]]) -> Faces:
        if "age" in self.specs:
            f = f.with_age(cols["dist"], cols["years"])
        if "gender" in self.specs:
            f = f.with_gender(cols["gender"])
        if "embedding" in self.specs:
            f = f.with_columns(embedding=cols["embedding"])
        return f

    def __repr__(self) -> str:
        specs = ", ".join(f"{t}={s!r}" for t, s in self.specs.items())
        return f"Estimator({specs}, tta={self.tta!r})"


__all__ = ["Estimator", "OnnxModel", "parse_spec"]


def create_estimator(task: Task, spec: str = "default", *, profile: str | None = None,
                     **kwargs: Any) -> Estimator:
    """An :class:`Estimator` for ``task`` (``"age"`` or ``"gender"``): one model name, or
    several joined by ``+`` with optional weights (``"a:2+b:1"``). ``"default"`` is the
    profile's model for the task. ``profile`` (default ``AGEGENDER_PROFILE``, else
    ``accurate``) is checked as the Analyzer checks it: under ``permissive`` a model that
    does not allow commercial use is an InputError. Keyword arguments go to
    :class:`Estimator` (``device``, ``tta``, ``mask_background``)."""
    from ..models.profiles import check_allowed, get_profile

    prof = get_profile(profile)
    if spec == "default":
        spec = prof.age_model if task == "age" else prof.gender_model
    check_allowed(prof, [name for name, _ in parse_spec(spec)])
    return Estimator(task, spec, **kwargs)
