"""Per-age-band figures and perceived gender's risk-coverage, on a synthetic set whose
figures are worked out by hand in the comments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agegender.errors import InputError
from agegender.eval.bands import RISK_THRESHOLDS, band_table, risk_coverage
from agegender.eval.readers import Sample
from agegender.eval.render import summary_text, write_report
from agegender.eval.report import build_report


def hand_set() -> tuple[list[dict[str, Any]], list[Sample]]:
    """4 children (0-9), one face of 79.5 (70-79), 100 faces of 85 (80+).

    Children: ages 2, 5, 8, 9; predicted 3, 5, 10, 9 -> MAE (1+0+2+0)/4 = 0.75.
    Intervals [1,4] [6,7] [7,9] [9,9] hold 2, not 5, 8, 9 (inclusive) -> coverage 3/4.
    p_male 0.55 0.45 0.99 0.2 for male male female female: right, wrong, wrong, right.

    80+: predicted 85 (MAE 0); interval [80,90] for the first 50, [86,90] for the rest
    -> coverage 0.5. 60 faces p_male 0.95, 57 of them male (confidence 0.95, accuracy
    0.95); 40 faces p_male 0.3 (confidence 0.7), 20 female, 20 male (accuracy 0.5)
    -> gender accuracy 77/100, ECE = 0.6 * |0.95 - 0.95| + 0.4 * |0.5 - 0.7| = 0.08.
    """
    samples: list[Sample] = []
    preds: list[dict[str, Any]] = []

    def add(age: float, gender: str | None, years: float, low: float, high: float,
            p_male: float | None) -> None:
        samples.append(Sample(Path(f"{len(samples)}.jpg"), age=age, gender=gender))  # type: ignore[arg-type]
        preds.append({"found": True, "age_years": years, "age_low": low, "age_high": high,
                      "p_male": p_male, "seconds": 0.01})

    for age, years, lo, hi, p, g in [(2, 3, 1, 4, 0.55, "male"), (5, 5, 6, 7, 0.45, "male"),
                                     (8, 10, 7, 9, 0.99, "female"), (9, 9, 9, 9, 0.2, "female")]:
        add(age, g, years, lo, hi, p)
    add(79.5, None, 70, 60, 80, None)
    for i in range(100):
        lo = 80 if i < 50 else 86
        if i < 60:
            add(85, "male" if i < 57 else "female", 85, lo, 90, 0.95)
        else:
            add(85, "female" if i < 80 else "male", 85, lo, 90, 0.3)
    return preds, samples


@pytest.fixture()
def report() -> dict[str, Any]:
    preds, samples = hand_set()
    return build_report(preds, samples, meta={"model": "hand"}, gender_min_confidence=0.9)


def test_band_rows_by_hand(report: dict[str, Any]) -> None:
    rows = {r["band"]: r for r in report["age_bands"]["rows"]}
    assert list(rows) == ["0-9", "70-79", "80+"]  # bands present, in age order
    kids, old = rows["0-9"], rows["80+"]
    assert kids["count"] == 4 and kids["n_age"] == 4 and kids["n_interval"] == 4
    assert kids["mae"] == pytest.approx(0.75)
    assert kids["coverage"] == pytest.approx(0.75)
    assert kids["n_gender"] == 4 and kids["gender_accuracy"] == pytest.approx(0.5)
    assert kids["gender_ece"] is None and kids["gender_ece_too_few"] is True
    assert old["count"] == 100 and old["mae"] == pytest.approx(0.0)
    assert old["coverage"] == pytest.approx(0.5)
    assert old["gender_accuracy"] == pytest.approx(0.77)
    assert old["gender_ece"] == pytest.approx(0.08, abs=1e-6)
    assert old["gender_ece_too_few"] is False
    assert rows["70-79"]["n_gender"] == 0 and rows["70-79"]["gender_accuracy"] is None
    # --gender-min-confidence 0.9: children answered only for 0.99 (wrong); 80+: the 60
    assert kids["gender_answered"] == pytest.approx(0.25)
    assert kids["gender_accuracy_answered"] == pytest.approx(0.0)
    assert old["gender_answered"] == pytest.approx(0.6)
    assert old["gender_accuracy_answered"] == pytest.approx(0.95)


def test_overall_answered_beside_plain_accuracy(report: dict[str, Any]) -> None:
    g = report["gender"]
    assert g["accuracy"] == pytest.approx((2 + 77) / 104)
    assert g["min_confidence"] == 0.9
    assert g["n_answered"] == 61 and g["answered"] == pytest.approx(61 / 104)
    assert g["accuracy_answered"] == pytest.approx(57 / 61)


def test_risk_coverage_by_hand(report: dict[str, Any]) -> None:
    sec = report["gender_risk_coverage"]
    assert sec["thresholds"] == list(RISK_THRESHOLDS)
    every = {r["threshold"]: r for r in sec["rows"]["all"]}
    young = {r["threshold"]: r for r in sec["rows"]["0-9"]}
    # all 104: confidences 0.55 0.55 0.99 0.8 (children), 0.95 x60, 0.7 x40
    expect_all = {0.5: (104, 79), 0.6: (102, 78), 0.7: (102, 78), 0.8: (62, 58),
                  0.9: (61, 57), 0.95: (61, 57), 0.99: (1, 0)}
    for th, (n_ans, n_right) in expect_all.items():
        assert every[th]["n"] == 104 and every[th]["n_answered"] == n_ans, th
        assert every[th]["coverage"] == pytest.approx(n_ans / 104)
        assert every[th]["accuracy"] == pytest.approx(n_right / n_ans)
    expect_young = {0.5: (4, 2), 0.6: (2, 1), 0.8: (2, 1), 0.9: (1, 0), 0.99: (1, 0)}
    for th, (n_ans, n_right) in expect_young.items():
        assert young[th]["n_answered"] == n_ans, th
        assert young[th]["accuracy"] == pytest.approx(n_right / n_ans)


def test_risk_coverage_function() -> None:
    rows = risk_coverage([0.9, 0.6, 0.2, np.nan, 0.7], [1, 1, 1, 0, None], (0.5, 0.75, 1.0))
    # valid: 0.9 (right), 0.6 (right), 0.2 (wrong); 0.75: only 0.9 and 0.2 (conf 0.8)
    assert [r["n_answered"] for r in rows] == [3, 2, 0]
    assert rows[0]["accuracy"] == pytest.approx(2 / 3)
    assert rows[1]["accuracy"] == pytest.approx(0.5)
    assert np.isnan(rows[2]["accuracy"])
    with pytest.raises(InputError, match="0.5..1"):
        risk_coverage([0.9], [1], (0.4,))


def test_band_table_counts_and_boundary() -> None:
    rows = band_table(["70-79", "80+", None], pred_years=[75, 90, 1], true_age=[79.9, 80, 3],
                      low=[70, 70, 0], high=[80, 85, 5], p_male=[0.8, 0.1, 0.5],
                      true_is_male=[1, 0, 1], min_ece_count=1)
    assert [r["band"] for r in rows] == ["70-79", "80+"]
    assert rows[0]["mae"] == pytest.approx(4.9) and rows[1]["coverage"] == 1.0
    assert rows[0]["gender_ece"] == pytest.approx(0.2)  # one face, conf 0.8, right
    assert "gender_answered" not in rows[0]


def test_min_confidence_checked() -> None:
    preds, samples = hand_set()
    with pytest.raises(InputError, match="gender_min_confidence"):
        build_report(preds, samples, meta={}, gender_min_confidence=0.3)


def test_rendered(report: dict[str, Any], tmp_path: Path) -> None:
    text = summary_text(report)
    lines = text.splitlines()
    band_line = next(x for x in lines if x.strip().startswith("80+"))
    assert "0.080" in band_line and "50.0%" in band_line and "77.0%" in band_line
    assert "too few" in next(x for x in lines if x.strip().startswith("0-9"))
    assert any("all answered" in x and "59%" in x for x in lines)  # 61/104 at 0.9 and 0.95
    assert any("Gender accuracy on answered (p >= 0.9)" in x and "93.4%" in x for x in lines)
    pytest.importorskip("matplotlib")
    write_report(report, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "## By age band" in md and "## Gender risk-coverage" in md
    assert "| 80+ | 100 | 100 | 0.00 | 100 | 50.0% | 100 | 77.0% | 0.080 | 60.0% | 95.0% |" in md
    assert "| 0.8 | 59.6% (62) | 93.5% | 50.0% (2) | 50.0% |" in md
    assert (tmp_path / "by_age_band.png").stat().st_size > 1000
