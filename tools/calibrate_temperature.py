"""Fit the temperatures of an age and a gender model on UTKFace *val* (never test).

Age: the distribution is flattened (``p ** (1/T)``) until its 10th..90th percentile
interval holds the true age 80% of the time. Gender: the logit of p(male) is divided by
T to minimise the negative log-likelihood (labels never change, only confidences).

    AGEGENDER_MIRROR=../shared/models python tools/calibrate_temperature.py \
        ../shared/data/utkface [--age-model cydral-age] [--gender-model cydral-gender]

Put the printed values into the models' cards as ``output.temperature``; the models
must be evaluated with temperature 1 when this runs (the script warns otherwise).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from agegender.ages import age_quantiles  # noqa: E402
from agegender.analyzer import Analyzer  # noqa: E402
from agegender.eval.readers import read_utkface  # noqa: E402
from agegender.eval.run import predict_samples  # noqa: E402
from agegender.models import get  # noqa: E402


def temper(dist: np.ndarray, t: float) -> np.ndarray:
    d = np.power(np.clip(dist, 1e-12, None), 1.0 / t)
    return d / d.sum(axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--age-model", default="cydral-age")
    ap.add_argument("--gender-model", default="cydral-gender")
    ap.add_argument("--detector", default="yunet")
    ap.add_argument("--crops", action="store_true")
    a = ap.parse_args()
    for name in (a.age_model, a.gender_model):
        get(name).card["output"]["temperature"] = 1.0  # fit from the raw outputs
    ds = read_utkface(a.root, split="val")
    an = Analyzer(detector=a.detector, age_model=a.age_model, gender_model=a.gender_model)
    pairs = [
        (p, s)
        for p, s in zip(predict_samples(an, ds.samples, crops=a.crops), ds.samples)
        if p.get("found")
    ]
    aged = [(p, s) for p, s in pairs if s.age is not None]
    ages = np.array([s.age for _, s in aged])
    dist = np.stack([p["age_dist"] for p, _ in aged])
    best = None
    for t in np.arange(1.0, 6.01, 0.1):
        d = temper(dist, t)
        lo, hi = age_quantiles(d, 0.1), age_quantiles(d, 0.9)
        cov = float(np.mean((ages >= lo) & (ages <= hi)))
        if best is None or abs(cov - 0.8) < abs(best[1] - 0.8):
            best = (t, cov, float(np.mean(hi - lo)))
    print(f"age: temperature {best[0]:.1f} gives val coverage {best[1]:.3f} "
          f"(mean width {best[2]:.1f} years; {len(ages)} faces)")

    sexed = [(p, s) for p, s in pairs if s.gender is not None]
    p = np.clip(np.array([q["p_male"] for q, _ in sexed]), 1e-7, 1 - 1e-7)
    y = np.array([s.gender == "male" for _, s in sexed], float)
    logit = np.log(p / (1 - p))
    best_g = None
    for t in np.arange(0.5, 6.01, 0.05):
        q = np.clip(1 / (1 + np.exp(-logit / t)), 1e-7, 1 - 1e-7)
        nll = float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
        if best_g is None or nll < best_g[1]:
            best_g = (t, nll)
    nll1 = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    print(f"gender: temperature {best_g[0]:.2f} gives val NLL {best_g[1]:.4f} "
          f"(at 1.0: {nll1:.4f}; {len(y)} faces)")


if __name__ == "__main__":
    main()
