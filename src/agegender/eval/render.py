"""Rendering a report from :func:`~agegender.eval.report.build_report`: a one-screen
summary for the command line, ``report.json``, ``report.md`` and PNG plots (matplotlib's
Agg canvas, imported only when plots are written).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .render_bands import band_lines, band_markdown, band_plot, risk_lines, risk_markdown
from .report import ADIENCE_NOTE, CROSS_KEY, _jsonable

log = logging.getLogger(__name__)

__all__ = ["summary_text", "write_report"]


# --------------------------------------------------------------------- text
def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * float(x):.1f}%"


def _num(x: Any, digits: int = 2) -> str:
    return "n/a" if x is None else f"{float(x):.{digits}f}"


def _title(report: Mapping[str, Any]) -> str:
    meta = report.get("meta") or {}
    parts = [str(meta[k]) for k in ("model", "dataset", "split") if meta.get(k) not in (None, "")]
    return " / ".join(parts)


def _summary_rows(report: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(metric, value, n) rows shared by the Markdown report and the CLI summary."""
    rows: list[tuple[str, str, str]] = []
    det = report.get("detection") or {}
    if det:
        rows.append(("Detection rate", _pct(det.get("rate")), f"{det.get('found')}/{det.get('n')}"))
    if age := report.get("age"):
        rows.append(("Age MAE (years)", _num(age["mae"]), str(age["n"])))
        rows.append(("Age CS@5", _pct(age["cs5"]), str(age["n"])))
    if ad := report.get("adience"):
        rows.append(("Adience 8-group exact *", _pct(ad["exact"]), str(ad["n"])))
        rows.append(("Adience 8-group one-off *", _pct(ad["one_off"]), str(ad["n"])))
    if rng := report.get("range"):
        rows.append(("Range accuracy", _pct(rng["accuracy"]), str(rng["n"])))
    if ab := report.get("age_bins"):
        k = len(ab["labels"])
        rows.append((f"Age {k}-bin exact", _pct(ab["exact"]), str(ab["n"])))
        rows.append((f"Age {k}-bin one-off", _pct(ab["one_off"]), str(ab["n"])))
    if g := report.get("gender"):
        rows.append(("Gender accuracy", _pct(g["accuracy"]), str(g["n"])))
        rows.append((f"Gender ECE ({g['bins']} bins)", _num(g["ece"], 3), str(g["n"])))
        if g.get("min_confidence") is not None:
            mc = f"{g['min_confidence']:g}"
            rows.append((f"Gender answered (p >= {mc})", _pct(g["answered"]), str(g["n"])))
            rows.append((f"Gender accuracy on answered (p >= {mc})",
                         _pct(g["accuracy_answered"]), str(g["n_answered"])))
    if iv := report.get("interval"):
        rows.append((
            f"Age interval coverage (nominal {_pct(iv['nominal'])})",
            _pct(iv["coverage"]), str(iv["n"]),
        ))
    if sp := report.get("speed"):
        rows.append(("Speed (faces/s)", _num(sp["faces_per_second"], 1), str(sp["n"])))
    return rows


def summary_text(report: Mapping[str, Any]) -> str:
    """A one-screen plain-text summary of a report from :func:`build_report`."""
    title = _title(report)
    lines = [f"Evaluation{': ' + title if title else ''} ({report.get('n_samples', 0)} samples)"]
    rows = _summary_rows(report)
    width = max((len(r[0]) for r in rows), default=0)
    for name, value, n in rows:
        lines.append(f"  {name:<{width}}  {value:>8}  (n={n})")
    bd = (report.get("breakdown") or {})
    for key in (CROSS_KEY, "group", "age_band"):
        b = bd.get(key)
        if not b:
            continue
        if b.get("worst_mae"):
            w = b["worst_mae"]
            lines.append(
                f"  Worst MAE by {key}: {w['name']} {_num(w['mae'])} (n={w['n_age']}); "
                f"spread {_num(b['mae_spread'])} over {b['n_ranked_mae']} groups "
                f"with n>={b['min_count']}"
            )
        if b.get("worst_gender_accuracy"):
            w = b["worst_gender_accuracy"]
            lines.append(
                f"  Worst gender accuracy by {key}: {w['name']} {_pct(w['gender_accuracy'])} "
                f"(n={w['n_gender']}); spread {_pct(b['gender_accuracy_spread'])}"
            )
        break
    lines += band_lines(report) + risk_lines(report)
    if report.get("adience"):
        lines.append("  * exact ages mapped to the nearest Adience group, ties to the younger")
    for name, why in (report.get("skipped") or {}).items():
        lines.append(f"  skipped {name}: {why}")
    return "\n".join(lines)


