"""``agegender analyze``: images, folders, stdin, videos, cameras and streams."""

from __future__ import annotations

import argparse
import logging
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
    from ..errors import InputError
    from ..io.images import Skipped, expand_inputs
    from ..io.writers import CsvWriter, OutputFailed, write_failed
    from .video import check_video_out, run_videos, split_inputs

    videos, images = split_inputs(a.inputs)
    video_sources: list[str | int] = [*videos, *([a.camera] if a.camera is not None else [])]
    if not images and not video_sources:
        raise InputError("nothing to analyze: give image or video paths, folders, -, or --camera")
    check_video_out(a.out, images=bool(images), videos=len(video_sources))  # before any model
    analyzer = make_analyzer(a)
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
    try:
        csvw = CsvWriter(csv_file) if csv_file else None
    except OSError as e:  # the header did not fit
        import contextlib

        with contextlib.suppress(OSError):
            csv_file.close()  # type: ignore[union-attr]  # set: CsvWriter got it
        raise write_failed(e, a.csv, "the CSV file") from e
    progress = Progress(len(sources), enabled=len(sources) > 1 and not a.quiet)
    sink = _Sinks(out_dir, csv_file, csvw, analyzer.gender_min_confidence)
    results = analyzer.analyze_many(
        sources, keep_images=out_dir is not None, on_step=lambda r: progress.step()
    )
    try:
        for i, r in log_above(progress, enumerate(results)):
            written = sink.put(i, r)
            if r.error is not None:
                failed += 1
                log.error("%s", r.error)
            elif not written:
                failed += 1
            if progress.n < i + 1:  # inputs whose detection never ran (a model error)
                progress.step(i + 1 - progress.n)
    except OutputFailed as e:  # a full or read-only disk: what was written stays valid
        progress.close()
        log.error("%s", e)
        log.error("stopped after %d of %d inputs", sink.done, len(sources))
        return 1
    finally:
        progress.close()
        if csv_file:
            sink.close_csv()
    if skipped:
        log.warning("%s", _skip_summary(skipped, listed=a.verbose))
    if failed:
        total = len(sources) + len(video_sources)
        log.error("%d of %d inputs failed (see the error lines above and in the JSON)", failed, total)
    return 1 if failed else 0


class _Sinks:
    """Where each image's result goes: a JSON line on stdout, CSV rows, an annotated image.

    A write that fails for want of space or on a read-only disk raises
    :class:`~agegender.io.writers.OutputFailed` (one line: the path, what to do) after
    undoing its own partial write, so every file keeps only whole lines and rows; other
    write errors fail that input only (``put`` returns False).
    """

    def __init__(self, out_dir: Path | None, csv_file: Any, csvw: Any,
                 gender_min_confidence: float = 0.5) -> None:
        from ..io.writers import StdoutLines

        self.out_dir, self.csv_file, self.csvw = out_dir, csv_file, csvw
        self.gender_min_confidence = gender_min_confidence
        self.stdout = StdoutLines()
        self.used: set[Path] = set()
        self.done = 0
        self._csv_good = csv_file.tell() if csv_file else 0

    def put(self, i: int, r: Any) -> bool:
        from ..io.writers import annotated_path, json_line, write_failed

        d = r.to_dict(gender_min_confidence=self.gender_min_confidence)
        self.stdout.write(json_line(d))
        if self.csvw is not None:
            try:
                self.csvw.write(d)
                self.csv_file.flush()  # each row as its input is done
                self._csv_good = self.csv_file.tell()
            except OSError as e:
                self._undo_csv()
                raise write_failed(e, self.csv_file.name, "the CSV file") from e
        ok = True
        if r.error is None and self.out_dir is not None and r.image is not None:
            dest = annotated_path(self.out_dir, r.source, i)
            if dest in self.used:
                dest = dest.with_name(f"{dest.stem}-{i}.jpg")
            self.used.add(dest)
            ok = _save_annotated(r, dest, self.gender_min_confidence)
        self.done += 1
        return ok

    def _undo_csv(self) -> None:
        """Cut the CSV back to its last whole row (a failed flush may leave half a row)."""
        import contextlib
        import os

        with contextlib.suppress(OSError, ValueError):
            os.truncate(self.csv_file.name, self._csv_good)

    def close_csv(self) -> None:
        import contextlib

        try:
            self.csv_file.close()
        except OSError:  # the last flush failed: keep the whole rows only
            with contextlib.suppress(OSError):
                self.csv_file.close()
            self._undo_csv()


def _save_annotated(r: Any, dest: Path, gender_min_confidence: float = 0.5) -> bool:
    """Write ``r``'s annotated image to ``dest`` in one step (never half a file). False
    (logged) when this one file cannot be written; OutputFailed when the disk cannot."""
    from PIL import Image

    from .._fs import atomic_path
    from ..annotation import annotate
    from ..io.writers import STOPPING_ERRNOS, write_failed

    try:
        with atomic_path(dest) as tmp:
            annotate(Image.fromarray(r.image), r.faces,
                     gender_min_confidence=gender_min_confidence).save(tmp, quality=92)
    except OSError as e:
        if e.errno in STOPPING_ERRNOS:
            raise write_failed(e, dest, "the annotated image") from e
        log.error("cannot write %s: %s", dest, e.strerror or e)
        return False
    return True


def _skip_summary(skipped: list[Any], *, listed: bool) -> str:
    kinds: dict[str, int] = {}
    for s in skipped:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
    n = len(skipped)
    where = "listed above" if listed else "-v lists them"
    return f"skipped {n} {'entry' if n == 1 else 'entries'} in the folders given ({detail}); {where}"
