"""Speed of ``agegender batch`` against ``agegender analyze`` (one process), in one run.

N UTKFace faces (default 1,000, spread evenly over the ``test`` split; copied once into a
temporary folder), each command run as a user runs it, in a subprocess, timed from start
to exit (so model loading, worker start-up and Ray's start are included):

* ``analyze``: ``agegender analyze DIR`` (JSON Lines to a file), one process;
* ``batch local 1`` / ``batch local 2``: ``agegender batch DIR --out OUT --workers 1|2``;
* ``batch ray 2``: ``agegender batch DIR --out OUT --engine ray --workers 2`` (a local Ray
  started and stopped by the command; skipped with a note when ray is not installed).

The table also gives CPU seconds (user + system of the command and the processes it
reaped, plus what batch's workers report: local workers their whole process, Ray actors
their blocks only), which the machine's load changes much less than wall-clock time.

Every configuration runs ``--repeats`` times (default 3), the rounds interleaved so that a
slow moment of the machine hits all of them; the table gives the median, and each
configuration's images/s as a ratio of ``analyze``'s. Same detector and models for all
(``--detector``, default ``auto``: YuNet when AGEGENDER_MIRROR holds it).

Usage::

    AGEGENDER_MIRROR=../shared/models nice -n 15 python benchmarks/batch_speed.py \\
        [--n 1000] [--repeats 3] [--detector auto] [--json FILE] [--shared DIR]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def utk_faces(shared: Path, n: int, dest: Path) -> list[Path]:
    root = shared / "data" / "utkface"
    with open(root / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
    step = (len(rows) - 1) / max(1, n - 1)
    picked = {rows[round(i * step)]["path"] for i in range(n)}
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for p in sorted(picked):
        d = dest / Path(p).name
        shutil.copyfile(root / p, d)
        out.append(d)
    return out


def run(config: str, folder: Path, work: Path, detector: str) -> tuple[float, float, int, int]:
    """(seconds, CPU seconds, inputs, faces) of one run of one configuration.

    CPU seconds: user + system time of the command and what it reaped, plus the CPU seconds
    that batch's workers report in its summary line.
    """
    base = [sys.executable, "-m", "agegender"]
    out = work / f"out-{config.replace(' ', '-')}-{time.monotonic_ns()}"
    if config == "analyze":
        cmd = [*base, "-q", "analyze", str(folder), "--detector", detector]
    else:
        _, engine, workers = config.split()
        cmd = [*base, "batch", str(folder), "--out", str(out), "--engine", engine,
               "--workers", workers, "--detector", detector]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(work / "stdout.jsonl", "w") as so:
        r = subprocess.run(cmd, stdout=so, stderr=subprocess.PIPE, timeout=3600)
    seconds = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    # batch's workers are not our children (forkserver, Ray): they report their own CPU
    m = re.search(r"([0-9.]+) CPU s in workers", r.stderr.decode())
    cpu += float(m.group(1)) if m else 0.0
    if r.returncode not in (0, 1):
        raise RuntimeError(f"{config} failed (exit {r.returncode}): {r.stderr.decode()[-600:]}")
    if config == "analyze":
        objs = [json.loads(x) for x in (work / "stdout.jsonl").read_text().splitlines()]
        n, faces = len(objs), sum(len(o["faces"]) for o in objs)
    else:
        import pyarrow.parquet as pq

        parts = sorted(out.glob("part-*.parquet"))
        tables = [pq.read_table(p, columns=["source", "face"]) for p in parts]
        n = len({s for t in tables for s in t.column("source").to_pylist()})
        faces = sum(len(t.column("face").drop_null()) for t in tables)
        shutil.rmtree(out, ignore_errors=True)
    if n == 0:
        raise RuntimeError(f"{config} analyzed nothing (exit {r.returncode}): {r.stderr.decode()[-600:]}")
    return seconds, cpu, n, faces


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="UTKFace faces (default 1000)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--detector", default="auto")
    ap.add_argument("--shared", type=Path, default=Path(os.environ.get("AGEGENDER_SHARED", REPO.parent / "shared")))
    ap.add_argument("--json", type=Path, default=None, help="also write every timing here")
    a = ap.parse_args(argv)
    configs = ["analyze", "batch local 1", "batch local 2"]
    notes = []
    if importlib.util.find_spec("ray") is not None:
        configs.append("batch ray 2")
    else:
        notes.append('batch ray 2: skipped (ray is not installed: pip install "agegender[distributed]")')
    with tempfile.TemporaryDirectory(prefix="batch-speed-") as tmp:
        work = Path(tmp)
        folder = work / "faces"
        utk_faces(a.shared, a.n, folder)
        times: dict[str, list[float]] = {c: [] for c in configs}
        cpus: dict[str, list[float]] = {c: [] for c in configs}
        counts: dict[str, tuple[int, int]] = {}
        for k in range(a.repeats):
            order = configs[k % len(configs):] + configs[: k % len(configs)]
            for c in order:
                try:
                    s, cpu, n, f = run(c, folder, work, a.detector)
                except RuntimeError as e:  # e.g. Ray could not start on a busy machine
                    notes.append(f"round {k + 1}: {e}")
                    print(f"round {k + 1}: {c}: FAILED: {e}", file=sys.stderr)
                    continue
                times[c].append(s)
                cpus[c].append(cpu)
                counts[c] = (n, f)
                print(f"round {k + 1}: {c}: {s:.1f} s, {cpu:.1f} CPU s ({n} inputs, {f} faces)",
                      file=sys.stderr)
    if not times["analyze"]:
        raise SystemExit("analyze failed in every round: " + "; ".join(notes))
    base = a.n / statistics.median(times["analyze"])
    load = os.getloadavg()[0]
    print(f"\n{a.n} UTKFace test faces, {os.cpu_count()} cores, load average {load:.1f} at the end ({platform.processor() or platform.machine()}), "
          f"Python {platform.python_version()}, detector {a.detector}, median of {a.repeats} "
          "(whole command: start-up and model loading included)\n")
    print("| command | seconds | images/s | faces/s | vs analyze | CPU seconds | images per CPU s |")
    print("|---|---|---|---|---|---|---|")
    rows: list[dict[str, Any]] = []
    for c in configs:
        if not times[c]:
            print(f"| `{c}` | failed | | | | | |")
            continue
        med = statistics.median(times[c])
        n, f = counts[c]
        if len(times[c]) < a.repeats:
            notes.append(f"{c}: median of {len(times[c])} runs (the others failed)")
        ips = n / med
        cpu = statistics.median(cpus[c])
        print(f"| `{c}` | {med:.1f} | {ips:.1f} | {f / med:.1f} | {ips / base:.2f}x | {cpu:.1f} | {n / cpu:.0f} |")
        rows.append({"config": c, "seconds": times[c], "median": med, "cpu_seconds": cpus[c],
                     "inputs": n, "faces": f})
    for note in notes:
        print(f"\n{note}")
    if a.json:
        a.json.write_text(json.dumps({"n": a.n, "repeats": a.repeats, "results": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
