"""build_report on synthetic predictions, checked against direct computations; write_report."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agegender.ages import (
    ADIENCE_LABELS,
    age_quantiles,
    expected_age,
    gaussian_distribution,
    nearest_group,
)
from agegender.errors import InputError
from agegender.eval import metrics as M
from agegender.eval.readers import Sample
from agegender.eval.render import summary_text, write_report
from agegender.eval.report import PLOT_FILES, build_report

N = 120


def synthetic() -> tuple[list[dict[str, Any]], list[Sample]]:
    """120 faces with exact ages, genders and two groups; some not found, some without p_male.

    Even samples carry ``age_years`` (and an explicit interval); odd samples carry only
    ``age_dist``, from which the report must derive years, interval and group.
    """
    rng = np.random.default_rng(7)
    samples: list[Sample] = []
    preds: list[dict[str, Any]] = []
    for i in range(N):
        age = float(rng.integers(1, 90))
        gender = None if i % 17 == 0 else ("male" if i % 2 else "female")
        samples.append(Sample(Path(f"{i}.jpg"), age=age, gender=gender,  # type: ignore[arg-type]
                              group="a" if i % 3 else "b", line=i + 2))
        guess = float(np.clip(age + rng.normal(0, 7), 0, 100))
        dist = gaussian_distribution(np.array([guess]), 5.0)[0]
        p_male = None if i % 11 == 0 else float(rng.uniform(0, 1))
        pred: dict[str, Any] = {
            "found": i % 13 != 5,
            "age_dist": dist,
            "p_male": p_male,
            "seconds": 0.05,
        }
        if i % 2 == 0:
            pred.update(age_years=guess, age_low=guess - 6, age_high=guess + 6)
            pred["age_dist"] = None if i % 4 == 0 else dist
        preds.append(pred)
    return preds, samples


def direct(preds: list[dict[str, Any]], samples: list[Sample]) -> dict[str, Any]:
    """The report's figures computed directly, face by face."""
    years, low, high, pg, p_male = [], [], [], [], []
    for p in preds:
        dist = None if p["age_dist"] is None else np.asarray(p["age_dist"])[None]
        if not p["found"]:
            years.append(np.nan), low.append(np.nan), high.append(np.nan)
            pg.append(-1), p_male.append(np.nan)
            continue
        y = p["age_years"] if p.get("age_years") is not None else float(expected_age(dist)[0])
        years.append(y)
        if p.get("age_low") is not None:
            low.append(p["age_low"]), high.append(p["age_high"])
        else:
            low.append(float(age_quantiles(dist, 0.1)[0]))
            high.append(float(age_quantiles(dist, 0.9)[0]))
        # the group the pipeline reports: nearest to the years (as the CLI)
        pg.append(int(p["age_group"]) if p.get("age_group") is not None else int(nearest_group(y)[0]))
        p_male.append(np.nan if p["p_male"] is None else p["p_male"])
    y, lo, hi = np.array(years), np.array(low), np.array(high)
    pm, pgi = np.array(p_male), np.array(pg)
    age = np.array([s.age for s in samples])
    male = np.array([np.nan if s.gender is None else float(s.gender == "male") for s in samples])
    ok = np.isfinite(y)
    err = np.abs(y[ok] - age[ok])
    tg = nearest_group(age)
    okg = ok & (pgi >= 0)
    okm = np.isfinite(pm) & np.isfinite(male)
    return {
        "mae": float(err.mean()),
        "cs5": float((err <= 5).mean()),
        "exact": float((pgi[okg] == tg[okg]).mean()),
        "one_off": float((np.abs(pgi[okg] - tg[okg]) <= 1).mean()),
        "gender": float(((pm[okm] >= 0.5) == (male[okm] == 1)).mean()),
        "coverage": float(((age[ok] >= lo[ok]) & (age[ok] <= hi[ok])).mean()),
        "years": y, "pm": pm, "male": male, "pg": pgi, "tg": tg,
    }


@pytest.fixture()
def report() -> dict[str, Any]:
    preds, samples = synthetic()
    return build_report(preds, samples, meta={"model": "fake", "dataset": "synthetic"},
                        min_group_count=10)


def test_report_keys_and_json(report: dict[str, Any]) -> None:
    for key in ("meta", "n_samples", "detection", "age", "adience", "gender", "interval",
                "breakdown", "speed", "skipped", "notes"):
        assert key in report, key
    assert "range" not in report and "range" in report["skipped"]  # no range labels
    json.dumps(report, allow_nan=False)  # plain JSON: no numpy types, no NaN

    def walk(x: Any) -> None:
        assert x is None or isinstance(x, (dict, list, str, int, float, bool)), type(x)
        for v in x.values() if isinstance(x, dict) else x if isinstance(x, list) else []:
            walk(v)

    walk(report)
    assert any("nearest Adience group" in n and "younger" in n for n in report["notes"])
    assert report["meta"] == {"model": "fake", "dataset": "synthetic"}