def _md_cell(x: Any) -> str:
    s = x if isinstance(x, str) else json.dumps(x, default=str)
    return s.replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return out + [""]


def _markdown(report: Mapping[str, Any], plots: Sequence[str]) -> str:
    title = _title(report)
    md = [f"# Age and gender evaluation{': ' + title if title else ''}", ""]
    meta = report.get("meta") or {}
    if meta:
        md += _md_table(["", ""], [(str(k), v) for k, v in meta.items()])
    md += ["## Summary", ""]
    md += _md_table(["metric", "value", "n"], _summary_rows(report))
    if report.get("adience"):
        md += ["\\* " + ADIENCE_NOTE, ""]

    if ad := report.get("adience"):
        md += ["## Adience groups: confusion matrix", "",
               "Rows: true group; columns: predicted group.", ""]
        md += _md_table(
            ["true \\ pred", *ad["labels"]],
            [(lab, *row) for lab, row in zip(ad["labels"], ad["confusion_matrix"])],
        )
    if ab := report.get("age_bins"):
        md += ["## Age bins", "", "The predicted bin holds the reported age (rounded); one-off "
               "also counts a neighbouring bin.", ""]
        md += _md_table(
            ["bin", "n", "exact", "one-off", "n (gender)", "gender accuracy", "gender ECE"],
            [(r["bin"], r["n"], _pct(r["exact"]), _pct(r["one_off"]), r["n_gender"],
              _pct(r["gender_accuracy"]), _num(r["gender_ece"], 3)) for r in ab["per_bin"]],
        )
    if g := report.get("gender"):
        md += ["## Gender calibration", "",
               f"ECE {_num(g['ece'], 3)}; confidence is max(p, 1-p) of the predicted label.", ""]
        md += _md_table(
            ["confidence", "count", "mean confidence", "accuracy"],
            [(f"{b['lo']:.2f}-{b['hi']:.2f}", b["count"], _num(b["mean_conf"], 3),
              _pct(b["accuracy"])) for b in g["reliability"]],
        )
    if iv := report.get("interval"):
        md += ["## Age interval", "",
               (f"The 10th-90th percentile interval holds the true age for "
                f"{_pct(iv['coverage'])} of {iv['n']} faces (nominal {_pct(iv['nominal'])}); "
                f"mean width {_num(iv['mean_width'], 1)} years."), ""]
    md += band_markdown(report, _md_table) + risk_markdown(report, _md_table)

    if bd := report.get("breakdown"):
        md += ["## Breakdown", ""]
        for key, b in bd.items():
            md += [f"### By {key}", ""]
            md += _md_table(
                ["group", "n", "n (age)", "MAE", "n (gender)", "gender accuracy"],
                [(r["name"], r["count"], r["n_age"], _num(r["mae"]), r["n_gender"],
                  _pct(r["gender_accuracy"])) for r in b["groups"]],
            )
            if b.get("worst_mae"):
                md.append(f"- Worst MAE: {b['worst_mae']['name']} ({_num(b['worst_mae']['mae'])});"
                          f" spread {_num(b['mae_spread'])} over {b['n_ranked_mae']} groups with"
                          f" at least {b['min_count']} samples.")
            if b.get("worst_gender_accuracy"):
                w = b["worst_gender_accuracy"]
                md.append(f"- Worst gender accuracy: {w['name']} ({_pct(w['gender_accuracy'])});"
                          f" spread {_pct(b['gender_accuracy_spread'])} over "
                          f"{b['n_ranked_gender']} groups.")
            md.append("")
    if sk := report.get("skipped"):
        md += ["## Skipped", ""] + [f"- {k}: {v}" for k, v in sk.items()] + [""]
    if notes := report.get("notes"):
        md += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    if plots:
        md += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    return "\n".join(md)


