"""Videos, cameras and streams inside ``agegender analyze`` (images go the usual way)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from ..io.writers import json_line

log = logging.getLogger("agegender")


def camera_index(text: str) -> int:
    """``--camera``: a whole number 0..99 (OpenCV reads 100 and more as a backend, and
    crashes on negative indexes)."""
    from ..io.video_open import MAX_CAMERA_INDEX

    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a camera index (0 = the first), got {text!r}") from None
    if not 0 <= v <= MAX_CAMERA_INDEX:
        raise argparse.ArgumentTypeError(
            f"must be a camera index 0..{MAX_CAMERA_INDEX} (0 = the first camera), got {text}"
        )
    return v


def add_video_options(p: argparse.ArgumentParser) -> None:
    from ..video.analyze import DEFAULT_ESTIMATE_EVERY
    from ._common import positive_int

    g = p.add_argument_group("video, camera and stream inputs")
    g.add_argument("--camera", type=camera_index, metavar="INDEX",
                   help="analyze camera INDEX (0 = first; an input 0..99 that is no file is a camera too)")
    g.add_argument("--every", type=positive_int, default=1, metavar="N", help="analyze every Nth frame")
    g.add_argument("--detect-every", type=positive_int, default=3, metavar="K",
                   help="detect (and estimate) every Kth analyzed frame and track in between; "
                   "default 3 (10 detections/s at 30 fps); 1 for every frame")
    g.add_argument("--estimate-every", type=positive_int, default=DEFAULT_ESTIMATE_EVERY, metavar="K",
                   help="estimate a tracked face's age and gender again every Kth analyzed frame "
                   "(and when its track is new or its detection gets better); in between it "
                   f"shows its track's answer; default {DEFAULT_ESTIMATE_EVERY}; 1 for every "
                   "detection")
    g.add_argument("--no-track", action="store_true", help="frame-by-frame answers, no tracking")
    g.add_argument("--show", action="store_true", help="show the annotated video (needs a display)")
    g.add_argument("--tracks", metavar="FILE", help="per-track summary to FILE (.json or .csv)")
    g.add_argument("--max-frames", type=positive_int, default=None, metavar="N",
                   help="stop after N analyzed frames")


def is_camera_input(item: str) -> bool:
    """An input ``0``..``99`` is a camera index unless a file or folder of that name exists."""
    from ..io.video_open import MAX_CAMERA_INDEX

    return item.isascii() and item.isdigit() and int(item) <= MAX_CAMERA_INDEX and not (
        Path(item).exists()
    )


def split_inputs(inputs: list[str]) -> tuple[list[str], list[str]]:
    """(video inputs, image inputs): by stream URL, camera index (``0``: camera 0 when no
    file is named ``0``), extension or content; folders stay images."""
    from ..io.video import is_stream_url, is_video

    videos, images = [], []
    for item in inputs:
        if is_camera_input(item) or is_stream_url(item) or (Path(item).is_file() and is_video(item)):
            videos.append(item)
        else:
            images.append(item)
    return videos, images


def check_video_out(out: str | None, *, images: bool, videos: int) -> None:
    """``--out FILE.mp4`` is for one video alone: images need a folder (a usage error,
    before any model loads, rather than a folder named ``FILE.mp4``)."""
    from ..errors import InputError
    from ._common import VIDEO_OUT_SUFFIXES

    if out is None or Path(out).suffix.lower() not in VIDEO_OUT_SUFFIXES:
        return
    if images:
        raise InputError(
            f"--out {out}: --out for images is a folder (annotated images are written into "
            "it); give --out DIR, or analyze the video alone to write one FILE.mp4"
        )
    if videos > 1:
        raise InputError(
            f"--out {out}: one FILE.mp4 takes one video; give a folder for {videos} videos "
            "(each is written there as NAME.annotated.mp4)"
        )


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


def _frames_to_analyze(video: Any, every: int, max_frames: int | None) -> int | None:
    """How many frames the progress line counts to (None: a live source, unknown)."""
    if video.frame_count is None:
        return max_frames
    n = -(-video.frame_count // every)
    return min(n, max_frames) if max_frames else n


def summary_line(name: str, s: Any) -> str:
    """The one line said after each video: frames, time, speed, tracks."""
    tracks = f", {len(s.tracks)} track{'' if len(s.tracks) == 1 else 's'}" if s.tracked else ""
    stopped = " (stopped before the end)" if s.stopped else ""
    return (
        f"{name}: {s.frames_analyzed} frames analyzed in {s.seconds:.1f} s "
        f"({s.fps_processed:.1f} frames/s){tracks}{stopped}"
    )


def run_videos(analyzer: Any, sources: list[str | int], a: argparse.Namespace) -> int:
    """Analyze each video source; per-frame JSON lines on stdout, a progress line on a
    terminal and a summary line per video on stderr (not with -q). Returns how many failed:
    a source that cannot be opened or decoded, or that ends before the frame count its
    header announces (the frames read are analyzed and written all the same)."""
    from ..errors import AgeGenderError
    from ..io.video import open_video
    from ..io.writers import OutputFailed, StdoutLines
    from ..video import analyze_video
    from .progress import Progress

    failed = 0
    many = len(sources) > 1
    out = StdoutLines()
    for src in sources:
        name = str(src)
        progress: Progress | None = None
        try:
            video = open_video(src, step=a.every)
            progress = Progress(
                _frames_to_analyze(video, a.every, a.max_frames), enabled=not a.quiet,
                what="frames", unit="frame",
            )

            def emit(d: dict[str, Any], name: str = name, p: Progress = progress) -> None:
                out.write(json_line({"source": name, **d}), flush=False)
                p.step()

            with progress.logging_above():
                summary = analyze_video(
                    analyzer,
                    video,
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
            progress.close()
            out.flush()
            dest = _tracks_for(a.tracks, name, many)
            if dest:
                try:
                    summary.write(dest)
                except OSError as e:
                    from ..io.writers import write_failed

                    raise write_failed(e, dest, "the tracks") from e
        except OutputFailed:
            if progress is not None:
                progress.close()
            raise  # no more output can be written: the run stops
        except AgeGenderError as e:
            if progress is not None:
                progress.close()
            failed += 1
            log.error("%s", e)
            out.write(json_line({"source": name, "faces": [], "error": {
                "type": type(e).__name__, "message": str(e)}}))
            continue
        if summary.error:
            failed += 1
            out.write(json_line({"source": name, "faces": [], "error": {
                "type": "VideoError", "message": summary.error}}))
        if not a.quiet:
            print(f"agegender: {summary_line(name, summary)}", file=sys.stderr)
    return failed
