"""Videos, cameras and streams inside ``agegender analyze`` (images go the usual way)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from ..io.writers import json_line

log = logging.getLogger("agegender")


def add_video_options(p: argparse.ArgumentParser) -> None:
    from ..video.analyze import DEFAULT_ESTIMATE_EVERY

    g = p.add_argument_group("video, camera and stream inputs")
    g.add_argument("--camera", type=int, metavar="INDEX", help="analyze camera INDEX (0 = first)")
    g.add_argument("--every", type=int, default=1, metavar="N", help="analyze every Nth frame")
    g.add_argument("--detect-every", type=int, default=3, metavar="K",
                   help="detect (and estimate) every Kth analyzed frame and track in between; "
                   "default 3 (10 detections/s at 30 fps); 1 for every frame")
    g.add_argument("--estimate-every", type=int, default=DEFAULT_ESTIMATE_EVERY, metavar="K",
                   help="estimate a tracked face's age and gender again every Kth analyzed frame "
                   "(and when its track is new or its detection gets better); in between it "
                   f"shows its track's answer; default {DEFAULT_ESTIMATE_EVERY}; 1 for every "
                   "detection")
    g.add_argument("--no-track", action="store_true", help="frame-by-frame answers, no tracking")
    g.add_argument("--show", action="store_true", help="show the annotated video (needs a display)")
    g.add_argument("--tracks", metavar="FILE", help="per-track summary to FILE (.json or .csv)")
    g.add_argument("--max-frames", type=int, default=None, help="stop after N analyzed frames")


def split_inputs(inputs: list[str]) -> tuple[list[str], list[str]]:
    """(video inputs, image inputs): by stream URL, extension or content; folders stay images."""
    from ..io.video import is_stream_url, is_video

    videos, images = [], []
    for item in inputs:
        if is_stream_url(item) or (Path(item).is_file() and is_video(item)):
            videos.append(item)
        else:
            images.append(item)
    return videos, images


def _out_for(out: str | None, source: str, many: bool) -> str | None:
    if out is None:
        return None
    p = Path(out)
    if p.suffix.lower() in (".mp4", ".avi", ".mov", ".mkv") and not many:
        return str(p)
    p.mkdir(parents=True, exist_ok=True)
    stem = "camera" if source.isdigit() else Path(source.split("?")[0]).stem or "stream"
    return str(p / f"{stem}.annotated.mp4")


def _tracks_for(path: str | None, source: str, many: bool) -> str | None:
    if path is None or not many:
        return path
    p = Path(path)
    stem = "camera" if source.isdigit() else Path(source.split("?")[0]).stem
    return str(p.with_name(f"{p.stem}-{stem}{p.suffix}"))


def run_videos(analyzer: Any, sources: list[str | int], a: argparse.Namespace) -> int:
    """Analyze each video source; per-frame JSON lines on stdout. Returns how many failed."""
    from ..errors import AgeGenderError
    from ..video import analyze_video

    failed = 0
    many = len(sources) > 1
    for src in sources:
        name = str(src)

        def emit(d: dict[str, Any], name: str = name) -> None:
            sys.stdout.write(json_line({"source": name, **d}) + "\n")

        try:
            summary = analyze_video(
                analyzer,
                src,
                every=a.every,
                detect_every=a.detect_every,
                estimate_every=a.estimate_every,
                track=not a.no_track,
                out=_out_for(a.out, name, many),
                show=a.show,
                on_frame=emit,
                max_frames=a.max_frames,
                stop_on_interrupt=True,
            )
        except AgeGenderError as e:
            failed += 1
            log.error("%s", e)
            sys.stdout.write(json_line({"source": name, "faces": [], "error": {
                "type": type(e).__name__, "message": str(e)}}) + "\n")
            continue
        sys.stdout.flush()
        dest = _tracks_for(a.tracks, name, many)
        if dest:
            summary.write(dest)
        log.info(
            "%s: %d frames analyzed at %.1f frames/s, %d tracks",
            name, summary.frames_analyzed, summary.fps_processed, len(summary.tracks),
        )
    return failed
