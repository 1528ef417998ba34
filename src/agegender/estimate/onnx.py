"""One wrapper for every ONNX age or gender model, driven by its card.

Nothing is guessed from the graph: the card says the input size, layout,
channel order and normalisation, and how to decode the output.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
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
from ..models.record import ModelRecord

log = logging.getLogger(__name__)

Tta = Literal["none", "flip", "oversample"]
MAX_BATCH = 64


def default_providers(device: str = "auto") -> list[str]:
    """onnxruntime providers for ``device``: ``cpu``, ``cuda``, ``auto`` (CUDA if present)."""
    import onnxruntime as ort

    have = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device in ("cuda", "gpu"):
        if "CUDAExecutionProvider" not in have:
            raise ModelError(
                "device 'cuda' was asked for, but this onnxruntime has no CUDA provider; "
                "pip install onnxruntime-gpu (and a CUDA driver), or use --device cpu"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device != "auto":
        raise ModelError(f"unknown device {device!r}; use auto, cpu or cuda")
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in have]


_SESSION_THREADS: int | None = None


def set_session_threads(n: int | None) -> None:
    """Intra-op threads of the onnxruntime sessions this process creates from now on.

    ``None`` (the default) lets onnxruntime use every core. ``agegender batch`` sets it in
    each worker process so that workers x threads = cores.
    """
    global _SESSION_THREADS
    _SESSION_THREADS = None if n is None else max(1, int(n))


def session_threads() -> int | None:
    """The value set by :func:`set_session_threads` (``None``: onnxruntime's default)."""
    return _SESSION_THREADS


#: One onnxruntime session per (file, providers): records that name two outputs of one graph
#: (e.g. FaceRes's age and gender heads) share it.
_SESSIONS: dict[tuple[str, tuple[str, ...], int | None], Any] = {}
_SESSIONS_LOCK = threading.Lock()
#: The last few runs of graphs with several outputs, by (session, input digest): the second
#: head of a shared graph reads the outputs of the run the first head made on the same chips.
_JOINT: OrderedDict[tuple[Any, ...], list[Any]] = OrderedDict()
_JOINT_LOCK = threading.Lock()
_JOINT_KEEP = 4


def _session(path: Any, providers: list[str]) -> Any:
    import onnxruntime as ort

    key = (str(path), tuple(providers), _SESSION_THREADS)
    with _SESSIONS_LOCK:
        sess = _SESSIONS.get(key)
        if sess is None:
            opts = ort.SessionOptions()
            opts.log_severity_level = 3
            # idle worker threads must not spin: on few cores they starve detection
            # (measured 2.4x slower video on 2 cores with spinning on)
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
            # measured on 2 shared cores (benchmarks/quantize.py, the FaceRes graph alone,
            # four runs): one intra-op thread per usable core is 1.1-1.8x faster than one
            # thread at 8-32 faces a batch (less the busier the machine) and ties at 1; the
            # parallel executor (2 inter-op threads) is 1.2-1.9x slower; spinning gains nothing
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            opts.inter_op_num_threads = 1
            if _SESSION_THREADS is not None:
                opts.intra_op_num_threads = _SESSION_THREADS
            elif hasattr(os, "sched_getaffinity"):  # the cores this process may use
                opts.intra_op_num_threads = len(os.sched_getaffinity(0))
            sess = _SESSIONS[key] = ort.InferenceSession(str(path), opts, providers=providers)
    return sess


def _softmax(x: NDArray[np.float32]) -> NDArray[np.float32]:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


class OnnxModel:
    """An ONNX age or gender model described by a :class:`Card` (loaded on first use)."""

    def __init__(self, record: ModelRecord, *, providers: list[str] | None = None) -> None:
        if record.task not in ("age", "gender"):
            raise ModelError(f"model {record.name!r} is a {record.task} model, not age or gender")
        self.record = record
        self.task = record.task
        self.card = Card.parse(record.card, task=record.task, where=f"model {record.name!r}")
        self.providers = providers
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.record.name

    def _load(self) -> Any:
        with self._lock:
            if self._session is None:
                path = self.record.path()
                try:
                    self._session = _session(path, self.providers or default_providers())
                except Exception as e:  # noqa: BLE001 - re-raised with context
                    raise ModelError(f"model {self.name!r}: onnxruntime cannot load {path}: {e}") from e
                log.debug("loaded %s from %s", self.name, path)
        return self._session

    def _run_all(self, sess: Any, inp: str, chips: NDArray[np.uint8]) -> dict[str, Any]:
        """Every output of one run on ``chips``; a graph with several outputs (one graph
        for age and gender) runs once per batch of chips: the second task finds the first
        one's outputs, keyed by the session, the preprocessing and the chips' bytes (uint8,
        a quarter of the input tensor's), and skips preprocessing too. An entry is taken
        out when it is used: it serves the other task of the same batch, never a later call
        on the same pixels (repeats of an image run the graph again, as benchmarks assume)."""
        names = [o.name for o in sess.get_outputs()]
        if len(names) == 1:
            return dict(zip(names, sess.run(None, {inp: self.preprocess(chips)})))
        c = self.card
        key = (id(sess), type(self).__name__, c.channels, c.layout, c.mean, c.std, chips.shape,
               hashlib.blake2b(np.ascontiguousarray(chips).data, digest_size=16).digest())
        with _JOINT_LOCK:
            hit = _JOINT.pop(key, None)
        if hit is None:
            hit = sess.run(None, {inp: self.preprocess(chips)})
            with _JOINT_LOCK:
                _JOINT[key] = hit
                while len(_JOINT) > _JOINT_KEEP:
                    _JOINT.popitem(last=False)
        return dict(zip(names, hit))

    def preprocess(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        """RGB uint8 chips (N, h, w, 3) to the model's input tensor."""
        c = self.card
        x = chips[..., ::-1] if c.channels == "BGR" else chips
        x = x.astype(np.float32)  # type: ignore[assignment]
        if any(c.mean):
            x -= np.asarray(c.mean, np.float32)  # type: ignore[misc]
        if any(s != 1.0 for s in c.std):
            x /= np.asarray(c.std, np.float32)  # type: ignore[misc]
        if c.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x)

    def run(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Raw outputs (N, K) for the chips, in batches of at most MAX_BATCH."""
        sess = self._load()
        first = sess.get_inputs()[0]
        inp = self.card.input_name or first.name
        # graphs exported with a fixed batch (e.g. the ONNX Model Zoo's 1x3x224x224) get
        # batches of that size; a symbolic batch dimension takes up to MAX_BATCH
        shape = getattr(first, "shape", None)
        fixed = shape[0] if shape and isinstance(shape[0], int) else 0
        batch = fixed if fixed > 0 else MAX_BATCH
        outs = []
        for i in range(0, len(chips), batch):
            part = chips[i : i + batch]
            res = self._run_all(sess, inp, part)
            out = res[self.card.output_name] if self.card.output_name else next(iter(res.values()))
            outs.append(np.asarray(out, np.float32).reshape(len(part), -1))
        return np.concatenate(outs) if outs else np.zeros((0, 1), np.float32)

    # ----------------------------------------------------------------- decode
    def decode_age(self, raw: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """(distribution over 0..100, years) from raw outputs."""
        p = self.card.params
        d = self.card.decode
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
        p = self.card.params
        if self.card.decode == "sigmoid":
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

    def predict(self, chips: NDArray[np.uint8]) -> Any:
        """Age: (dist (N, 101), years (N,)); gender: p_male (N,)."""
        raw = self.run(chips)
        return self.decode_age(raw) if self.task == "age" else self.decode_gender(raw)

    def __repr__(self) -> str:
        return f"OnnxModel({self.name!r}, task={self.task!r})"