def test_report_figures_equal_direct_computation(report: dict[str, Any]) -> None:
    preds, samples = synthetic()
    d = direct(preds, samples)
    n_found = sum(p["found"] for p in preds)
    assert report["detection"] == {"n": N, "found": n_found, "rate": pytest.approx(n_found / N)}
    assert report["age"]["n"] == n_found
    assert report["age"]["mae"] == pytest.approx(d["mae"], rel=1e-6)
    assert report["age"]["cs5"] == pytest.approx(d["cs5"])
    assert report["adience"]["exact"] == pytest.approx(d["exact"])
    assert report["adience"]["one_off"] == pytest.approx(d["one_off"])
    assert report["adience"]["labels"] == list(ADIENCE_LABELS)
    cm = np.zeros((8, 8), int)
    for t, p in zip(d["tg"], d["pg"]):
        if p >= 0:
            cm[t, p] += 1
    assert report["adience"]["confusion_matrix"] == cm.tolist()
    assert report["gender"]["accuracy"] == pytest.approx(d["gender"])
    assert report["gender"]["ece"] == pytest.approx(
        M.expected_calibration_error(d["pm"], d["male"]))
    assert sum(b["count"] for b in report["gender"]["reliability"]) == report["gender"]["n"]
    assert report["interval"]["coverage"] == pytest.approx(d["coverage"], rel=1e-6)
    assert report["interval"]["nominal"] == pytest.approx(0.8)
    assert report["speed"]["faces_per_second"] == pytest.approx(20.0)


def test_report_breakdown(report: dict[str, Any]) -> None:
    preds, samples = synthetic()
    d = direct(preds, samples)
    bd = report["breakdown"]
    assert set(bd) == {"age_band", "gender", "group", "age_band x gender x group"}
    groups = {g["name"]: g for g in bd["group"]["groups"]}
    for name in ("a", "b"):
        sel = np.array([s.group == name for s in samples]) & np.isfinite(d["years"])
        ages = np.array([s.age for s in samples])
        assert groups[name]["mae"] == pytest.approx(
            float(np.abs(d["years"][sel] - ages[sel]).mean()), rel=1e-6)
    g = bd["group"]
    assert g["mae_spread"] == pytest.approx(abs(groups["a"]["mae"] - groups["b"]["mae"]))
    assert g["worst_mae"]["name"] == max(groups, key=lambda k: groups[k]["mae"])
    assert sum(x["count"] for x in bd["age_band"]["groups"]) == N


def test_report_with_range_labels_only() -> None:
    samples = [Sample(Path("a"), age_range=(25, 32), gender="male"),
               Sample(Path("b"), age_range=(20, 29), gender="female"),
               Sample(Path("c"), age_range=(60, 100))]
    preds = [{"found": True, "age_years": 24.6, "p_male": 0.8, "seconds": 0.1},
             {"found": True, "age_years": 30.0, "p_male": 0.9, "seconds": 0.1},
             {"found": True, "age_years": 55.0, "p_male": None, "seconds": 0.1}]
    r = build_report(preds, samples, meta={})
    assert "age" not in r and "interval" not in r and "age" in r["skipped"]
    assert r["range"]["accuracy"] == pytest.approx(1 / 3)  # 24.6 -> 25 in; 30 out; 55 out
    # only exact Adience ranges count: (25, 32) and (60, 100)
    assert r["adience"]["n"] == 2 and r["adience"]["n_from_ranges"] == 2
    assert r["adience"]["exact"] == pytest.approx(0.5)  # 24.6 -> 25-32 right; 55 -> 48-53
    assert r["adience"]["one_off"] == pytest.approx(1.0)
    assert r["gender"]["accuracy"] == pytest.approx(0.5)
    json.dumps(r, allow_nan=False)


def test_report_empty_and_invalid() -> None:
    r = build_report([], [], meta={})
    assert r["detection"]["rate"] is None
    assert set(r["skipped"]) >= {"age", "adience", "gender", "speed"}
    assert "Evaluation" in summary_text(r)
    with pytest.raises(InputError, match="predictions"):
        build_report([{"found": False}], [], meta={})
    with pytest.raises(InputError, match="bins"):
        build_report([{"found": True, "age_dist": np.ones(5)}], [Sample(Path("x"), age=3)],
                     meta={})


def test_summary_text(report: dict[str, Any]) -> None:
    text = summary_text(report)
    assert "fake / synthetic" in text
    assert f"{report['age']['mae']:.2f}" in text
    assert "nearest Adience group" in text
    assert len(text.splitlines()) <= 40  # one screen, with the per-band and risk tables


def test_write_report_files(report: dict[str, Any], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "out" / "eval"
    written = write_report(report, out)
    assert set(written) == {"report.json", "report.md", *PLOT_FILES}
    assert json.loads((out / "report.json").read_text()) == report
    md = (out / "report.md").read_text()
    assert "## Summary" in md and "| Age MAE (years) |" in md and "younger" in md
    for name in PLOT_FILES:
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
        assert f"]({name})" in md


def test_write_report_placeholder_plots(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    r = build_report([{"found": True, "p_male": 0.7, "seconds": 0.1}],
                     [Sample(Path("x"), gender="male")], meta={})
    written = write_report(r, tmp_path)
    assert all((tmp_path / name).is_file() for name in PLOT_FILES)
    assert set(written) == {"report.json", "report.md", *PLOT_FILES}


def test_write_report_without_matplotlib(report: dict[str, Any], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for mod in list(sys.modules):
        if mod == "matplotlib" or mod.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    written = write_report(report, tmp_path)
    assert set(written) == {"report.json", "report.md"}
    assert not any((tmp_path / name).exists() for name in PLOT_FILES)
    assert not math.isnan(json.loads((tmp_path / "report.json").read_text())["age"]["mae"])
