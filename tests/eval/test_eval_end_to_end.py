"""`agegender eval` on 100 shared faces: the report's figures agree with a direct computation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from agegender import Analyzer
from agegender.cli import main
from agegender.eval.readers import read_utkface


def _direct(utkface: Path, n: int, crops: bool) -> tuple[float, float]:
    """MAE and gender accuracy computed here, without the eval package's runner or metrics."""
    samples = read_utkface(utkface, split="test").samples
    idx = np.linspace(0, len(samples) - 1, n).round().astype(int)
    an = Analyzer()
    err, ok = [], []
    for i in idx:
        s = samples[i]
        img = np.asarray(Image.open(s.path).convert("RGB"))
        f = an.analyze_crops([img]) if crops else an.analyze_arrays([img])[0]
        if len(f) == 0:
            continue
        area = (f.boxes[:, 2] - f.boxes[:, 0]) * (f.boxes[:, 3] - f.boxes[:, 1])
        j = int(np.argmax(area)) if not crops else 0
        err.append(abs(float(f.age_years[j]) - s.age))
        if s.gender is not None:
            ok.append((f.gender_p[j] >= 0.5) == (s.gender == "male"))
    return float(np.mean(err)), float(np.mean(ok))


def test_eval_report_matches_direct_computation(utkface, tmp_path: Path, capsys):
    for crops in (False, True):
        out = tmp_path / ("crops" if crops else "pipeline")
        args = ["-q", "eval", str(utkface), "--split", "test", "--limit", "100", "--report", str(out)]
        assert main(args + (["--crops"] if crops else [])) == 0
        summary = capsys.readouterr().out
        assert "Age MAE" in summary and "Gender accuracy" in summary
        report = json.loads((out / "report.json").read_text())
        for key in ("meta", "detection", "age", "adience", "gender", "interval", "breakdown", "speed", "notes"):
            assert key in report, key
        for png in ("confusion_matrix.png", "mae_by_age.png", "reliability.png", "mae_by_group.png"):
            assert (out / png).stat().st_size > 1000
        assert (out / "report.md").read_text().startswith("#")
        assert report["meta"]["mode"] == ("crops" if crops else "pipeline")
        mae, acc = _direct(utkface, 100, crops)
        assert abs(report["age"]["mae"] - mae) < 1e-4
        assert abs(report["gender"]["accuracy"] - acc) < 1e-9
        assert any("nearest" in n and "younger" in n for n in report["notes"])


def test_eval_gender_min_confidence(utkface, tmp_path: Path, capsys):
    out = tmp_path / "strict"
    args = ["-q", "eval", str(utkface), "--split", "test", "--limit", "24", "--crops",
            "--gender-min-confidence", "0.9", "--report", str(out)]
    assert main(args) == 0
    summary = capsys.readouterr().out
    assert "Gender accuracy on answered (p >= 0.9)" in summary and "risk-coverage" in summary
    report = json.loads((out / "report.json").read_text())
    g = report["gender"]
    assert report["meta"]["gender_min_confidence"] == 0.9 and g["min_confidence"] == 0.9
    at_09 = next(r for r in report["gender_risk_coverage"]["rows"]["all"] if r["threshold"] == 0.9)
    assert (g["n_answered"], g["answered"], g["accuracy_answered"]) == (
        at_09["n_answered"], at_09["coverage"], at_09["accuracy"])
    assert 0 < g["n_answered"] <= g["n"]
    bands = report["age_bands"]["rows"]
    assert sum(r["n_gender"] for r in bands) == g["n"]
    assert sum(round(r["gender_answered"] * r["n_gender"]) for r in bands) == g["n_answered"]
