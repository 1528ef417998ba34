"""One wrapper for every ONNX age or gender model, driven by its card.

Nothing is guessed from the graph: the card says the input size, layout,
channel order and normalisation, and how to decode the output.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..ages import (
    AGE_BINS,
    N_AGE_BINS,
    expected_age,
    gaussian_distribution,
    groups_to_distribution,
)
from ..errors import ModelError
from ..models.card import Card
from ..models.record import OUTPUT_TASKS, ModelRecord
from ..runtime import default_providers, shared_session

log = logging.getLogger(__name__)

Tta = Literal["none", "flip", "oversample"]
MAX_BATCH = 64


def _softmax(x: NDArray[np.float32]) -> NDArray[np.float32]:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), np.float32)


class OnnxModel:
    """An ONNX estimation model described by its record's card (loaded on first use).

    One network is one model: a record with several outputs (``"outputs"`` in its card:
    age, gender, embedding) runs once per batch of chips for all of them
    (:meth:`predict_all`). The input and crop are the network's, shared by its outputs.
    """

    def __init__(self, record: ModelRecord, *, providers: list[str] | None = None) -> None:
        tasks = tuple(t for t in record.tasks if t in OUTPUT_TASKS)
        if not tasks:
            raise ModelError(
                f"model {record.name!r} is a {record.task} model, not age, gender or embedding"
            )
        self.record = record
        self.tasks: tuple[str, ...] = tasks
        #: the task of a one-output model; ``multi`` for a model with several outputs
        self.task: str = tasks[0] if len(tasks) == 1 else record.task
        where = f"model {record.name!r}"
        self.cards: dict[str, Card] = {t: Card.parse(record.card, task=t, where=where) for t in tasks}
        #: the input and crop (the same for every output), and the first output's decoding
        self.card: Card = self.cards[tasks[0]]
        self.providers = providers
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.record.name

    def load(self) -> Any:
        """The onnxruntime session (made on first use, shared per file); ModelError when
        onnxruntime cannot load the file."""
        with self._lock:
            if self._session is None:
                path = self.record.path()
                try:
                    self._session = shared_session(path, self.providers or default_providers())
                except Exception as e:  # noqa: BLE001 - re-raised with context
                    raise ModelError(f"model {self.name!r}: onnxruntime cannot load {path}: {e}") from e
                log.debug("loaded %s from %s", self.name, path)
        return self._session

    def preprocess(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        """RGB uint8 chips (N, h, w, 3) to the model's input tensor."""
        c = self.card
        x = chips[..., ::-1] if c.channels == "BGR" else chips
        x = x.astype(np.float32)
        if any(c.mean):
            x -= np.asarray(c.mean, np.float32)
        if any(s != 1.0 for s in c.std):
            x /= np.asarray(c.std, np.float32)  # type: ignore[misc]
        if c.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x)

    def run_outputs(self, chips: NDArray[np.uint8], tasks: Sequence[str] | None = None,
                    ) -> dict[str, NDArray[np.float32]]:
        """Raw outputs ``{task: (N, K)}`` of ``tasks`` (default: all of this model's) for
        the chips: one run of the graph per batch of at most MAX_BATCH gives them all."""
        tasks = list(self.tasks if tasks is None else tasks)
        for t in tasks:
            if t not in self.cards:
                raise ModelError(f"model {self.name!r} has no {t!r} output; it gives {', '.join(self.tasks)}")
        sess = self.load()
        first = sess.get_inputs()[0]
        inp = self.card.input_name or first.name
        names = [o.name for o in sess.get_outputs()]
        picks = [self._output_index(t, names) for t in tasks]
        # graphs exported with a fixed batch (e.g. the ONNX Model Zoo's 1x3x224x224) get
        # batches of that size; a symbolic batch dimension takes up to MAX_BATCH
        shape = getattr(first, "shape", None)
        fixed = shape[0] if shape and isinstance(shape[0], int) else 0
        batch = fixed if fixed > 0 else MAX_BATCH
        outs: dict[str, list[NDArray[np.float32]]] = {t: [] for t in tasks}
        for i in range(0, len(chips), batch):
            part = chips[i : i + batch]
            res = sess.run(None, {inp: self.preprocess(part)})
            for t, k in zip(tasks, picks):
                outs[t].append(np.asarray(res[k], np.float32).reshape(len(part), -1))
        return {t: np.concatenate(o) if o else np.zeros((0, 1), np.float32) for t, o in outs.items()}

    def _output_index(self, task: str, names: list[str]) -> int:
        """Which graph output gives ``task``: the one its card names, else by position."""
        want = self.cards[task].output_name
        if want is None:
            return min(self.tasks.index(task), len(names) - 1)
        if want not in names:
            raise ModelError(
                f"model {self.name!r}: its card's {task} output {want!r} is not one of the "
                f"graph's outputs ({', '.join(names)}); fix output.name in the card"
            )
        return names.index(want)

    def run(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Raw outputs (N, K) of the first output for the chips."""
        return self.run_outputs(chips, self.tasks[:1])[self.tasks[0]]

    # ----------------------------------------------------------------- decode
    def decode_age(self, raw: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """(distribution over 0..100, years) from raw outputs."""
        card = self.cards["age"]
        p = card.params
        d = card.decode
        if d == "regression":
            years = np.clip(raw[:, 0] * float(p.get("scale", 1.0)), 0, 100).astype(np.float32)
            return gaussian_distribution(years, float(p.get("sigma", 4.0))), years
        probs = _softmax(raw) if p.get("softmax", True) else raw / raw.sum(1, keepdims=True)
        # ``temperature`` (fitted on validation data) widens an overconfident distribution so
        # that its intervals hold their nominal coverage; years stay the model's own.
        t: Any = float(p.get("temperature", 1.0))
        by_age = p.get("temperature_by_age")  # [[lo, hi, T], ...] by the model's own years
        if by_age and d == "expected_value":
            own = probs @ np.asarray(p["ages"], np.float32)
            t = np.full((len(probs), 1), t, np.float32)
            for lo, hi, tb in by_age:
                t[(own >= lo) & (own < hi + 1)] = tb
        tempered = probs
        if np.any(np.asarray(t) != 1.0):
            tempered = np.power(np.clip(probs, 1e-12, None), 1.0 / t)
            tempered = (tempered / tempered.sum(axis=1, keepdims=True)).astype(np.float32)
        if d == "groups":
            groups = p.get("groups")

            def spread(q: NDArray[np.float32]) -> NDArray[np.float32]:
                if groups is None or len(groups) == 8:
                    return groups_to_distribution(q)
                out = np.zeros((len(q), N_AGE_BINS), np.float32)  # the card's own groups
                for j, (lo, hi) in enumerate(groups):
                    lo, hi = max(int(lo), 0), min(int(hi), 100)
                    out[:, lo : hi + 1] += q[:, j : j + 1] / (hi - lo + 1)
                return out

            return spread(tempered), expected_age(spread(probs))
        ages = np.asarray(p["ages"], np.float32)
        if probs.shape[1] != len(ages):
            raise ModelError(
                f"model {self.name!r} outputs {probs.shape[1]} classes but its card lists "
                f"{len(ages)} ages"
            )
        years = (probs @ ages).astype(np.float32)
        idx = np.clip(np.rint(ages), 0, AGE_BINS[-1]).astype(np.int64)
        dist = np.zeros((len(probs), N_AGE_BINS), np.float32)
        np.add.at(dist.T, idx, tempered.T)
        return dist, years

    def decode_gender(self, raw: NDArray[np.float32]) -> NDArray[np.float32]:
        """Probability of 'male' from raw outputs (``temperature`` divides its logit)."""
        card = self.cards["gender"]
        p = card.params
        if card.decode == "sigmoid":
            v = raw[:, 0]
            if p.get("logits", False):
                v = 1.0 / (1.0 + np.exp(-v))  # type: ignore[assignment]
            v = np.clip(v, 0.0, 1.0)
            male = v if p.get("positive", "male") == "male" else 1.0 - v
        else:
            probs = _softmax(raw) if p.get("softmax", True) else raw / raw.sum(1, keepdims=True)
            male = probs[:, list(p["labels"]).index("male")]
        t = float(p.get("temperature", 1.0))
        if t != 1.0:  # calibration only: the label (p >= 0.5) never changes
            q = np.clip(male.astype(np.float64), 1e-7, 1 - 1e-7)
            male = 1.0 / (1.0 + np.exp(-np.log(q / (1 - q)) / t))
        return np.asarray(male, np.float32)

    def decode_embedding(self, raw: NDArray[np.float32]) -> NDArray[np.float32]:
        """One vector per face: unit length (``l2``) or as the graph gives it (``raw``)."""
        if self.cards["embedding"].decode == "raw":
            return raw
        norm = np.linalg.norm(raw, axis=1, keepdims=True)
        return np.asarray(raw / np.maximum(norm, 1e-12), np.float32)

    def decode(self, task: str, raw: NDArray[np.float32]) -> Any:
        """Age: (dist (N, 101), years (N,)); gender: p_male (N,); embedding: (N, D)."""
        if task == "age":
            return self.decode_age(raw)
        if task == "gender":
            return self.decode_gender(raw)
        return self.decode_embedding(raw)

    def predict_all(self, chips: NDArray[np.uint8], tasks: Sequence[str] | None = None) -> dict[str, Any]:
        """Every asked output (default: all), decoded, from one run of the graph."""
        return {t: self.decode(t, raw) for t, raw in self.run_outputs(chips, tasks).items()}

    def predict(self, chips: NDArray[np.uint8], task: str | None = None) -> Any:
        """One output decoded (default: the first): see :meth:`decode`."""
        t = task or self.tasks[0]
        return self.predict_all(chips, [t])[t]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, tasks={'+'.join(self.tasks)!r})"
