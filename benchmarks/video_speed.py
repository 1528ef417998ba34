"""Benchmark video analysis: frames/s and label flicker, before/after, tracking on vs off.

Builds 640x480 mp4 clips (``--frames`` frames at 30 frames/s) with 1, 3 and 6
moving, slowly scaling faces cut from ``group_t1.jpg`` (its 6 faces are found once
with the analyzer's detector), then runs :func:`agegender.video.analyze_video` on
each clip, ``--runs`` times per setting (the settings take turns, so a change of
load on a shared machine hits them alike), and prints the medians with min-max:

* frames/s processed with tracking on, detecting every frame, **before**
  (``track/est1``: every detection estimated, ``estimate_every=1``) and **after**
  (``track``: a tracked face estimated when new, every ``--estimate-every`` frames,
  or when its quality improves); the same with ``detect_every=3``
  (``track-de3/est1``, ``track-de3``); and tracking off (frame by frame);
* where the time goes (ms per analyzed frame: waiting for decoded frames,
  detection, estimation, tracking + aggregation) and faces estimated per frame;
* label flicker (changes per track per minute) of the shown, aggregated answers
  vs the raw frame-by-frame answers of the same tracks (raw: between consecutive
  fresh estimates, so it is lower where fewer estimates are made).

Usage::

    AGEGENDER_MIRROR=/path/to/shared/models \\
        PYTHONPATH=src python benchmarks/video_speed.py [--frames 300] [--runs 3]

``--no-spin`` turns off onnxruntime's thread spin-waiting in the estimators'
sessions (an experiment: on a machine with few cores the spinning threads
compete with the detector); ``--pad P`` builds the detector with border padding
P instead of its default.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout

from agegender import Analyzer  # noqa: E402
from agegender.io.images import decode_image  # noqa: E402
from agegender.video import VideoSummary, analyze_video  # noqa: E402
from agegender.video.analyze import DEFAULT_ESTIMATE_EVERY  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
log = logging.getLogger("benchmarks.video_speed")

W, H, FPS = 640, 480, 30.0
SETTINGS: dict[str, dict[str, Any]] = {
    "track/est1": {"track": True, "detect_every": 1, "estimate_every": 1},
    "track": {"track": True, "detect_every": 1},
    "track-de3/est1": {"track": True, "detect_every": 3, "estimate_every": 1},
    "track-de3": {"track": True, "detect_every": 3},
    "no-track": {"track": False, "detect_every": 1},
}
#: before -> after pairs reported as ratios
PAIRS = (("track/est1", "track"), ("track-de3/est1", "track-de3"))


def default_photos() -> Path:
    env = os.environ.get("AGEGENDER_SHARED")
    root = Path(env) if env else REPO.parent / "shared"
    return root / "data" / "photos"


def face_crops(analyzer: Analyzer, photo: Path, margin: float = 0.3) -> list[NDArray[np.uint8]]:
    """The faces of a photo (left to right), each cut with ``margin`` of context per side."""
    rgb = decode_image(photo)
    faces = analyzer.detect([rgb])[0]
    crops = []
    for x1, y1, x2, y2 in sorted(faces.boxes.tolist()):
        mw, mh = margin * (x2 - x1), margin * (y2 - y1)
        a, b = int(max(0, x1 - mw)), int(max(0, y1 - mh))
        c, d = int(min(rgb.shape[1], x2 + mw)), int(min(rgb.shape[0], y2 + mh))
        crops.append(np.ascontiguousarray(rgb[b:d, a:c]))
    return crops


def make_clip(path: Path, crops: list[NDArray[np.uint8]], n_frames: int) -> Path:
    """A 640x480 clip: face k moves on an ellipse in its cell of a 3x2 grid and breathes
    in size (one face: a wider path in the middle of the frame)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    if not writer.isOpened():
        raise SystemExit(f"cannot write {path}")
    yy, xx = np.mgrid[0:H, 0:W]
    background = (100 + 40 * (xx / W) + 30 * (yy / H)).astype(np.uint8)[..., None].repeat(3, 2)
    n = len(crops)
    for i in range(n_frames):
        frame = background.copy()
        for k, crop in enumerate(crops):
            phase = 2 * math.pi * (i / 150.0) + k
            if n == 1:
                cx, cy, rx, ry, h0 = W / 2, H / 2, 160, 90, 170
            else:
                cx, cy, rx, ry, h0 = 107 + 213 * (k % 3), 120 + 240 * (k // 3), 35, 25, 120
            h = int(h0 * (1 + 0.12 * math.sin(phase / 2)))
            w = int(h * crop.shape[1] / crop.shape[0])
            x = int(cx + rx * math.sin(phase) - w / 2)
            y = int(cy + ry * math.cos(phase) - h / 2)
            x, y = min(max(x, 0), W - w), min(max(y, 0), H - h)
            frame[y : y + h, x : x + w] = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def disable_ort_spinning() -> None:
    """Make every onnxruntime session created from now on sleep instead of spin-wait."""
    import onnxruntime as ort

    original = ort.InferenceSession.__init__

    def init(self: Any, path: Any, sess_options: Any = None, *a: Any, **k: Any) -> None:
        if sess_options is None:
            sess_options = ort.SessionOptions()
        sess_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess_options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        original(self, path, sess_options, *a, **k)

    ort.InferenceSession.__init__ = init  # type: ignore[method-assign]


def median_summary(runs: list[VideoSummary]) -> VideoSummary:
    """The run with the median speed."""
    return sorted(runs, key=lambda s: s.fps_processed)[len(runs) // 2]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--faces", default="1,3,6", help="face counts, comma separated")
    p.add_argument("--settings", default=",".join(SETTINGS), help=",".join(SETTINGS))
    p.add_argument("--detector", default="auto")
    p.add_argument("--pad", type=float, default=None, help="detector border padding")
    p.add_argument("--no-spin", action="store_true", help="onnxruntime sessions without spinning")
    p.add_argument("--photos", type=Path, default=None)
    p.add_argument("--estimate-every", type=int, default=DEFAULT_ESTIMATE_EVERY,
                   help="K of the 'after' settings (default: analyze_video's)")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    logging.getLogger("agegender.video").setLevel(logging.WARNING)

    if a.no_spin:
        disable_ort_spinning()
    detector: Any = a.detector
    if a.pad is not None:
        from agegender.detect import create_detector

        detector = create_detector(a.detector, pad=a.pad)
    analyzer = Analyzer(detector=detector)
    photos = a.photos or default_photos()
    crops = face_crops(analyzer, photos / "group_t1.jpg")
    det = analyzer.detector
    print(f"detector: {det!r} (asked: {a.detector}); age/gender: {analyzer.estimator!r}")
    print(f"{len(crops)} faces cut from group_t1.jpg; cpu cores: {os.cpu_count()}; "
          f"load average before: {os.getloadavg()[0]:.2f}; cv2 threads {cv2.getNumThreads()}; "
          f"no-spin {a.no_spin}")
    counts = [int(c) for c in a.faces.split(",")]
    settings = a.settings.split(",")
    for name in settings:
        if name not in SETTINGS:
            raise SystemExit(f"unknown setting {name!r}; choose from {', '.join(SETTINGS)}")
        if "estimate_every" not in SETTINGS[name] and SETTINGS[name]["track"]:
            SETTINGS[name]["estimate_every"] = a.estimate_every
    rows = []
    fps_of: dict[tuple[int, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # warm up: load the models, first-run allocations
        warm = make_clip(Path(tmp) / "warm.mp4", crops[:2], 10)
        analyze_video(analyzer, warm)
        for n in counts:
            clip = make_clip(Path(tmp) / f"faces{n}.mp4", crops[:n], a.frames)
            t0 = time.perf_counter()
            res: dict[str, list[VideoSummary]] = {s: [] for s in settings}
            for _ in range(a.runs):  # the settings take turns
                for setting in settings:
                    res[setting].append(analyze_video(analyzer, clip, **SETTINGS[setting]))
            for setting in settings:
                med = median_summary(res[setting])
                speeds = [s.fps_processed for s in res[setting]]
                fps_of[(n, setting)] = speeds
                per = {k: 1000 * v / max(med.frames_analyzed, 1) for k, v in med.timings.items()}
                rows.append((n, setting, speeds, med, per))
                log.info("%d faces %-14s %5.1f frames/s (runs %s) tracks %d", n, setting,
                         statistics.median(speeds), ", ".join(f"{v:.1f}" for v in speeds),
                         len(med.tracks))
            log.info("%d faces: %.0f s", n, time.perf_counter() - t0)

    print(f"\n{a.frames} frames 640x480 @30 fps; median (min-max) of {a.runs} runs; "
          f"estimate_every of the 'after' settings: {a.estimate_every}; "
          f"load average after: {os.getloadavg()[0]:.2f}\n")
    print("| faces | setting | frames/s | tracks | read | detect | estimate | track+agg | "
          "faces estimated/frame | flicker shown (age/gender) | flicker raw (age/gender) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n, setting, speeds, med, per in rows:
        ft, fr = med.flicker_tracked, med.flicker_raw
        fl_t = f"{ft['age_group']:.1f} / {ft['gender']:.1f}" if ft else "-"
        fl_r = f"{fr['age_group']:.1f} / {fr['gender']:.1f}" if fr else "-"
        print(
            f"| {n} | {setting} | {statistics.median(speeds):.1f} "
            f"({min(speeds):.1f}-{max(speeds):.1f}) "
            f"| {len(med.tracks) if med.tracked else '-'} "
            f"| {per['read']:.1f} | {per['detect']:.1f} | {per['estimate']:.1f} "
            f"| {per['track'] + per['aggregate']:.1f} "
            f"| {med.estimates / max(med.frames_analyzed, 1):.2f} | {fl_t} | {fl_r} |"
        )
    print("\nread/detect/estimate/track+agg: ms per analyzed frame (median-speed run); "
          "flicker: label changes per track per minute")
    pairs = [(b, c) for b, c in PAIRS if b in settings and c in settings]
    if pairs:
        print("\nbefore -> after (frames/s, median (min-max); ratio of the medians):")
        for n in counts:
            for before, after in pairs:
                fb, fa = fps_of[(n, before)], fps_of[(n, after)]
                print(f"  {n} faces {before} -> {after}: "
                      f"{statistics.median(fb):.1f} ({min(fb):.1f}-{max(fb):.1f}) -> "
                      f"{statistics.median(fa):.1f} ({min(fa):.1f}-{max(fa):.1f}), "
                      f"x{statistics.median(fa) / max(statistics.median(fb), 1e-9):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
