"""Run `agegender eval` over the shared test sets for several model configurations and
print one Markdown table (the tables of docs/accuracy.md come from this script).

    AGEGENDER_MIRROR=../shared/models python tools/accuracy_matrix.py --out /tmp/acc \\
        --configs default,permissive,ensembles,faceres-deep --modes pipeline,crops

Each run's full report (per-band figures, calibration, risk-coverage) is kept as
OUT/<config>-<dataset>-<mode>/report.json; a finished run is not redone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

SHARED = Path(os.environ.get("AGEGENDER_SHARED", Path(__file__).resolve().parents[2] / "shared"))
DATASETS = {  # name: (path, extra eval arguments)
    "utkface": ("data/utkface", ["--split", "test"]),
    "aaf": ("data/aaf", ["--split", "test"]),
    "fgnet": ("data/fgnet", []),  # all 1,002 photos: never trained on
    "lfw-gender": ("data/lfw-gender", ["--split", "test"]),
    "adience": ("data/adience", ["--format", "adience"]),
    "fairface": ("data/fairface", ["--split", "test"]),  # in the wild, 9 age bins
}
CONFIGS = {
    "default": [],
    "flip": ["--tta", "flip"],  # the default models, each face also seen mirrored
    "permissive": ["--profile", "permissive"],
    "ensembles": ["--age-model", "utkface-age-96+utkface-age-64",
                  "--gender-model", "utkface-gender-96+utkface-gender-32"],
    "faceres-deep": ["--age-model", "faceres-age.deep", "--gender-model", "faceres-gender.deep"],
    "yunet": ["--detector", "yunet"],
    "hog-mtcnn": ["--detector", "hog-mtcnn"],
}


def row(cfg: str, ds: str, mode: str, r: dict) -> str:
    def pct(x: float | None) -> str:
        return "" if x is None else f"{100 * x:.1f}%"

    age, g, ad, iv = r.get("age", {}), r.get("gender", {}), r.get("adience", {}), r.get("interval", {})
    ab = r.get("age_bins", {})
    kids = [b for b in (r.get("age_bands") or {}).get("rows", []) if b.get("band") == "0-9"]
    mae = f"{age['mae']:.2f}" if age else ""
    ece = f"{g['ece']:.3f}" if g else ""
    return (f"| {cfg} | {ds} | {mode} | {r['n_samples']} | {pct(r['detection']['rate'])} | {mae} | "
            f"{pct(g.get('accuracy'))} | {pct(kids[0].get('gender_accuracy')) if kids else ''} | "
            f"{ece} | {pct(ad.get('exact'))} | {pct(ad.get('one_off'))} | "
            f"{pct(ab.get('exact'))} | {pct(ab.get('one_off'))} | {pct(iv.get('coverage'))} |")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--modes", default="pipeline,crops")
    ap.add_argument("--limit", type=int, default=None)
    a = ap.parse_args()
    lines = ["| models | data set | mode | n | found | age MAE | gender | gender 0-9 | gender ECE | "
             "Adience exact | one-off | 9-bin exact | one-off | 80% interval |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for cfg in a.configs.split(","):
        for ds in a.datasets.split(","):
            for mode in a.modes.split(","):
                folder = a.out / f"{cfg}-{ds}-{mode}"
                rep = folder / "report.json"
                if not rep.is_file():
                    path, extra = DATASETS[ds]
                    cmd = [sys.executable, "-m", "agegender.cli", "-q", "eval", str(SHARED / path),
                           *extra, *CONFIGS[cfg], "--report", str(folder)]
                    cmd += ["--crops"] if mode == "crops" else []
                    cmd += ["--limit", str(a.limit)] if a.limit else []
                    print(" ".join(cmd[2:]), file=sys.stderr, flush=True)
                    if subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode != 0:
                        print(f"failed: {cfg} {ds} {mode}", file=sys.stderr)
                        continue
                lines.append(row(cfg, ds, mode, json.loads(rep.read_text())))
                print(lines[-1], flush=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
