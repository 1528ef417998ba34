"""``agegender models``: list, pull, verify or add models."""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

#: Columns the table cuts (with an ellipsis) to fit the terminal: LICENSE, SOURCE.
_SHRINKABLE = (4, 5)
#: Width used when stdout is no terminal and COLUMNS is unset.
_DEFAULT_WIDTH = 120


def add_models_parser(sub: Any) -> None:
    mo = sub.add_parser("models", help="list, show, pull, verify or add models")
    mo.add_argument("action", choices=["list", "show", "pull", "verify", "add"])
    mo.add_argument("names", nargs="*", help="model names (show, pull), a card file, a folder of "
                    "cards or levi-hassner (add)")
    mo.add_argument("--json", action="store_true",
                    help="list, show: JSON with every field in full (the table cuts long text "
                    "to the terminal's width)")
    mo.add_argument("--caffemodel", help="models add levi-hassner: the authors' .caffemodel")
    mo.add_argument("--task", choices=["age", "gender"], help="models add levi-hassner: its task")
    mo.add_argument("--onnx", help="models add dex [NAME]: a DEX-style ONNX age model (1x3x224x224 BGR, 101 ages)")
    mo.add_argument("--logits", action="store_true", help="models add dex: the graph ends before its softmax")
    mo.set_defaults(func=cmd_models)


def cmd_models(a: argparse.Namespace) -> int:
    from .. import models

    if a.action == "list":
        return print_list(as_json=a.json)
    if a.action == "show":
        return show(a.names, as_json=a.json)
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
                if r.ready is not None:  # weights the user adds (Levi & Hassner): say how
                    r.ready(r)
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
    print(f"added {rec.task} model {rec.name!r} from {path}; use it with {_flags_for(rec)}")
    return 0


def _flags_for(rec: Any) -> str:
    """The command-line options that run a model record (a multi model: both tasks)."""
    if rec.task == "multi":
        return f"--age-model {rec.name} --gender-model {rec.name} (one network, run once for both)"
    return f"--{rec.task}-model {rec.name}"


# ---------------------------------------------------------------- list and show
def _profiles_of(name: str, defaults: dict[str, set[str]]) -> list[str]:
    """The profiles that may run ``name`` as marked in the table: ``permissive`` for
    commercially usable models; ``NAME*`` where it is that profile's default."""
    from ..models.profiles import PERMISSIVE_MODELS

    marks = [f"{p}*" for p, names in defaults.items() if name in names]
    if name in PERMISSIVE_MODELS and "permissive*" not in marks:
        marks.append("permissive")
    return marks


def _profile_defaults() -> dict[str, set[str]]:
    """Per profile, the names its default models go by (``faceres-age`` is an output of
    the record ``faceres``: both count); ``auto`` is every profile's detector."""
    from .. import models
    from ..models.profiles import PROFILES

    out: dict[str, set[str]] = {}
    for name, prof in PROFILES.items():
        names = {prof.age_model, prof.gender_model, "auto"}
        for n in (prof.age_model, prof.gender_model):
            with contextlib.suppress(Exception):  # a name the registry lacks marks nothing
                names.add(models.get(n).name)
        out[name] = names
    return out


