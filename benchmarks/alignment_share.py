"""Estimation of the default network's two outputs in one run vs one estimator per task.

    python benchmarks/alignment_share.py [--faces 96] [--runs 7]

Detects the faces of UTKFace val images once (hog-mtcnn), then times ``Analyzer.estimate``
(one chip per face and one run of the default network for age and gender) against an age
and a gender estimator run apart (each warps every face and runs the network), interleaved,
and prints the medians (min-max) per face and their ratio. The answers are checked to be
identical.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from agegender import Analyzer  # noqa: E402
from agegender.estimate import Estimator  # noqa: E402
from agegender.io.images import decode_image  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--faces", type=int, default=96)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--shared", type=Path, default=Path(os.environ.get("AGEGENDER_SHARED", REPO.parent / "shared")))
    a = p.parse_args(argv)
    root = a.shared / "data" / "utkface"
    with open(root / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "val"][: a.faces]
    images = [decode_image(root / r["path"]) for r in rows]
    an = Analyzer(detector="hog-mtcnn")
    faces = an.detect(images)
    n = sum(len(f) for f in faces)
    assert an.age_model is not None and an.gender_model is not None
    age, gender = Estimator("age", an.age_model), Estimator("gender", an.gender_model)

    def once(shared: bool) -> float:
        t = time.perf_counter()
        if shared:
            an.estimate(images, faces)
        else:
            gender.estimate(images, age.estimate(images, faces))
        return (time.perf_counter() - t) / n * 1000

    for _ in range(2):
        once(True), once(False)
    apart, shared = [], []
    for _ in range(a.runs):
        apart.append(once(False))
        shared.append(once(True))
    r1 = an.estimate(images, faces)
    r2 = gender.estimate(images, age.estimate(images, faces))
    same = all(np.array_equal(x.age_dist, y.age_dist) and np.array_equal(x.gender_p, y.gender_p)
               for x, y in zip(r1, r2))
    ma, ms = statistics.median(apart), statistics.median(shared)
    print(f"{n} faces, {an.age_model} + {an.gender_model}, {a.runs} interleaved runs")
    print(f"  one estimator per task:  {ma:.2f} ms/face ({min(apart):.2f}-{max(apart):.2f})")
    print(f"  one run for both:        {ms:.2f} ms/face ({min(shared):.2f}-{max(shared):.2f})")
    print(f"  ratio {ma / ms:.2f}x; answers identical: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
