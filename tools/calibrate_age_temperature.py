"""Fit the temperature of an age model's distribution so that its 10th..90th percentile
interval holds the true age 80% of the time, on UTKFace *val* (never test).

    AGEGENDER_MIRROR=../shared/models python tools/calibrate_age_temperature.py \
        ../shared/data/utkface --age-model cydral-age [--crops]

Prints the coverage for a grid of temperatures and the one closest to 80%; put that
into the model's card as output.temperature.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from agegender.ages import age_quantiles  # noqa: E402
from agegender.eval.readers import read_utkface  # noqa: E402
from agegender.eval.run import predict_samples  # noqa: E402
from agegender.pipeline import Analyzer  # noqa: E402


def temper(dist: np.ndarray, t: float) -> np.ndarray:
    d = np.power(np.clip(dist, 1e-12, None), 1.0 / t)
    return d / d.sum(axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--age-model", default="cydral-age")
    ap.add_argument("--detector", default="yunet")
    ap.add_argument("--crops", action="store_true")
    a = ap.parse_args()
    ds = read_utkface(a.root, split="val")
    an = Analyzer(detector=a.detector, age_model=f"{a.age_model}", gender_model=None)
    pairs = [
        (p, s)
        for p, s in zip(predict_samples(an, ds.samples, crops=a.crops), ds.samples)
        if p.get("found") and s.age is not None
    ]
    preds = [p for p, _ in pairs]
    ages = np.array([s.age for _, s in pairs])
    dist = np.stack([p["age_dist"] for p in preds])
    best = None
    for t in np.arange(1.0, 6.01, 0.25):
        d = temper(dist, t)
        lo, hi = age_quantiles(d, 0.1), age_quantiles(d, 0.9)
        cov = float(np.mean((ages >= lo) & (ages <= hi)))
        width = float(np.mean(hi - lo))
        print(f"T={t:4.2f}  coverage={cov:.3f}  mean width={width:5.1f} years")
        if best is None or abs(cov - 0.8) < abs(best[1] - 0.8):
            best = (t, cov)
    print(f"best temperature {best[0]:.2f} (val coverage {best[1]:.3f}, {len(ages)} faces)")


if __name__ == "__main__":
    main()