def _entries() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(models, detectors) as dicts with every field in full."""
    from .. import models
    from ..detect import AUTO_ORDER, DETECTORS

    defaults = _profile_defaults()
    recs = [{
        "name": r.name, "task": r.task, "tasks": list(r.tasks), "available": r.available(),
        "profiles": _profiles_of(r.name, defaults), "license": r.license, "source": r.source,
        "description": r.description, "origin": r.origin,
        "files": [{"filename": f.filename, "sha256": f.sha256, "source": f.source}
                  for f in r.files],
    } for r in models.records()]
    dets = [{
        "name": "auto", "available": any(d.available() for d in DETECTORS if d.name in AUTO_ORDER),
        "profiles": _profiles_of("auto", defaults), "comes_from": "",
        "summary": f"the first present of {', '.join(AUTO_ORDER)}", "needs": [], "aliases": [],
    }] + [{
        "name": d.name, "available": d.available(), "profiles": _profiles_of(d.name, defaults),
        "comes_from": d.comes_from, "summary": d.summary, "needs": list(d.needs),
        "aliases": list(d.aliases),
    } for d in DETECTORS]
    return recs, dets


def fit_table(rows: list[tuple[str, ...]], width: int, shrink: tuple[int, ...]) -> list[str]:
    """Rows as aligned text no wider than ``width``: the ``shrink`` columns are cut (ending
    in an ellipsis), the widest first, down to 8 characters; the others keep their width."""
    n = len(rows[0])
    widths = [max(len(r[i]) for r in rows) for i in range(n)]
    excess = sum(widths) + 2 * (n - 1) - width
    while excess > 0:  # narrow the widest shrinkable column, one character at a time
        i = max(shrink, key=lambda j: widths[j])
        if widths[i] <= 8:
            break
        widths[i] -= 1
        excess -= 1
    lines = []
    for r in rows:
        cells = [c if len(c) <= w else c[: w - 1] + "\u2026" for c, w in zip(r, widths)]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
    return lines


def print_list(*, as_json: bool = False) -> int:
    """``models list``: every model, then every detector, fitted to the terminal."""
    recs, dets = _entries()
    if as_json:
        print(json.dumps({"models": recs, "detectors": dets}, indent=2, ensure_ascii=False))
        return 0
    width = shutil.get_terminal_size((_DEFAULT_WIDTH, 24)).columns
    yes = {True: "yes", False: "no"}
    rows = [("NAME", "TASK", "AVAILABLE", "PROFILE", "LICENSE", "SOURCE")] + [
        (r["name"], r["task"], yes[r["available"]], ",".join(r["profiles"]) or "-",
         r["license"], r["source"]) for r in recs]
    print("\n".join(fit_table(rows, width, _SHRINKABLE)))
    rows = [("DETECTOR", "FILES", "AVAILABLE", "PROFILE", "WHAT")] + [
        (d["name"], d["comes_from"] or "-", yes[d["available"]], ",".join(d["profiles"]) or "-",
         d["summary"]) for d in dets]
    print("\n".join(fit_table(rows, width, (4,))))
    print(textwrap.fill(
        "PROFILE: * the profile's default. accurate (the default profile) may run every "
        "model, for research and non-commercial use only; --profile permissive (or "
        "AGEGENDER_PROFILE=permissive) keeps to the models marked permissive. Full text: "
        "agegender models show NAME, or models list --json", width=max(width - 1, 40)))
    return 0


def show(names: list[str], *, as_json: bool = False) -> int:
    """``models show NAME...``: every field of each model or detector, in full."""
    from ..errors import InputError, UnknownModelError
    from ..models.zoo import canonical_name

    if not names:
        raise InputError("models show needs a model or detector name (see agegender models list)")
    recs, dets = _entries()
    by_name = {e["name"]: e for e in (*dets, *recs)}
    found = []
    for n in names:
        entry = by_name.get(n) or by_name.get(canonical_name(n))
        if entry is None:
            from .. import models

            try:
                entry = by_name.get(models.get(n).name)
            except UnknownModelError:
                entry = None
        if entry is None:
            raise UnknownModelError(f"no model or detector named {n!r} (see agegender models list)")
        found.append(entry)
    if as_json:
        print(json.dumps(found if len(found) > 1 else found[0], indent=2, ensure_ascii=False))
        return 0
    for i, e in enumerate(found):
        if i:
            print()
        for k, v in e.items():
            if k == "files":
                for f in v:
                    print(f"file: {f['filename']}  sha256 {f['sha256']}  from {f['source']}")
            else:
                text = ", ".join(v) if isinstance(v, list) else str(v)
                print(f"{k}: {text if text else '-'}")
    return 0
