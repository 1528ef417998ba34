"""The ``agegender`` command. Thin: parses arguments, calls the library, reports.

Exit codes: 0 every input processed; 1 some input failed (after all the others
were processed); 2 usage error (bad option, unknown model).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from .cli_options import (
    Parser,
    add_global_options,
    min_confidence,
    nonnegative_int,
    output_folder,
    positive_int,
    probability,
    spread_global_options,
    writable_file,
)
from .progress import Progress

log = logging.getLogger("agegender")
__all__ = ["Progress", "build_parser", "main"]


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detector", default="auto", help="auto (default), yunet, yunet-n, hog+mtcnn, mtcnn, hog, opencv-ssd")
    p.add_argument("--profile", default=None, choices=["accurate", "permissive"],
                   help="accurate (default, or AGEGENDER_PROFILE): the shipped FaceRes networks, "
                   "research/non-commercial only; permissive: only models that allow "
                   "commercial use (the CC0 Cydral pair and open detectors)")
    p.add_argument("--age-model", default="default", help="model name, or ensemble 'a+b' / 'a:2+b:1'; 'none' to skip; 'default': the profile's")
    p.add_argument("--gender-model", default="default", help="model name or ensemble; 'none' to skip; 'default': the profile's")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="onnxruntime device")
    p.add_argument("--tta", default="none", choices=["none", "flip", "oversample"], help="test-time augmentation")
    p.add_argument("--threshold", type=probability, default=None,
                   help="minimum detection score 0..1 (default: the detector's own)")
    p.add_argument("--min-face", type=nonnegative_int, default=None, metavar="PIXELS",
                   help="smallest face to report (default: the detector's own, 20)")
    p.add_argument("--max-pixels", type=positive_int, default=None, metavar="N",
                   help="refuse images above N pixels, from their header (default: 100,000,000 "
                   "or AGEGENDER_MAX_PIXELS)")
    p.add_argument(
        "--mask-background", action=argparse.BooleanOptionalAction, default=None,
        help="fade all but the face ellipse to the chip's mean before estimation "
        "(default: as each model's card says; off for the built-in models)",
    )
    p.add_argument("--gender-min-confidence", type=min_confidence, default=None, metavar="P",
                   help="0.5..1: report perceived gender as undetermined (label null) when the "
                   "more likely label's probability is below P (default 0.5: always a label)")


def _model_kwargs(a: argparse.Namespace) -> dict[str, Any]:
    """The options of :func:`_add_model_options`, as Analyzer keyword arguments."""
    return {
        "detector": a.detector,
        "age_model": None if a.age_model == "none" else a.age_model,
        "gender_model": None if a.gender_model == "none" else a.gender_model,
        "device": a.device,
        "threshold": a.threshold,
        "min_face": a.min_face,
        "tta": a.tta,
        "max_pixels": a.max_pixels,
        "mask_background": a.mask_background,
        "gender_min_confidence": a.gender_min_confidence,
        "profile": a.profile,
    }


def _analyzer(a: argparse.Namespace) -> Any:
    from .pipeline import Analyzer

    inflight = getattr(a, "max_inflight_pixels", None)
    return Analyzer(**_model_kwargs(a), **({"max_inflight_pixels": inflight} if inflight else {}))


def cmd_analyze(a: argparse.Namespace) -> int:
    from .annotation import annotate
    from .errors import InputError
    from .io.images import Skipped, expand_inputs
    from .io.writers import CsvWriter, annotated_path, json_line
    from .video_cli import run_videos, split_inputs

    analyzer = _analyzer(a)
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
        for i, r in _above(progress, enumerate(results)):
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

                Image.fromarray(annotate(r.image, r.faces, channels="RGB")).save(dest, quality=92)
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


def _above(progress: Progress, items: Any) -> Any:
    """``items``, with log lines printed above the progress line while they are consumed."""
    with progress.logging_above():
        yield from items


def _skip_summary(skipped: list[Any], *, listed: bool) -> str:
    kinds: dict[str, int] = {}
    for s in skipped:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
    n = len(skipped)
    where = "listed above" if listed else "-v lists them"
    return f"skipped {n} {'entry' if n == 1 else 'entries'} in the folders given ({detail}); {where}"


def cmd_models(a: argparse.Namespace) -> int:
    from . import registry

    if a.action == "list":
        from .profiles import PERMISSIVE_MODELS, PROFILES

        default = {PROFILES["accurate"].age_model, PROFILES["accurate"].gender_model}
        rows = [("NAME", "TASK", "AVAILABLE", "PROFILE", "LICENSE", "SOURCE")]
        for r in registry.records():
            prof = "default" if r.name in default else (
                "permissive" if r.name in PERMISSIVE_MODELS else "-")
            rows.append((r.name, r.task, "yes" if r.available() else "no", prof, r.license, r.source))
        widths = [max(len(str(row[i])) for row in rows) for i in range(5)]
        for row in rows:
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)) + "  " + row[5])
        print("default: research, non-commercial use only; --profile permissive (or "
              "AGEGENDER_PROFILE=permissive) keeps to the models marked permissive")
        return 0
    if a.action == "pull":
        names = a.names or [r.name for r in registry.records()]
        bad = 0
        for n in names:
            rec = registry.get(n)
            try:
                paths = rec.paths(fetch=True)
                print(f"{n}: ok ({', '.join(str(p) for p in paths)})")
            except Exception as e:  # noqa: BLE001 - report each model and go on
                bad += 1
                print(f"{n}: FAILED: {e}", file=sys.stderr)
        return 1 if bad else 0
    if a.action == "verify":
        bad = 0
        for r in registry.records():
            try:
                paths = r.paths(fetch=False)
                print(f"{r.name}: ok, sha256 verified ({len(paths)} file(s))")
            except Exception as e:  # noqa: BLE001
                kind = type(e).__name__
                if kind == "ChecksumError":
                    bad += 1
                print(f"{r.name}: {'BAD' if kind == 'ChecksumError' else 'not here'}: {e}")
        return 1 if bad else 0
    if a.action == "add":
        return _models_add(a)
    return 2


def _models_add(a: argparse.Namespace) -> int:
    import json

    from .errors import InputError
    from .estimate.card import record_from_card
    from .registry.user import cards_dir, load_user_cards

    if a.names and a.names[0] == "dex":
        from .registry.dex import add_dex

        if not a.onnx:
            raise InputError(
                "models add dex needs --onnx FILE (an ONNX Model Zoo-style DEX age model: "
                "1x3x224x224 BGR in, 101 age probabilities out)"
            )
        name = a.names[1] if len(a.names) > 1 else "dex-age"
        card = add_dex(Path(a.onnx), name=name, logits=a.logits)
        print(f"added age model {name!r} ({card}); use it with --age-model {name}")
        return 0
    if a.names and a.names[0] == "levi-hassner":
        from .estimate.caffe import add_levi_hassner

        if not a.caffemodel:
            raise InputError(
                "models add levi-hassner needs --caffemodel PATH (the authors' age_net.caffemodel "
                "or gender_net.caffemodel); add --task age|gender if the file name says neither"
            )
        dest = add_levi_hassner(Path(a.caffemodel), a.task)
        print(f"added {dest}; use it with --age-model levi-hassner-age or --gender-model levi-hassner-gender")
        return 0
    path = Path(a.names[0]) if a.names else None
    if path is not None and path.is_dir():  # a folder of runs or of committed weights
        cards = sorted({*path.glob("card*.json"), *path.glob("*/card*.json")})
        if not cards:
            raise InputError(f"models add: no card*.json in {path} or its subfolders")
        for c in cards:
            _models_add(argparse.Namespace(**{**vars(a), "names": [str(c)]}))
        return 0
    if path is None or not path.is_file():
        raise InputError(
            f"models add: give a model card file (JSON or YAML), or `levi-hassner --caffemodel PATH`; "
            f"got {' '.join(a.names) or 'nothing'}"
        )
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise InputError("reading a YAML card needs PyYAML: pip install pyyaml") from None
        try:
            card = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise InputError(f"{path}: not valid YAML ({e})") from e
    else:
        try:
            card = json.loads(text)
        except ValueError as e:
            raise InputError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(card, dict):
        raise InputError(f"{path}: a card must be a JSON/YAML object")
    if "file" in card and not Path(card["file"]).is_absolute():
        card["file"] = str((path.parent / card["file"]).resolve())
    rec = record_from_card(card, origin=str(path))
    if "file" in card:
        rec.paths(fetch=False)  # the file must exist and match its sha256 now
    d = cards_dir()
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{rec.name}.json").write_text(json.dumps(card, indent=2))
    load_user_cards()  # usable at once in this process too
    print(f"added {rec.task} model {rec.name!r} from {path}; use it with --{rec.task}-model {rec.name}")
    return 0


def cmd_serve(a: argparse.Namespace) -> int:
    from .server import serve

    serve(
        a.host,
        a.port,
        ssl_certfile=a.certfile,
        ssl_keyfile=a.keyfile,
        api_key=a.api_key,
        **_model_kwargs(a),
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = Parser(
        prog="agegender",
        description="Find faces; estimate apparent age and perceived gender, offline.",
    )
    p.add_argument("--version", action="version", version=f"agegender {__version__}")
    add_global_options(p)
    sub = p.add_subparsers(dest="command", required=True)

    an = sub.add_parser("analyze", help="analyze images, folders, or - (image bytes on stdin)")
    an.add_argument("inputs", nargs="*", help="images, videos, folders (recursive), stream URLs, or -")
    an.add_argument("--out", metavar="DIR|FILE.mp4", type=output_folder,
                    help="write annotated images (and videos) here")
    an.add_argument("--csv", metavar="FILE", type=writable_file, help="write one CSV row per face")
    _add_model_options(an)
    an.add_argument("--max-inflight-pixels", type=positive_int, default=None, metavar="N",
                    help="decoded pixels held at once, all images together; larger images go one "
                    "at a time (default: 128,000,000, or AGEGENDER_MAX_INFLIGHT_PIXELS)")
    from .video_cli import add_video_options

    add_video_options(an)
    an.set_defaults(func=cmd_analyze)

    mo = sub.add_parser("models", help="list, pull, verify or add models")
    mo.add_argument("action", choices=["list", "pull", "verify", "add"])
    mo.add_argument("names", nargs="*", help="model names (pull), a card file, a folder of cards or levi-hassner (add)")
    mo.add_argument("--caffemodel", help="models add levi-hassner: the authors' .caffemodel")
    mo.add_argument("--task", choices=["age", "gender"], help="models add levi-hassner: its task")
    mo.add_argument("--onnx", help="models add dex [NAME]: a DEX-style ONNX age model (1x3x224x224 BGR, 101 ages)")
    mo.add_argument("--logits", action="store_true", help="models add dex: the graph ends before its softmax")
    mo.set_defaults(func=cmd_models)

    sv = sub.add_parser("serve", help="the web app and REST API (pip install 'agegender[server]')")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--api-key", default=None, help="require this key on /v1/* (or AGEGENDER_API_KEY)")
    sv.add_argument("--certfile", default=None, help="serve HTTPS with this certificate")
    sv.add_argument("--keyfile", default=None, help="... and this private key")
    _add_model_options(sv)
    sv.set_defaults(func=cmd_serve)

    from .eval_cli import add_eval_parser

    add_eval_parser(sub, _add_model_options)
    from .train.cli import add_train_parser  # imports no torch: the command checks when it runs

    add_train_parser(sub, _add_model_options)
    from .batch_cli import add_batch_parser

    add_batch_parser(sub, _add_model_options, _model_kwargs)
    spread_global_options(sub.choices.values())  # -q, -v, --debug after the subcommand too
    return p


def main(argv: list[str] | None = None) -> int:
    from .errors import AgeGenderError, InputError, UnknownModelError

    parser = build_parser()
    a = parser.parse_args(argv)
    a.argv = list(sys.argv[1:] if argv is None else argv)  # how it was called (train cards)
    level = logging.INFO if a.verbose else logging.WARNING
    logging.basicConfig(
        level=logging.DEBUG if a.debug else (logging.ERROR if a.quiet else level),
        format="agegender: %(message)s" if not a.debug else "%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(a.func(a))
    except (UnknownModelError, InputError) as e:
        if a.debug:
            raise
        print(f"agegender: error: {e}", file=sys.stderr)
        return 2
    except AgeGenderError as e:
        if a.debug:
            raise
        print(f"agegender: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
