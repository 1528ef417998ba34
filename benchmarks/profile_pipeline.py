"""cProfile of the pipeline on UTKFace test crops and the shared photos: the top functions
by their own time, for docs/speed.md.

    AGEGENDER_MIRROR=../shared/models python benchmarks/profile_pipeline.py [--profile permissive] [--top 12]
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import os
import pstats
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from agegender import Analyzer  # noqa: E402
from agegender.io.images import decode_image  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="accurate", choices=["accurate", "permissive"])
    p.add_argument("--detector", default="auto")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--shared", type=Path, default=Path(os.environ.get("AGEGENDER_SHARED", REPO.parent / "shared")))
    a = p.parse_args(argv)
    root = a.shared / "data" / "utkface"
    with open(root / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test"][: a.n]
    sets = {
        f"utkface x{len(rows)} (batches of 16)": [decode_image(root / r["path"]) for r in rows],
        "photos x10 (one by one)": [decode_image(q) for q in sorted((a.shared / "data" / "photos").iterdir())
                                    if q.suffix != ".md"] * 10,
    }
    an = Analyzer(profile=a.profile, detector=a.detector)
    print(f"profile {a.profile}: {an!r}")
    for label, images in sets.items():
        step = 16 if label.startswith("utkface") else 1
        an.analyze_arrays(images[:step])  # warm up
        prof = cProfile.Profile()
        prof.enable()
        for i in range(0, len(images), step):
            an.analyze_arrays(images[i : i + step])
        prof.disable()
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats("tottime").print_stats(a.top)
        total = stats.total_tt  # type: ignore[attr-defined]
        print(f"\n## {label}: {total:.2f} s, {1000 * total / len(images):.1f} ms per image")
        lines = out.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
        print("\n".join(lines[start : start + a.top + 1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
