"""Faces found by YuNet (the shipped default) against ``hog-mtcnn``, set by set.

Sets (from ``shared/data``): UTKFace ``test`` (1,884 crops), AAF ``test`` (1,365), Adience
fold 0 (1,586; the labelled face is the central one), FairFace ``test`` (3,000): the share
of images with at least one face found. The three shared photos and a 4x4 mosaic of
``group_t1.jpg`` (96 faces, JPEG quality 85 as the browser test builds it): faces found.
The mission patch of ``astronaut.png``: faces whose box centre lies on the patch, on the
PNG and on JPEG copies at qualities 95..20 (it must be 0 everywhere).

Usage::

    PYTHONPATH=src python benchmarks/yunet_recall.py [--detectors yunet,hog-mtcnn] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: where hog-mtcnn puts its false face on the patch (x1, y1, x2, y2), with a margin
PATCH = (110, 315, 245, 450)
QUALITIES = (95, 85, 75, 60, 50, 40, 30, 20)
SETS = {
    "utkface test": ("utkface", "test"),
    "aaf test": ("aaf", "test"),
    "adience fold 0": ("adience", None),
    "fairface test": ("fairface", "test"),
}


def _rgb(data: Any) -> Any:
    import numpy as np
    from PIL import Image

    with Image.open(data) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGB")))


def _jpeg(image: Any, quality: int) -> Any:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return _rgb(buf)


def mosaic(group: Any) -> Any:
    """group_t1 tiled 4x4 and saved as JPEG 85, as tests/server/test_browser_labels.py does."""
    import numpy as np

    h, w = group.shape[:2]
    big = np.zeros((4 * h, 4 * w, 3), np.uint8)
    for i in range(16):
        big[(i // 4) * h : (i // 4 + 1) * h, (i % 4) * w : (i % 4 + 1) * w] = group
    return _jpeg(big, 85)


def set_paths(data: Path, folder: str, split: str | None, limit: int | None) -> list[Path]:
    with open(data / folder / "labels.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if split is None or r["split"] == split]
    paths = [data / folder / r["path"] for r in rows]
    return paths[:limit] if limit else paths


def on_faces(faces: Any, truth: Any, h: int, w: int) -> int:
    """Detections of the mosaic whose centre lies in one of the 96 true faces: the six
    faces of group_t1 (found at full resolution, checked by eye) in each of the 16 tiles."""
    import numpy as np

    cx = (faces.boxes[:, 0] + faces.boxes[:, 2]) / 2
    cy = (faces.boxes[:, 1] + faces.boxes[:, 3]) / 2
    x, y = cx % w, cy % h
    inside = (x[:, None] >= truth[None, :, 0]) & (x[:, None] <= truth[None, :, 2]) & (
        y[:, None] >= truth[None, :, 1]) & (y[:, None] <= truth[None, :, 3])
    tile = (cy // h) * 4 + cx // w
    hits = {(int(t), int(j)) for t, row in zip(tile, inside, strict=True)
            for j in np.flatnonzero(row)}
    return len(hits)


def on_patch(faces: Any) -> int:
    x1, y1, x2, y2 = PATCH
    cx = (faces.boxes[:, 0] + faces.boxes[:, 2]) / 2
    cy = (faces.boxes[:, 1] + faces.boxes[:, 3]) / 2
    return int(((cx >= x1) & (cx <= x2) & (cy >= y1) & (cy <= y2)).sum())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--detectors", default="yunet,hog-mtcnn")
    ap.add_argument("--limit", type=int, default=None, help="first N images of each set")
    ap.add_argument("--shared", default=os.environ.get("AGEGENDER_SHARED", str(REPO.parent / "shared")))
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    from agegender.detect import create_detector
    from agegender.detect.yunet import YuNetDetector

    data = Path(args.shared) / "data"
    photos = {p: _rgb(data / "photos" / p)
              for p in ("group_t1.jpg", "astronaut.png", "Tom_Hanks_54745.png")}
    big = mosaic(photos["group_t1.jpg"])
    gh, gw = photos["group_t1.jpg"].shape[:2]
    truth = YuNetDetector(max_side=None, first_side=None).detect(photos["group_t1.jpg"]).boxes
    astro = [("png", photos["astronaut.png"])] + [
        (f"jpeg {q}", _jpeg(photos["astronaut.png"], q)) for q in QUALITIES]
    print(f"load average at start {os.getloadavg()}")
    rows: list[list[str]] = []
    for name in args.detectors.split(","):
        det = create_detector(name)
        row = [name]
        t0 = time.perf_counter()
        for label, (folder, split) in SETS.items():
            paths = set_paths(data, folder, split, args.limit)
            found = sum(len(det.detect(_rgb(p))) > 0 for p in paths)
            row.append(f"{found / len(paths):.2%} ({len(paths) - found} missed of {len(paths)})")
            print(f"{name} {label}: {row[-1]}", flush=True)
        row.append(" / ".join(str(len(det.detect(im))) for im in photos.values()))
        found = det.detect(big)
        row.append(f"{on_faces(found, truth, gh, gw)} of 96 ({len(found)} boxes)")
        row.append(str(sum(on_patch(det.detect(im)) for _, im in astro)))
        print(f"{name}: photos {row[-3]}, mosaic {row[-2]}, patch {row[-1]} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
        rows.append(row)
    head = ["detector", *SETS, "photos (group / astronaut / Tom)", "4x4 mosaic (96)",
            f"faces on the patch ({len(astro)} copies)"]
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nload average at end {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
