"""Benchmark the face detectors that are installed: recall and speed.

For each available detector (our MTCNN; the Haar cascades, with and without the
profile pass, at their own default padding 0.1; dlib's HOG detector with upsample 0
and 1, run on the image padded exactly as :class:`agegender.detect.base.BaseDetector`
pads it; and, with ``--only``, any name of ``agegender.detect.detector_names()`` as
``create_detector`` makes it) this measures

* recall on the first N UTKFace ``test`` crops: share of images with >= 1 face;
* median milliseconds per image on those crops;
* median milliseconds per image on each of the 3 real photos, detected R times
  each, and how many faces each photo gave;
* with ``--clip``: faces found over the frames of a video and median ms per frame.

``--max-side 1280,640`` repeats every row at each view size (``max_side``; 0: never
downscale), which is how the detectors' defaults were chosen.

Usage::

    AGEGENDER_MIRROR=../shared/models PYTHONPATH=src python benchmarks/detectors.py \
        [--n 500] [--repeats 5] [--shared DIR] [--only "yunet,haar frontal only"] \
        [--max-side 1280,960,640,480] [--clip ../notes/equiv-before/clip.mp4]
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
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
    clip_faces: int = 0
    clip_frames: int = 0
    clip_ms: float = float("nan")


def _rgb(path: Path) -> Image_:
    with Image.open(path) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGB")))


def _shared(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("AGEGENDER_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def _detectors(kw: dict[str, Any]) -> list[tuple[str, Callable[[], Detector]]]:
    """(row name, maker) of each row; ``kw`` (``max_side``, or nothing) goes to each."""
    from agegender.detect import detector_info, detector_names
    from agegender.detect.haar import HaarDetector

    makers: list[tuple[str, Callable[[], Detector]]] = [
        (n, lambda n=n: detector_info(n).factory(**kw))
        for n in detector_names()
        if n not in ("auto", "mtcnn", "haar")
    ]
    makers += [
        ("mtcnn", lambda: MTCNNDetector(**kw)),
        ("haar", lambda: HaarDetector(**kw)),
        ("haar frontal only", lambda: HaarDetector(**kw, profile=False)),
    ]
    try:
        import dlib  # noqa: F401
    except ImportError:
        log.warning("dlib is not installed; skipping the dlib HOG detector")
    else:
        for up in (0, 1):
            makers.append(
                (f"dlib-hog up{up}", lambda up=up: DlibHOGDetector(upsample=up, **kw))
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


def _frames(clip: Path | None) -> list[Image_]:
    if clip is None:
        return []
    import cv2

    cap = cv2.VideoCapture(str(clip))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def bench(
    det: Detector,
    name: str,
    crops: list[Image_],
    photos: list[Image_],
    repeats: int,
    frames: Sequence[Image_] = (),
) -> Row:
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
    clip_faces, clip_ms = 0, []
    for im in frames:
        n, ms = _timed(det, im)
        clip_faces += n
        clip_ms.append(ms)
    return Row(
        clip_faces=clip_faces,
        clip_frames=len(frames),
        clip_ms=statistics.median(clip_ms) if clip_ms else float("nan"),
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
    clip = any(r.clip_frames for r in results)
    if clip:
        head += ["clip faces/frames", "clip ms/frame"]
    body = [
        [
            r.name,
            f"{r.recall:.1%} ({r.found}/{r.n})",
            f"{r.utk_ms:.1f}",
            *(f"{ms:.1f}" for ms in r.photo_ms),
            "/".join(str(c) for c in r.photo_faces),
            *([f"{r.clip_faces}/{r.clip_frames}", f"{r.clip_ms:.1f}"] if clip else []),
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
        default=None,
        help="comma-separated view sizes (longest side, padding included) to run each "
        "detector at; 0: never downscale (default: each detector's own)",
    )
    ap.add_argument("--clip", type=Path, help="also detect every frame of this video")
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

    frames = _frames(args.clip)
    results: list[Row] = []
    sides: list[int | None] = (
        [int(x) or None for x in args.max_side.split(",")] if args.max_side else [-1]
    )
    only = args.only.split(",") if args.only else None
    for side in sides:
        makers = dict(_detectors({} if side == -1 else {"max_side": side}))
        for name in only if only is not None else list(makers):
            if name not in makers:
                ap.error(f"--only: no detector row {name!r}; choose from {', '.join(makers)}")
            label = name if side == -1 else f"{name} @{side or 'full'}"
            try:
                det = makers[name]()
                results.append(bench(det, label, crops, photos, args.repeats, frames))
            except (ModelUnavailableError, ImportError) as e:
                log.warning("skipping %s: %s", label, e)

    print(
        f"median {args.clock} ms per image; photos: each detected {args.repeats} times "
        f"(median per photo); UTKFace: first {len(crops)} test crops; view sizes "
        f"{args.max_side or 'each detector default'}; machine shared with other jobs"
    )
    print(table(results, list(PHOTOS)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
