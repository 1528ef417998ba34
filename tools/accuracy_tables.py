"""The detail tables of docs/accuracy.md, printed from `agegender eval` report folders.

    python tools/accuracy_tables.py --fairface REPORT_DIR --utkface REPORT_DIR

prints, as markdown: the FairFace per-bin table, perceived gender by group and by labelled
gender, the risk-coverage table (all faces and ages 0-9), and the UTKFace per-true-age-band
table. The report folders are what `agegender eval ... --report DIR` writes (for the default:
`tools/accuracy_matrix.py --configs default --modes pipeline` writes
`OUT/default-fairface-pipeline` and `OUT/default-utkface-pipeline`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}%"


def fairface(r: dict[str, Any]) -> list[str]:
    out = ["| bin | faces | exact | one-off | perceived gender | gender ECE |", "|---|---|---|---|---|---|"]
    for b in r["age_bins"]["per_bin"]:
        ece = "too few" if b.get("gender_ece") is None else f"{b['gender_ece']:.3f}"
        out.append(f"| {b['bin']} | {b['n']} | {pct(b['exact'])} | {pct(b['one_off'])} | "
                   f"{pct(b.get('gender_accuracy'))} | {ece} |")
    groups = sorted(r["breakdown"]["group"]["groups"], key=lambda g: g["gender_accuracy"])
    by_group = ", ".join(f"{g['name']} {pct(g['gender_accuracy'])} ({g['count']:,})" for g in groups)
    genders = ", ".join(f"{g['name']} {pct(g['gender_accuracy'])} ({g['count']:,})"
                        for g in r["breakdown"]["gender"]["groups"])
    spread = 100 * (groups[-1]["gender_accuracy"] - groups[0]["gender_accuracy"])
    out += ["", f"By group: {by_group}; by labelled gender: {genders}; spread {spread:.1f} points.", ""]
    rc = r["gender_risk_coverage"]
    ts = rc["thresholds"]
    out += ["| P | " + " | ".join(f"{t:g}" for t in ts) + " |", "|---" * (len(ts) + 1) + "|"]
    for name, label in (("all", "all"), ("0-9", "ages 0-9")):
        rows = rc["rows"].get(name)
        if rows:
            cells = [f"{r_['coverage'] * 100:.0f}% / {pct(r_['accuracy'])}" for r_ in rows]
            out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out


def utkface(r: dict[str, Any]) -> list[str]:
    out = ["| true age | n | MAE | 80% interval coverage | gender accuracy | gender ECE |",
           "|---|---|---|---|---|---|"]
    for b in r["age_bands"]["rows"]:
        ece = "too few" if b.get("gender_ece_too_few") or b.get("gender_ece") is None else f"{b['gender_ece']:.3f}"
        out.append(f"| {b['band']} | {b['count']} | {b['mae']:.2f} | {pct(b['coverage'])} | "
                   f"{pct(b['gender_accuracy'])} | {ece} |")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fairface", type=Path, required=True, help="FairFace test report folder")
    ap.add_argument("--utkface", type=Path, required=True, help="UTKFace test report folder")
    a = ap.parse_args()
    lines = fairface(json.loads((a.fairface / "report.json").read_text()))
    lines += ["", *utkface(json.loads((a.utkface / "report.json").read_text()))]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