# --------------------------------------------------------------------- plots
def _plots(report: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Write :data:`PLOT_FILES` with matplotlib's Agg canvas (no pyplot, no global backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    written: list[Path] = []

    def save(fig: Figure, name: str) -> None:
        FigureCanvasAgg(fig)
        fig.tight_layout()
        path = out_dir / name
        fig.savefig(path, dpi=110)
        written.append(path)

    def placeholder(name: str, title: str, why: str) -> None:
        fig = Figure(figsize=(5, 3))
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.set_title(title)
        ax.text(0.5, 0.5, f"not available:\n{why}", ha="center", va="center", wrap=True)
        save(fig, name)

    skipped = report.get("skipped") or {}

    # confusion matrix
    if ad := report.get("adience"):
        cm = np.asarray(ad["confusion_matrix"], dtype=np.float64)
        rows = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        fig = Figure(figsize=(7, 6))
        ax = fig.add_subplot()
        im = ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
        fig.colorbar(im, ax=ax, label="share of the true group")
        k = len(ad["labels"])
        ax.set_xticks(range(k), ad["labels"], rotation=45, ha="right")
        ax.set_yticks(range(k), ad["labels"])
        ax.set_xlabel("predicted group")
        ax.set_ylabel("true group (exact ages: nearest group, ties younger)")
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=7,
                            color="white" if rows[i, j] > 0.5 else "black")
        ax.set_title(f"Adience groups: exact {_pct(ad['exact'])}, one-off {_pct(ad['one_off'])}")
        save(fig, "confusion_matrix.png")
    else:
        placeholder("confusion_matrix.png", "Adience confusion matrix",
                    skipped.get("adience", "no data"))

    bd = report.get("breakdown") or {}

    def mae_bars(name: str, key: str, title: str, xlabel: str) -> None:
        b = bd.get(key)
        groups = [g for g in (b or {}).get("groups", []) if g["mae"] is not None]
        if not groups:
            placeholder(name, title, f"no MAE by {key} (exact age labels needed)")
            return
        fig = Figure(figsize=(max(5, 0.7 * len(groups) + 2), 4))
        ax = fig.add_subplot()
        x = np.arange(len(groups))
        bars = ax.bar(x, [g["mae"] for g in groups], color="tab:blue")
        for bar, g in zip(bars, groups):
            ax.annotate(f"n={g['n_age']}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=7)
        if (age := report.get("age")) and age.get("mae") is not None:
            ax.axhline(age["mae"], color="gray", ls="--", lw=1,
                       label=f"overall {_num(age['mae'])}")
            ax.legend(loc="upper left")
        ax.set_ylim(0, 1.25 * max(g["mae"] for g in groups) + 1e-9)
        ax.set_xticks(x, [g["name"] for g in groups], rotation=30, ha="right")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("MAE (years)")
        ax.set_title(title)
        save(fig, name)

    mae_bars("mae_by_age.png", "age_band", "Age MAE by age band", "true age band")

    # reliability diagram
    if g := report.get("gender"):
        table = g["reliability"]
        fig = Figure(figsize=(5, 5))
        ax = fig.add_subplot()
        lo = np.array([b["lo"] for b in table])
        hi = np.array([b["hi"] for b in table])
        acc = np.array([np.nan if b["accuracy"] is None else b["accuracy"] for b in table])
        conf = np.array([np.nan if b["mean_conf"] is None else b["mean_conf"] for b in table])
        ok = np.isfinite(acc)
        ax.bar(lo[ok], acc[ok], width=(hi - lo)[ok], align="edge", edgecolor="black",
               color="tab:blue", alpha=0.7, label="accuracy")
        ax.plot(conf[ok], acc[ok], "o", color="tab:orange", label="(mean confidence, accuracy)")
        ax.plot([0.5, 1], [0.5, 1], "--", color="gray", label="perfect calibration")
        ax.set_xlim(0.5, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("confidence of the predicted gender, max(p, 1-p)")
        ax.set_ylabel("accuracy")
        ax.set_title(f"Gender reliability: ECE {_num(g['ece'], 3)}")
        ax.legend(loc="upper left", fontsize=8)
        save(fig, "reliability.png")
    else:
        placeholder("reliability.png", "Gender reliability", skipped.get("gender", "no data"))

    mae_bars("mae_by_group.png", "group", "Age MAE by ethnic group", "group")
    fig = band_plot(report)
    if fig is not None:
        save(fig, "by_age_band.png")
    else:
        placeholder("by_age_band.png", "By age band", skipped.get("breakdown", "no data"))
    return written


def write_report(report: Mapping[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and the PNG plots of :data:`PLOT_FILES`.

    ``out_dir`` is created if needed. Every plot is always written; one whose
    data is absent says why. Without matplotlib the plots are skipped with a
    warning and the JSON and Markdown are still written.

    Returns:
        ``{file name: path}`` of every file written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = _jsonable(report)
    written: dict[str, Path] = {}

    json_path = out / "report.json"
    json_path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    written[json_path.name] = json_path

    plots: list[Path] = []
    try:
        plots = _plots(data, out)
    except ImportError:
        log.warning("matplotlib is not installed, so no plots were written to %s; "
                    "`pip install matplotlib` to get them", out)
    for p in plots:
        written[p.name] = p

    md_path = out / "report.md"
    md_path.write_text(_markdown(data, [p.name for p in plots]), encoding="utf-8")
    written[md_path.name] = md_path
    log.info("wrote report to %s (%s)", out, ", ".join(sorted(written)))
    return written
