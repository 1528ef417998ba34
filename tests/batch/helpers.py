"""Shared pieces of the batch tests: input folders, `agegender analyze` as the reference,
comparison of rows, and analyzer factories that crash workers on purpose."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import utk_sample


def make_inputs(utkface: Path, dest: Path, n: int, corrupt: bool = True) -> list[Path]:
    """n UTKFace faces (copies, spread over the test split) and 3 corrupt files in dest."""
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for r in utk_sample(utkface, n):
        src = utkface / r["path"]
        p = dest / src.name
        p.write_bytes(src.read_bytes())
        paths.append(p)
    if corrupt:
        good = paths[0].read_bytes()
        (dest / "zz-truncated.jpg").write_bytes(good[: len(good) // 3])
        (dest / "zz-not-an-image.jpg").write_bytes(b"this is not a JPEG at all" * 10)
        (dest / "zz-empty.png").write_bytes(b"")
        paths += [dest / "zz-truncated.jpg", dest / "zz-not-an-image.jpg", dest / "zz-empty.png"]
    return paths


def run_cli(*args: str, timeout: float = 600, **kw: Any) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agegender", *args], capture_output=True, timeout=timeout,
        env=dict(os.environ), **kw,
    )


def analyze_reference(folder: Path) -> dict[str, dict[str, Any]]:
    """`agegender analyze FOLDER`: source -> its JSON object."""
    r = run_cli("analyze", str(folder))
    assert r.returncode in (0, 1), r.stderr.decode()
    objs = [json.loads(x) for x in r.stdout.decode().splitlines()]
    return {o["source"]: o for o in objs}


def read_rows(out: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    parts = sorted(out.glob("part-*.parquet"))
    assert parts, f"no part files in {out}"
    rows: list[dict[str, Any]] = []
    for p in parts:
        rows.extend(pq.read_table(p).to_pylist())
    return rows


def by_source(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["source"], []).append(r)
    return out


def assert_each_once(rows: dict[str, list[dict[str, Any]]]) -> None:
    """Each input's rows are one null-face row, or faces 0..n-1 each once (no duplicate)."""
    for src, rs in rows.items():
        faces = sorted(-1 if r["face"] is None else r["face"] for r in rs)
        assert faces == [-1] or faces == list(range(len(rs))), (src, faces)


def close(a: float | None, b: float | None, tol: float = 1e-4) -> bool:
    return a is not None and b is not None and abs(a - b) <= tol


def assert_same_as_analyze(rows: list[dict[str, Any]], ref: dict[str, dict[str, Any]]) -> None:
    """Every input of ref has exactly its rows: one per face (same boxes, estimates within
    1e-4), one null-face row when no face, one error row (same type) when it failed."""
    got = by_source(rows)
    assert set(got) == set(ref), (set(got) ^ set(ref))
    for src, obj in ref.items():
        rs = sorted(got[src], key=lambda r: -1 if r["face"] is None else r["face"])
        if obj["error"]:
            assert len(rs) == 1 and rs[0]["error_type"] == obj["error"]["type"], (src, rs)
            assert rs[0]["face"] is None
            continue
        assert all(r["error_type"] is None for r in rs), rs
        assert rs[0]["width"] == obj["width"] and rs[0]["height"] == obj["height"]
        if not obj["faces"]:
            assert len(rs) == 1 and rs[0]["face"] is None, (src, rs)
            continue
        assert [r["face"] for r in rs] == list(range(len(obj["faces"]))), (src, rs)
        for r, f in zip(rs, obj["faces"]):
            assert all(close(a, b) for a, b in zip(r["box"], f["box"])), (src, r, f)
            assert close(r["score"], f["score"])
            if f["landmarks"] is None:
                assert r["landmarks"] is None
            else:
                flat = [v for pt in f["landmarks"] for v in pt]
                assert all(close(a, b) for a, b in zip(r["landmarks"], flat)), (src, r, f)
            assert close(r["age_years"], f["age"]["years"]) and close(r["age_low"], f["age"]["low"])
            assert close(r["age_high"], f["age"]["high"]) and r["age_group"] == f["age"]["group"]
            assert r["gender"] == f["gender"]["label"]
            assert close(r["gender_probability"], f["gender"]["probability"])


def crashing_analyzer(marker_dir: str, model_kwargs: dict[str, Any]) -> Any:
    """An Analyzer whose worker process dies (os._exit) on inputs named ``poison*`` every
    time, and on ``crash-once*`` the first time only (a marker file remembers it)."""
    from agegender.analyzer import Analyzer

    real = Analyzer(**model_kwargs)

    class Crashing:
        def __getattr__(self, name: str) -> Any:  # describe, load, gender_min_confidence, ...
            return getattr(real, name)

        def analyze_arrays(self, images: Any) -> Any:
            return real.analyze_arrays(images)

        def analyze_many(self, sources: Any, **kw: Any) -> Any:
            sources = list(sources)
            for s in sources:
                name = Path(s.name).name
                if name.startswith("poison"):
                    os._exit(3)
                marker = Path(marker_dir) / f"{name}.crashed"
                if name.startswith("crash-once") and not marker.exists():
                    marker.write_text("1")
                    os._exit(4)
            return real.analyze_many(sources, **kw)

    return Crashing()
