"""Milliseconds per face for age and gender estimation together (alignment included,
detection excluded), per model configuration, on UTKFace test faces.

    python benchmarks/estimate_speed.py --faces 256 --repeats 5

Prints the median and min-max over the repeats of each configuration, measured in one
run with the configurations interleaved (each repeat times every configuration once). The
FaceRes pair runs one graph per batch for both tasks. ``default-before`` is the default pair
with the graph shipped before its padding was folded (read from git at ``--before``; see
``benchmarks/quantize.py``), so before and after come from the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from agegender import Analyzer  # noqa: E402
from agegender.faces import Faces  # noqa: E402
from agegender.io.images import decode_image  # noqa: E402
from agegender.models import ModelFile, ModelRecord, register  # noqa: E402

SHIPPED = "src/agegender/models/data/faceres"
#: the last commit that shipped the previous default (FaceRes fine-tuned at 128 px on UTKFace-style
#: chips, two cards): ``default-before`` reads its graph and cards from git
BEFORE = "558af0e"

CONFIGS = {
    "default-before": {"age_model": "faceres-before-age", "gender_model": "faceres-before-gender"},
    "default": {},  # the shipped faceres network (one graph, both outputs)
    "permissive": {"profile": "permissive"},  # cydral-age + cydral-gender
    # the published heads, 224 px
    "faceres-deep": {"age_model": "faceres-age.deep", "gender_model": "faceres-gender.deep"},
}


def register_before(rev: str, folder: Path) -> bool:
    """Records ``faceres-before-{age,gender}``: the graph and cards shipped at ``rev``."""

    def show(path: str) -> bytes:
        return subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:{SHIPPED}/{path}"],
                              capture_output=True, check=True).stdout

    try:
        data = show("faceres.onnx")
        cards = {t: json.loads(show(f"card-{t}.json")) for t in ("age", "gender")}
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"default-before skipped: no graph and cards at {rev} ({e})")
        return False
    path = folder / "faceres-before.onnx"
    path.write_bytes(data)
    for task, c in cards.items():
        register(ModelRecord(name=f"faceres-before-{task}", task=task, description=f"faceres at {rev}",
                             license=c["license"], files=(ModelFile(str(path), None),),
                             card={k: c[k] for k in ("input", "crop", "output")}), replace=True)
    return True


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--before", default=BEFORE, help="git revision for default-before")
    a = ap.parse_args()
    import csv

    labels = (a.shared / "data/utkface/labels.csv").read_text().splitlines()
    rows = [r for r in csv.DictReader(labels) if r["split"] == "test"]
    images = [decode_image(a.shared / "data/utkface" / r["path"]) for r in rows[: a.faces]]
    an = Analyzer(profile="permissive", detector="hog-mtcnn")
    faces = [an.detector.detect(im) for im in images]
    faces = [f[:1] if len(f) else Faces(boxes=[[20, 20, 180, 180]], scores=[1.0],
             landmarks=np.full((1, 5, 2), np.nan, np.float32)) for f in faces]
    names = a.configs.split(",")
    tmp = tempfile.TemporaryDirectory()
    if "default-before" in names and not register_before(a.before, Path(tmp.name)):
        names.remove("default-before")
    print(f"{len(images)} UTKFace test faces, batches of 16 images, {a.repeats} repeats, interleaved")
    ests = {}
    for name in names:
        ests[name] = Analyzer(detector="hog", **CONFIGS[name])
        ests[name].estimate(images[:16], faces[:16])  # load and warm up
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(a.repeats):
        for name, est in ests.items():
            t0 = time.perf_counter()
            for i in range(0, len(images), 16):
                est.estimate(images[i : i + 16], faces[i : i + 16])
            times[name].append((time.perf_counter() - t0) / len(images) * 1000)
    for name in names:
        t = times[name]
        print(f"{name:32s} median {statistics.median(t):6.2f} ms/face (min {min(t):.2f}, max {max(t):.2f})")
    if "default-before" in times and "default" in times:
        print(f"default / default-before: {statistics.median(times['default']) / statistics.median(times['default-before']):.2f}x the time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
