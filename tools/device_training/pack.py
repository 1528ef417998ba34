"""Pack UTKFace train+val as 128x128 WebP (quality 85) into one .npz small enough to travel
to the device machine (its working tree is limited to 64 MiB): 17,336 faces, 41 MB.

    python tools/device_training/pack.py ../shared/data/utkface .gpu/utk128.npz

The test split is never packed: it stays here and is evaluated on the original images.
"""

import csv
import io
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image

ROOT = sys.argv[1]


def one(path: str) -> bytes:
    im = Image.open(os.path.join(ROOT, path)).convert("RGB").resize((128, 128), Image.LANCZOS)
    b = io.BytesIO()
    im.save(b, "WEBP", quality=85, method=6)
    return b.getvalue()


if __name__ == "__main__":
    with open(os.path.join(ROOT, "labels.csv"), newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] in ("train", "val")]
    with ProcessPoolExecutor() as ex:
        blobs = list(ex.map(one, [r["path"] for r in rows], chunksize=256))
    off = np.cumsum([0] + [len(b) for b in blobs])
    names = [os.path.basename(r["path"]).replace(".jpg.chip.jpg", ".webp") for r in rows]
    np.savez(sys.argv[2], data=np.frombuffer(b"".join(blobs), np.uint8), off=off,
             names=np.array(names), age=np.array([r["age"] for r in rows]),
             gender=np.array([r["gender"] for r in rows]), race=np.array([r["race"] for r in rows]),
             split=np.array([r["split"] for r in rows]))
    print(len(rows), "faces,", round(off[-1] / 2**20, 1), "MiB of WebP")
