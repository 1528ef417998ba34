"""``agegender models``: list, pull, verify or add models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_models_parser(sub: Any) -> None:
    mo = sub.add_parser("models", help="list, pull, verify or add models")
    mo.add_argument("action", choices=["list", "pull", "verify", "add"])
    mo.add_argument("names", nargs="*", help="model names (pull), a card file, a folder of cards or levi-hassner (add)")
    mo.add_argument("--caffemodel", help="models add levi-hassner: the authors' .caffemodel")
    mo.add_argument("--task", choices=["age", "gender"], help="models add levi-hassner: its task")
    mo.add_argument("--onnx", help="models add dex [NAME]: a DEX-style ONNX age model (1x3x224x224 BGR, 101 ages)")
    mo.add_argument("--logits", action="store_true", help="models add dex: the graph ends before its softmax")
    mo.set_defaults(func=cmd_models)


def cmd_models(a: argparse.Namespace) -> int:
    from .. import models

    if a.action == "list":
        from ..models.profiles import PERMISSIVE_MODELS, PROFILES

        default = {PROFILES["accurate"].age_model, PROFILES["accurate"].gender_model}
        rows = [("NAME", "TASK", "AVAILABLE", "PROFILE", "LICENSE", "SOURCE")]
        for r in models.records():
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
        names = a.names or [r.name for r in models.records()]
        bad = 0
        for n in names:
            rec = models.get(n)
            try:
                paths = rec.paths(fetch=True)
                print(f"{n}: ok ({', '.join(str(p) for p in paths)})")
            except Exception as e:  # noqa: BLE001 - report each model and go on
                bad += 1
                print(f"{n}: FAILED: {e}", file=sys.stderr)
        return 1 if bad else 0
    if a.action == "verify":
        bad = 0
        for r in models.records():
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

    from ..errors import InputError
    from ..models.card import record_from_card
    from ..models.user import cards_dir
    from ..models.zoo import reload_user_cards

    if a.names and a.names[0] == "dex":
        from ..models.dex import add_dex

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
        from ..models.levi_hassner import add_levi_hassner

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
    reload_user_cards()  # usable at once in this process too
    print(f"added {rec.task} model {rec.name!r} from {path}; use it with --{rec.task}-model {rec.name}")
    return 0
