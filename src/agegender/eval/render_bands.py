"""Rendering the per-age-band table and perceived gender's risk-coverage table of a report
(sections ``age_bands`` and ``gender_risk_coverage`` of
:func:`~agegender.eval.report.build_report`): summary lines, Markdown, and a plot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["band_lines", "band_markdown", "band_plot", "risk_lines", "risk_markdown"]


def _pct(x: Any, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * float(x):.{digits}f}%"


def _num(x: Any, digits: int = 2) -> str:
    return "n/a" if x is None else f"{float(x):.{digits}f}"


def _ece(row: Mapping[str, Any], min_count: int) -> str:
    if row.get("gender_ece_too_few"):
        return f"too few (n<{min_count})" if row["n_gender"] else "no labels"
    return _num(row.get("gender_ece"), 3)


def _min_confidence(report: Mapping[str, Any]) -> float | None:
    mc = (report.get("gender") or {}).get("min_confidence")
    return None if mc is None else float(mc)


# --------------------------------------------------------------------- summary text
def band_lines(report: Mapping[str, Any]) -> list[str]:
    """A compact per-band table for the command line's summary (empty without bands)."""
    sec = report.get("age_bands") or {}
    rows = sec.get("rows") or []
    if not rows:
        return []
    mc = _min_confidence(report)
    head = (f"    {'band':<6} {'n':>6} {'MAE':>6} {'80% int':>8} {'n gender':>8} {'gender':>7}"
            f" {'ECE':>7}")
    if mc is not None:
        head += f" {'answered':>8} {'acc.':>6}"
    lines = [f"  By true age band (gender ECE where n gender >= {sec['min_ece_count']}):", head]
    for r in rows:
        ece = "too few" if r.get("gender_ece_too_few") else _num(r.get("gender_ece"), 3)
        line = (f"    {r['band']:<6} {r['count']:>6} {_num(r['mae']):>6} {_pct(r['coverage']):>8}"
                f" {r['n_gender']:>8} {_pct(r['gender_accuracy']):>7} {ece:>7}")
        if mc is not None:
            line += (f" {_pct(r.get('gender_answered'), 0):>8}"
                     f" {_pct(r.get('gender_accuracy_answered')):>6}")
        lines.append(line)
    return lines


def risk_lines(report: Mapping[str, Any]) -> list[str]:
    """Risk-coverage as a few lines: share answered and accuracy per threshold."""
    sec = report.get("gender_risk_coverage") or {}
    if not sec:
        return []
    lines = ["  Gender risk-coverage (a face is answered when max(p, 1-p) >= P):",
             "    " + f"{'P':<14}" + "".join(f"{t:>7.2f}" for t in sec["thresholds"])]
    for name, rows in sec["rows"].items():
        n = rows[0]["n"] if rows else 0
        share = "".join(f"{_pct(r['coverage'], 0):>7}" for r in rows)
        acc = "".join(f"{_pct(r['accuracy']):>7}" for r in rows)
        lines.append(f"    {name + ' answered':<14}{share}  (n={n})")
        lines.append(f"    {name + ' accuracy':<14}{acc}")
    return lines


# --------------------------------------------------------------------- Markdown
def band_markdown(report: Mapping[str, Any], table: Any) -> list[str]:
    """The ``## By age band`` section; ``table(header, rows)`` makes a Markdown table."""
    sec = report.get("age_bands") or {}
    rows = sec.get("rows") or []
    if not rows:
        return []
    mc = _min_confidence(report)
    header = ["true age", "n", "n (age)", "MAE", "n (interval)", "80% interval coverage",
              "n (gender)", "gender accuracy", f"gender ECE ({sec['ece_bins']} bins)"]
    if mc is not None:
        header += [f"answered (p >= {mc:g})", "accuracy on answered"]
    body = []
    for r in rows:
        row = [r["band"], r["count"], r["n_age"], _num(r["mae"]), r["n_interval"],
               _pct(r["coverage"]), r["n_gender"], _pct(r["gender_accuracy"]),
               _ece(r, sec["min_ece_count"])]
        if mc is not None:
            row += [_pct(r.get("gender_answered")), _pct(r.get("gender_accuracy_answered"))]
        body.append(row)
    return [
        "## By age band", "",
        "Bands of the true age. Coverage: share of true ages inside the predicted 80% "
        "interval (age_low..age_high; nominal 80%). Gender ECE only where a band has at least "
        f"{sec['min_ece_count']} faces with a gender label.", "",
        *table(header, body),
    ]


def risk_markdown(report: Mapping[str, Any], table: Any) -> list[str]:
    """The ``## Gender risk-coverage`` section."""
    sec = report.get("gender_risk_coverage") or {}
    if not sec:
        return []
    names = list(sec["rows"])
    header = ["min. confidence P"]
    for name in names:
        n = sec["rows"][name][0]["n"] if sec["rows"][name] else 0
        header += [f"answered ({name}, n={n})", f"accuracy ({name})"]
    body = []
    for i, t in enumerate(sec["thresholds"]):
        row: list[Any] = [f"{t:g}"]
        for name in names:
            r = sec["rows"][name][i]
            row += [f"{_pct(r['coverage'])} ({r['n_answered']})", _pct(r["accuracy"])]
        body.append(row)
    return [
        "## Gender risk-coverage", "",
        "A face is answered at P when the probability of its more likely perceived gender, "
        "max(p, 1-p), is at least P (what `--gender-min-confidence P` does); accuracy is over "
        "the answered faces.", "",
        *table(header, body),
    ]


# --------------------------------------------------------------------- plot
def band_plot(report: Mapping[str, Any]) -> Any:
    """A matplotlib Figure: interval coverage and gender accuracy per age band, or None."""
    from matplotlib.figure import Figure

    rows = (report.get("age_bands") or {}).get("rows") or []
    if not rows:
        return None
    names = [r["band"] for r in rows]
    x = list(range(len(rows)))
    fig = Figure(figsize=(max(6, 0.8 * len(rows) + 2), 6))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    cov = [float("nan") if r["coverage"] is None else r["coverage"] for r in rows]
    ax1.axhspan(0.75, 0.85, color="tab:green", alpha=0.15, label="75-85%")
    ax1.axhline(0.8, color="gray", ls="--", lw=1, label="nominal 80%")
    ax1.bar(x, cov, color="tab:blue")
    for i, r in enumerate(rows):
        ax1.annotate(f"n={r['n_interval']}", (i, 0.02), ha="center", fontsize=7, color="white")
    ax1.set_ylim(0, 1.25)
    ax1.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax1.set_ylabel("80% interval coverage")
    ax1.legend(loc="upper right", ncol=2, fontsize=7)
    acc = [float("nan") if r["gender_accuracy"] is None else r["gender_accuracy"] for r in rows]
    ax2.bar(x, acc, color="tab:purple")
    for i, r in enumerate(rows):
        ece = "" if r.get("gender_ece") is None else f"ECE {r['gender_ece']:.3f}\n"
        ax2.annotate(f"{ece}n={r['n_gender']}", (i, 0.02), ha="center", fontsize=7, color="white")
    ax2.set_ylim(0, 1.02)
    ax2.set_ylabel("gender accuracy")
    ax2.set_xticks(x, names)
    ax2.set_xlabel("true age band")
    fig.suptitle("By age band: interval coverage and perceived-gender accuracy")
    return fig
