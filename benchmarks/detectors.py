"""Benchmark the face detectors that are installed: recall and speed.

For each available detector (our MTCNN; the Haar cascades, with and without the
profile pass, at their own default padding 0.1; dlib's HOG detector with upsample 0
and 1, run on the image padded exactly as :class:`agegender.detect.base.BaseDetector`
pads it) this measures

* recall on the first N UTKFace ``test`` crops: share of images with >= 1 face;
* median milliseconds per image on those crops;
* median milliseconds per image on each of the 3 real photos, detected R times
  each, and how many faces each photo gave.

Usage::

    PYTHONPATH=src python benchmarks/detectors.py [--n 500] [--repeats 5] [--shared DIR]
        [--only "haar,haar frontal only"]
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout

from agegender.detect.base import BaseDetector, Detector, RawDetections, View
from agegender.detect.mtcnn import MTCNNDetector
from agegender.errors import ModelUnavailableError

REPO = Path(__file__).resolve().parents[1]
log = logging.getLogger("benchmarks.detectors")

PHOTOS = ("group_t1.jpg", "astronaut.png", "Tom_Hanks_54745.png")
Image_ = NDArray[np.uint8]


class DlibHOGDetector(BaseDetector):
    """dlib's frontal-face HOG + linear SVM detector, behind our Detector interface.

    Going through :meth:`BaseDetector.detect` gives it the same border padding as every
    other detector. Scores are SVM margins (not probabilities), hence threshold 0.
    """

    name = "dlib-hog"

    def __init__(
        self,
        *,
        upsample: int = 0,
        min_face: int = 20,
        pad: float = 0.25,
        max_side: int | None = 1280,
    ) -> None:
        super().__init__(threshold=0.0, min_face=min_face, pad=pad, max_side=max_side)
        import dlib

        self.upsample = int(upsample)
        self._detector: Any = dlib.get_frontal_face_detector()

    def _detect_raw(self, view: View) -> RawDetections:
        rects, scores, _ = self._detector.run(view.image, self.upsample, 0.0)
        boxes = np.array(
            [[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects], np.float32
        ).reshape(-1, 4)
        n = len(boxes)
        return (
            boxes,
            np.asarray(scores, np.float32).reshape(n),
            np.full((n, 5, 2), np.nan, np.float32),
        )


@dataclass
class Row:
    name: str
    recall: float
    found: int
    n: int
    utk_ms: float
    photo_ms: list[float]
    photo_faces: list[int]


def _rgb(path: Path) -> Image_:
    with Image.open(path) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGB")))


def _shared(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("AGEGENDER_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def _detectors(max_side: int | None) -> list[tuple[str, Callable[[], Detector]]]:
    from agegender.detect.haar import HaarDetector

    makers: list[tuple[str, Callable[[], Detector]]] = [
        ("mtcnn", lambda: MTCNNDetector(max_side=max_side)),
        ("haar", lambda: HaarDetector(max_side=max_side)),
        ("haar frontal only", lambda: HaarDetector(max_side=max_side, profile=False)),
    ]
    try:
        import dlib  # noqa: F401
    except ImportError:
        log.warning("dlib is not installed; skipping the dlib HOG detector")
    else:
        for up in (0, 1):
            makers.append(
                (f"dlib-hog up{up}", lambda up=up: DlibHOGDetector(upsample=up, max_side=max_side))
            )
    return makers


#: "wall" (perf_counter) or "cpu" (this process's CPU time: for a machine shared with other
#: jobs; the detectors run on one thread, so it is the wall time of an idle machine)
CLOCK = "wall"


def _timed(det: Detector, image: Image_) -> tuple[int, float]:
    clock = time.process_time if CLOCK == "cpu" else time.perf_counter
    t0 = clock()
    faces = det.detect(image)
    return len(faces), (clock() - t0) * 1000.0


def bench(det: Detector, name: str, crops: list[Image_], photos: list[Image_], repeats: int) -> Row:
    det.detect(photos[0] if photos else crops[0])  # warm-up: load models, first allocations
    found, utk_ms = 0, []
    for im in crops:
        n, ms = _timed(det, im)
        found += n >= 1
        utk_ms.append(ms)
    photo_ms: list[float] = []
    photo_faces: list[int] = []
    for im in photos:
        counts, times = [], []
        for _ in range(repeats):
            n, ms = _timed(det, im)
            counts.append(n)
            times.append(ms)
        photo_ms.append(statistics.median(times))
        photo_faces.append(counts[0])
    return Row(
        name=name,
        recall=found / max(len(crops), 1),
        found=found,
        n=len(crops),
        utk_ms=statistics.median(utk_ms) if utk_ms else float("nan"),
        photo_ms=photo_ms,
        photo_faces=photo_faces,
    )


def table(results: list[Row], photo_names: list[str]) -> str:
    """A Markdown table of the results."""
    short = [p.split(".")[0].split("_")[0] for p in photo_names]
    head = ["detector", "UTK recall", "UTK ms/img", *(f"{s} ms" for s in short)]
    head.append("faces " + "/".join(short))
    body = [
        [
            r.name,
            f"{r.recall:.1%} ({r.found}/{r.n})",
            f"{r.utk_ms:.1f}",
            *(f"{ms:.1f}" for ms in r.photo_ms),
            "/".join(str(c) for c in r.photo_faces),
        ]
        for r in results
    ]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in body:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=500, help="UTKFace test crops to use")
    ap.add_argument("--repeats", type=int, default=5, help="detections of each photo")
    ap.add_argument("--shared", help="the shared/ folder (default: ../shared)")
    ap.add_argument("--only", help="comma-separated detector names to run (default: all)")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="time with the wall clock, or with this process's CPU time (shared machines)")
    ap.add_argument(
        "--max-side",
        type=int,
        default=1280,
        help="downscale padded images above this longer side (the Detector default); 0: never",
    )
    args = ap.parse_args(argv)
    global CLOCK
    CLOCK = args.clock
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    shared = _shared(args.shared)
    utk = shared / "data" / "utkface"
    with open(utk / "labels.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "test"][: args.n]
    crops = [_rgb(utk / r["path"]) for r in rows]
    photos = [_rgb(shared / "data" / "photos" / p) for p in PHOTOS]
    log.info("%d UTKFace test crops, %d photos x %d", len(crops), len(photos), args.repeats)

    results: list[Row] = []
    max_side = args.max_side or None
    only = set(args.only.split(",")) if args.only else None
    for name, make in _detectors(max_side):
        if only is not None and name not in only:
            continue
        try:
            det = make()
            results.append(bench(det, name, crops, photos, args.repeats))
        except (ModelUnavailableError, ImportError) as e:
            log.warning("skipping %s: %s", name, e)

    print(
        f"median {args.clock} ms per image; photos: each detected {args.repeats} times "
        f"(median per photo); UTKFace: first {len(crops)} test crops; pad 0.25, "
        f"max_side {max_side}"
    )
    print(table(results, list(PHOTOS)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
