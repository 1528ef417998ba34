"""Fit where dlib's HOG detector puts its box relative to a Haar box (HOG_FROM_HAAR).

dlib's 5-point landmark model was trained on HOG boxes. On UTKFace ``val`` faces where
both detectors find exactly one face, this prints the medians of the centre shift (in
Haar box sides) and of the side ratio, the constants of
:data:`agegender.detect.haar.HOG_FROM_HAAR`.

Usage::

    nice -n 15 python tools/calibrate_haar_box.py [--n 400] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from agegender.detect import create_detector  # noqa: E402
from agegender.io.images import decode_image  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    a = ap.parse_args(argv)
    utk = Path(a.shared) / "data" / "utkface"
    with open(utk / "labels.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "val"][: a.n]
    hog = create_detector("hog")
    haar = create_detector("haar", profile=False)
    shifts = []
    for r in rows:
        im = decode_image(utk / r["path"])
        fh_, fa = hog.detect(im), haar.detect(im)
        if len(fh_) != 1 or len(fa) != 1:
            continue
        h, c = fh_.boxes[0].astype(float), fa.boxes[0].astype(float)
        side = c[2] - c[0]
        shifts.append((((h[0] + h[2]) - (c[0] + c[2])) / 2 / side,
                       ((h[1] + h[3]) - (c[1] + c[3])) / 2 / side,
                       (h[2] - h[0]) / side))
    s = np.asarray(shifts)
    med = np.median(s, axis=0)
    print(f"{len(s)} of {len(rows)} val faces found once by both")
    print(f"HOG_FROM_HAAR = ({med[0]:.3f}, {med[1]:.3f}, {med[2]:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
