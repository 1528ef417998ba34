"""Before/after equivalence check for refactors: the same commands, byte-identical JSON.

``capture OUT`` runs, through ``python -m agegender`` of whatever ``agegender`` the
interpreter imports (set ``PYTHONPATH=<checkout>/src`` to capture another checkout):

- ``eval ../shared/data/utkface --split test --limit 300`` (report.json),
- ``analyze`` on the shared photos (JSON lines, CSV and the annotated images' pixels),
  with the default and the permissive profile,
- ``analyze`` on a 640x480 clip made from the shared photos, with tracking (per-frame
  JSON lines and the per-track summary), estimating every detection (``--estimate-every 1``
  where the checkout has it).

``compare A B`` compares two captures after dropping what is expected to differ (wall
times, the package version, the capture's own paths) and prints each difference; exit 1
when there is one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
VOLATILE = {"seconds", "elapsed_s", "images_per_s", "faces_per_s", "version", "created",
            "timestamp", "wall_s", "fps_processed", "date", "command", "python", "platform", "speed",
            "timings", "estimates"}


def shared_root() -> Path:
    env = os.environ.get("AGEGENDER_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def make_clip(path: Path, photos: list[Path], n_frames: int = 90) -> None:
    """A 640x480 clip: each photo (shrunk to a 200 px tall tile) glides across the frame."""
    import cv2
    import numpy as np

    tiles = []
    for p in photos:
        img = cv2.imread(str(p))
        h, w = img.shape[:2]
        tiles.append(cv2.resize(img, (max(1, round(w * 200 / h)), 200), interpolation=cv2.INTER_AREA))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (640, 480))
    for i in range(n_frames):
        frame = np.full((480, 640, 3), 110, np.uint8)
        for k, tile in enumerate(tiles[:2]):
            th, tw = tile.shape[:2]
            tw = min(tw, 620)
            x = int((640 - tw) / 2 + 40 * math.sin(i / 15 + k))
            y = 20 + 240 * k
            frame[y : y + th, x : x + tw] = tile[:, :tw]
        writer.write(frame)
    writer.release()


def run(args: list[str], out: Path | None = None) -> None:
    cmd = [sys.executable, "-m", "agegender", "-q", *args]
    with open(out, "wb") if out else open(os.devnull, "wb") as f:
        rc = subprocess.run(cmd, stdout=f, check=False).returncode
    if rc not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {rc}")


def capture(out: Path, clip: Path | None) -> None:
    shared = shared_root()
    photos = sorted(p for p in (shared / "data" / "photos").iterdir() if p.suffix != ".md")
    out.mkdir(parents=True, exist_ok=True)
    if clip is None:
        make_clip(out / "clip.mp4", photos)
    elif clip.resolve() != (out / "clip.mp4").resolve():
        shutil.copyfile(clip, out / "clip.mp4")
    clip = out / "clip.mp4"
    run(["eval", str(shared / "data" / "utkface"), "--split", "test", "--limit", "300",
         "--report", str(out / "eval")])
    for profile in ("accurate", "permissive"):
        run(["analyze", *map(str, photos), "--profile", profile, "--csv", str(out / f"photos-{profile}.csv"),
             "--out", str(out / f"annotated-{profile}")], out / f"photos-{profile}.jsonl")
    # estimate every detection (issue 15 made the default estimate_every=10, a deliberate
    # change); a checkout from before the option has no flag and always did so
    video = ["analyze", str(clip), "--tracks", str(out / "tracks.json")]
    helptext = subprocess.run([sys.executable, "-m", "agegender", "analyze", "--help"],
                              capture_output=True, text=True, check=False).stdout
    if "--estimate-every" in helptext:
        video += ["--estimate-every", "1"]
    run(video, out / "video.jsonl")
    for folder in out.glob("annotated-*"):
        from PIL import Image

        digest = {p.name: hashlib.sha256(Image.open(p).tobytes()).hexdigest() for p in sorted(folder.iterdir())}
        (out / f"{folder.name}.pixels.json").write_text(json.dumps(digest, indent=1))


def _normalize(x: Any, base: str) -> Any:
    if isinstance(x, dict):
        return {k: _normalize(v, base) for k, v in x.items() if k not in VOLATILE}
    if isinstance(x, list):
        return [_normalize(v, base) for v in x]
    if isinstance(x, str):
        return x.replace(base, "<capture>")
    return x


def _load(path: Path, base: str) -> Any:
    if path.suffix == ".jsonl":
        return [_normalize(json.loads(line), base) for line in path.read_text().splitlines() if line]
    if path.suffix == ".json":
        return _normalize(json.loads(path.read_text()), base)
    return path.read_text().replace(base, "<capture>")


def _diff(a: Any, b: Any, where: str, out: list[str]) -> None:
    if type(a) is not type(b):
        out.append(f"{where}: {a!r} != {b!r}")
    elif isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{where}.{k}: only in {'B' if k not in a else 'A'}")
            else:
                _diff(a[k], b[k], f"{where}.{k}", out)
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} items != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            _diff(x, y, f"{where}[{i}]", out)
    elif a != b:
        out.append(f"{where}: {a!r} != {b!r}")


def compare(a: Path, b: Path) -> int:
    files = ["eval/report.json", "photos-accurate.jsonl", "photos-accurate.csv",
             "photos-permissive.jsonl", "photos-permissive.csv", "annotated-accurate.pixels.json",
             "annotated-permissive.pixels.json", "video.jsonl", "tracks.json"]
    problems: list[str] = []
    for name in files:
        pa, pb = a / name, b / name
        if not pa.exists() or not pb.exists():
            problems.append(f"{name}: missing in {'A' if not pa.exists() else 'B'}")
            continue
        _diff(_load(pa, str(a)), _load(pb, str(b)), name, problems)
    for line in problems[:200]:
        print(line)
    print(f"{len(problems)} difference(s) in {len(files)} files" if problems else f"identical: {len(files)} files")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture")
    c.add_argument("out", type=Path)
    c.add_argument("--clip", type=Path, default=None, help="reuse this clip (default: make one)")
    d = sub.add_parser("compare")
    d.add_argument("a", type=Path)
    d.add_argument("b", type=Path)
    a = p.parse_args(argv)
    if a.cmd == "capture":
        capture(a.out, a.clip)
        return 0
    return compare(a.a, a.b)


if __name__ == "__main__":
    sys.exit(main())
