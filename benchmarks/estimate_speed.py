"""Milliseconds per face for age and gender estimation together (alignment included,
detection excluded), per model configuration, on UTKFace test faces.

    python benchmarks/estimate_speed.py --faces 256 --repeats 5

Prints the median and min-max over the repeats of each configuration, measured in one
run. The FaceRes pair runs one graph per batch for both tasks.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from agegender import Analyzer  # noqa: E402
from agegender.faces import Faces  # noqa: E402
from agegender.io.images import decode_image  # noqa: E402

CONFIGS = {
    "default": {},  # faceres-age + faceres-gender, 128 px
    "permissive": {"profile": "permissive"},  # cydral-age + cydral-gender
    "faceres-deep": {  # the published heads, 224 px"age_model": "faceres-age.deep",
                                      "gender_model": "faceres-gender.deep"},
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    a = ap.parse_args()
    import csv

    rows = [r for r in csv.DictReader(open(a.shared / "data/utkface/labels.csv")) if r["split"] == "test"]
    images = [decode_image(a.shared / "data/utkface" / r["path"]) for r in rows[: a.faces]]
    an = Analyzer(profile="permissive", detector="hog+mtcnn")
    faces = [an.detector.detect(im) for im in images]
    faces = [f[:1] if len(f) else Faces(boxes=[[20, 20, 180, 180]], scores=[1.0],
             landmarks=np.full((1, 5, 2), np.nan, np.float32)) for f in faces]
    print(f"{len(images)} UTKFace test faces, batches of 16 images, {a.repeats} repeats")
    for name in a.configs.split(","):
        est = Analyzer(detector="hog", **CONFIGS[name])
        est.estimate(images[:16], faces[:16])  # load and warm up
        times = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            for i in range(0, len(images), 16):
                est.estimate(images[i : i + 16], faces[i : i + 16])
            times.append((time.perf_counter() - t0) / len(images) * 1000)
        print(f"{name:32s} median {statistics.median(times):6.2f} ms/face "
              f"(min {min(times):.2f}, max {max(times):.2f})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
