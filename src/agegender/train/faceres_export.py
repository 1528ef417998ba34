"""Exporting a fine-tuned FaceRes: calibration on val, a float16 ONNX, and its card.

Calibration (fitted on the ``val`` splits only): perceived-gender confidences get one
temperature per band of apparent age, baked into the graph (the graph knows the age it
estimates; small children need a much softer gender answer than adults), and the age
distribution gets one temperature per band, written into the card
(``temperature_by_age``) so that the 10..90% interval holds about 80% of true ages in
every band. Years and labels are never changed by calibration.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..ages import N_AGE_BINS
from ..convert.onnx_fold import fold_same_padding
from .data import FaceSet
from .export import fp16_weights
from .faceres import AGES, FaceResNet, raw_outputs

#: Bands of apparent age (lower edges, years) for the per-band temperatures.
BAND_EDGES = (0, 10, 20, 30, 40, 50, 60, 70)
_T_GRID = np.exp(np.linspace(np.log(0.3), np.log(8.0), 161))


def band_of(years: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(BAND_EDGES, years, side="right") - 1, 0, len(BAND_EDGES) - 1)


class Calibrated(nn.Module):
    """What the shipped ONNX computes: ``age`` (N, 101) probabilities as trained, and
    ``gender`` (N, 1) P(male) with the logit divided by the temperature of its age band."""

    def __init__(self, net: FaceResNet, gender_t: np.ndarray) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("gender_t", torch.tensor(gender_t, dtype=torch.float32))
        self.register_buffer("edges", torch.tensor(BAND_EDGES[1:], dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, g = self.net(x)
        p = torch.softmax(a, dim=1)
        years = p @ AGES
        band = (years[:, None] >= self.edges[None, :]).sum(dim=1)
        t = self.gender_t[band]
        return p, torch.sigmoid(g / t)[:, None]


def _nll(logit: np.ndarray, male: np.ndarray, t: float) -> float:
    p = 1 / (1 + np.exp(-logit / t))
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-(male * np.log(p) + (1 - male) * np.log(1 - p)).mean())


def fit_gender_temperatures(logit: np.ndarray, male: np.ndarray, years: np.ndarray,
                            min_faces: int = 60) -> np.ndarray:
    """One temperature per age band by NLL; bands with few faces take the overall one."""
    known = male >= 0
    logit, male, years = logit[known], male[known].astype(np.float64), years[known]
    overall = float(_T_GRID[np.argmin([_nll(logit, male, t) for t in _T_GRID])])
    bands = band_of(years)
    out = np.full(len(BAND_EDGES), overall)
    for b in range(len(BAND_EDGES)):
        m = bands == b
        if m.sum() >= min_faces:
            out[b] = _T_GRID[np.argmin([_nll(logit[m], male[m], t) for t in _T_GRID])]
    return out


def _coverage(dist: np.ndarray, ages: np.ndarray, t: float) -> float:
    q = np.power(np.clip(dist, 1e-12, None), 1.0 / t)
    q /= q.sum(1, keepdims=True)
    c = np.cumsum(q, axis=1)
    lo = (c < 0.1).sum(1)
    hi = (c < 0.9).sum(1)
    return float(((ages >= lo) & (ages <= hi)).mean())


def fit_age_temperatures(dist: np.ndarray, ages: np.ndarray, min_faces: int = 40) -> list[list[float]]:
    """``[[lo, hi, T], ...]`` per band of apparent age, so the 10..90% interval covers 80%."""
    known = ~np.isnan(ages)
    dist, ages = dist[known], ages[known]
    years = dist @ np.arange(N_AGE_BINS)
    grid = np.exp(np.linspace(np.log(0.5), np.log(6.0), 90))

    def best(m: np.ndarray) -> float:
        return float(grid[np.argmin([abs(_coverage(dist[m], ages[m], t) - 0.8) for t in grid])])

    overall = best(np.ones(len(ages), bool))
    bands = band_of(years)
    rows = []
    for b, lo in enumerate(BAND_EDGES):
        hi = BAND_EDGES[b + 1] - 1 if b + 1 < len(BAND_EDGES) else 100
        m = bands == b
        rows.append([float(lo), float(hi), round(best(m) if m.sum() >= min_faces else overall, 3)])
    return rows


def onnx_bytes(model: nn.Module, size: int) -> bytes:
    x = torch.zeros(2, size, size, 3)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (x,), buf, dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["age", "gender"],
                          dynamic_axes={"input": {0: "N"}, "age": {0: "N"}, "gender": {0: "N"}},
                          do_constant_folding=True)
    return buf.getvalue()


def export(net: FaceResNet, val: FaceSet, size: int, out: Path, name: str) -> dict[str, Any]:
    """Fit the temperatures on ``val``, write ``out/<name>.onnx`` (float16 weights) and
    return the calibration and the file's sha256 (the caller writes the card)."""
    import onnxruntime as ort

    dist, logit = raw_outputs(net, val.images, size)
    years = dist @ AGES.numpy()
    gender_t = fit_gender_temperatures(logit, val.genders, years)
    age_t = fit_age_temperatures(dist, val.ages)
    model = Calibrated(net, gender_t).eval()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.onnx"
    path.write_bytes(fp16_weights(onnx_bytes(model, size)))
    # TF-style "same" padding folded into the convolutions (identical outputs, ~0.6x the
    # CPU time), before the sha256 is taken
    fold_same_padding(path, path)
    data = path.read_bytes()
    # the file must compute what the module computes
    x = torch.from_numpy(np.random.default_rng(0).normal(0, 60, (4, size, size, 3)).astype(np.float32))
    with torch.no_grad():
        ref = [t.numpy() for t in model(x)]
    got = ort.InferenceSession(data).run(None, {"input": x.numpy()})
    err = max(float(np.abs(a - b).max()) for a, b in zip(ref, got))
    return {"gender_temperature_by_age": [[lo, round(float(t), 3)] for lo, t in zip(BAND_EDGES, gender_t)],
            "temperature_by_age": age_t, "onnx_max_abs_diff_vs_torch": err,
            "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "file": path.name}


def write_card(path: Path, card: dict[str, Any]) -> None:
    path.write_text(json.dumps(card, indent=1) + "\n")
