"""``agegender analyze``: images, folders, stdin, videos, cameras and streams."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from ._common import (
    add_model_options,
    log_above,
    make_analyzer,
    output_folder,
    positive_int,
    writable_file,
)
from .progress import Progress

log = logging.getLogger("agegender")


def add_analyze_parser(sub: Any) -> None:
    an = sub.add_parser("analyze", help="analyze images, folders, or - (image bytes on stdin)")
    an.add_argument("inputs", nargs="*", help="images, videos, folders (recursive), stream URLs, or -")
    an.add_argument("--out", metavar="DIR|FILE.mp4", type=output_folder,
                    help="write annotated images (and videos) here")
    an.add_argument("--csv", metavar="FILE", type=writable_file, help="write one CSV row per face")
    add_model_options(an)
    an.add_argument("--max-inflight-pixels", type=positive_int, default=None, metavar="N",
                    help="decoded pixels held at once, all images together; larger images go one "
                    "at a time (default: 128,000,000, or AGEGENDER_MAX_INFLIGHT_PIXELS)")
    from .video import add_video_options

    add_video_options(an)
    an.set_defaults(func=cmd_analyze)


def cmd_analyze(a: argparse.Namespace) -> int:
    from ..annotation import annotate
    from ..errors import InputError
    from ..io.images import Skipped, expand_inputs
    from ..io.writers import CsvWriter, annotated_path, json_line
    from .video import run_videos, split_inputs

    analyzer = make_analyzer(a)
    videos, images = split_inputs(a.inputs)
    video_sources: list[str | int] = [*videos, *([a.camera] if a.camera is not None else [])]
    if not images and not video_sources:
        raise InputError("nothing to analyze: give image or video paths, folders, -, or --camera")
    failed = run_videos(analyzer, video_sources, a) if video_sources else 0
    skipped: list[Skipped] = []
    sources = list(expand_inputs(images, skipped=skipped))
    out_dir = Path(a.out) if a.out and sources else None
    try:
        if out_dir:
            out_dir.mkdir(parents=True, exist_ok=True)
        csv_file = open(a.csv, "w", newline="", encoding="utf-8") if a.csv else None  # noqa: SIM115
    except OSError as e:
        raise InputError(f"cannot write {e.filename}: {e.strerror or e}") from e
    csvw = CsvWriter(csv_file) if csv_file else None
    progress = Progress(len(sources), enabled=len(sources) > 1 and not a.quiet)
    used: set[Path] = set()
    results = analyzer.analyze_many(
        sources, keep_images=out_dir is not None, on_step=lambda r: progress.step()
    )
    try:
        for i, r in log_above(progress, enumerate(results)):
            d = r.to_dict()
            sys.stdout.write(json_line(d) + "\n")
            sys.stdout.flush()
            if csvw and csv_file:
                csvw.write(d)
                csv_file.flush()  # each row as its input is done
            if r.error is not None:
                failed += 1
                log.error("%s", r.error)
            elif out_dir is not None and r.image is not None:
                dest = annotated_path(out_dir, r.source, i)
                if dest in used:
                    dest = dest.with_name(f"{dest.stem}-{i}.jpg")
                used.add(dest)
                from PIL import Image

                annotate(Image.fromarray(r.image), r.faces).save(dest, quality=92)
            if progress.n < i + 1:  # inputs whose detection never ran (a model error)
                progress.step(i + 1 - progress.n)
    finally:
        progress.close()
        if csv_file:
            csv_file.close()
    if skipped:
        log.warning("%s", _skip_summary(skipped, listed=a.verbose))
    if failed:
        total = len(sources) + len(video_sources)
        log.error("%d of %d inputs failed (see the error lines above and in the JSON)", failed, total)
    return 1 if failed else 0


def _skip_summary(skipped: list[Any], *, listed: bool) -> str:
    kinds: dict[str, int] = {}
    for s in skipped:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
    n = len(skipped)
    where = "listed above" if listed else "-v lists them"
    return f"skipped {n} {'entry' if n == 1 else 'entries'} in the folders given ({detail}); {where}"
