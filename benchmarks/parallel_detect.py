"""Detection in one thread vs a pool of threads, on UTKFace test images and the shared photos.

    python benchmarks/parallel_detect.py [--detectors hog-mtcnn,yunet] [--threads 2] [--runs 3]

Issue 15 asks whether decoding and detecting across cores helps ``analyze`` on folders.
Decoding already runs in its own thread beside detection (``Analyzer.analyze_many``), and
the detectors' own libraries (onnxruntime, OpenCV) already use the cores; this prints
images/s for each detector run sequentially and through a thread pool (medians, min-max),
interleaved, so the choice is made by measurement. Processes are ``agegender batch``'s
local engine (``benchmarks/batch_speed.py``).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from agegender.detect import create_detector  # noqa: E402
from agegender.io.images import decode_image  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--detectors", default="hog-mtcnn,yunet")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--n", type=int, default=200, help="UTKFace test images")
    p.add_argument("--shared", type=Path, default=Path(os.environ.get("AGEGENDER_SHARED", REPO.parent / "shared")))
    a = p.parse_args(argv)
    os.environ.setdefault("AGEGENDER_MIRROR", str(a.shared / "models"))
    root = a.shared / "data" / "utkface"
    with open(root / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test"][: a.n]
    sets = {
        f"utkface x{len(rows)}": [decode_image(root / r["path"]) for r in rows],
        "photos x10": [decode_image(q) for q in sorted((a.shared / "data" / "photos").iterdir())
                       if q.suffix != ".md"] * 10,
    }
    pool = ThreadPoolExecutor(a.threads)
    for name in a.detectors.split(","):
        det = create_detector(name)
        for label, data in sets.items():
            det.detect(data[0])
            seq, par = [], []
            for _ in range(a.runs):
                t = time.perf_counter()
                for im in data:
                    det.detect(im)
                seq.append(len(data) / (time.perf_counter() - t))
                t = time.perf_counter()
                list(pool.map(det.detect, data))
                par.append(len(data) / (time.perf_counter() - t))
            ms, mp = statistics.median(seq), statistics.median(par)
            print(f"{name:10s} {label:14s} one thread {ms:6.1f} img/s ({min(seq):.1f}-{max(seq):.1f}); "
                  f"{a.threads} threads {mp:6.1f} ({min(par):.1f}-{max(par):.1f}); ratio {mp / ms:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
