"""Derive the 5-point template of dlib's face chips (used by the Cydral models' card).

dlib aligns a chip from its own 5 points (eye corners, nose base). Our detectors
give eye centres, nose tip and mouth corners. This script runs YuNet on UTKFace
faces, runs dlib's 5-point model in the same boxes, computes dlib's chip
transform, and maps our five points into chip coordinates (0..1). The median over
faces is the template; the script also reports how far our chips are from dlib's.

    AGEGENDER_MIRROR=../shared/models python tools/calibrate_dlib_template.py ../shared/data/utkface
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import cv2
import dlib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from agegender.detect import create_detector  # noqa: E402
from agegender.detect.dlib_hog import _similarity  # noqa: E402
from agegender.models import get  # noqa: E402

# dlib's get_face_chip_details() targets for its 5-point model (unit square, no padding)
DLIB5 = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)


def main(root: str, n: int = 400, padding: float = 0.2, size: int = 64, detector: str = "yunet") -> None:
    with open(Path(root) / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "val"][:n]
    sp = dlib.shape_predictor(str(get("dlib-landmarks5", "landmarks").path()))
    det = create_detector(detector)
    pts, diffs = [], []
    for r in rows:
        img = cv2.cvtColor(cv2.imread(str(Path(root) / r["path"])), cv2.COLOR_BGR2RGB)
        faces = det.detect(img)
        if len(faces) == 0:
            continue
        x1, y1, x2, y2 = faces.boxes[0].astype(int)
        shape = sp(img, dlib.rectangle(int(x1), int(y1), int(x2), int(y2)))
        parts = np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], float)
        to = (DLIB5 + padding) / (2 * padding + 1) * size
        m = _similarity(parts, to)
        ours = faces.landmarks[0].astype(float) @ m[:, :2].T + m[:, 2]
        pts.append(ours / size)
        mine = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR)
        ref = dlib.extract_image_chip(img, dlib.get_face_chip_details(shape, size, padding))
        diffs.append(np.abs(mine.astype(float) - ref.astype(float)).mean())
    pts = np.array(pts)
    tmpl = np.median(pts, axis=0)
    print(f"faces: {len(pts)}; mean |our warp - dlib chip| = {np.mean(diffs):.2f} grey levels")
    print(f"template (unit chip, padding {padding}):")
    print(np.array2string(tmpl, precision=4, separator=", "))
    print("spread (IQR/2) per point:", np.round((np.percentile(pts, 75, 0) - np.percentile(pts, 25, 0)) / 2, 4).tolist())


if __name__ == "__main__":
    main(sys.argv[1], detector=sys.argv[2] if len(sys.argv) > 2 else "yunet")
