"""Turn predictions on a labeled data set into a report: a JSON-ready dict, Markdown, plots.

:func:`build_report` scores predictions against :class:`~agegender.eval.readers.Sample`
labels with the functions of :mod:`agegender.eval.metrics`; :func:`write_report`
writes ``report.json``, ``report.md`` and four PNG plots; :func:`summary_text` is
a one-screen summary for the command line.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..ages import (
    ADIENCE_GROUPS,
    ADIENCE_LABELS,
    N_AGE_BINS,
    age_quantiles,
    expected_age,
    group_probabilities,
    nearest_group,
)
from ..errors import InputError
from ..types import INTERVAL_QUANTILES
from . import metrics as M
from .readers import Sample

log = logging.getLogger(__name__)

__all__ = ["PLOT_FILES", "build_report", "summary_text", "write_report"]

#: The plots :func:`write_report` writes (always all of them; a plot without data
#: says why instead).
PLOT_FILES: tuple[str, ...] = (
    "confusion_matrix.png",
    "mae_by_age.png",
    "reliability.png",
    "mae_by_group.png",
)

NOMINAL_COVERAGE = INTERVAL_QUANTILES[1] - INTERVAL_QUANTILES[0]
ADIENCE_NOTE = (
    "Adience 8-group accuracy: exact ages were mapped to the nearest Adience group "
    "(0-2, 4-6, 8-12, 15-20, 25-32, 38-43, 48-53, 60-100), ties going to the younger "
    "group; range labels count only when they are exactly an Adience group."
)
CROSS_KEY = "age_band x gender x group"


# --------------------------------------------------------------------- JSON
def _jsonable(x: Any) -> Any:
    """A copy of ``x`` made of dict/list/str/int/float/bool/None only (NaN/inf -> None)."""
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if hasattr(x, "_asdict"):  # NamedTuple
        return _jsonable(x._asdict())
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, bool) or x is None or isinstance(x, (int, str)):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Path):
        return str(x)
    return str(x)


def _f(x: Any) -> float:
    """A float, NaN for None."""
    return float("nan") if x is None else float(x)


# --------------------------------------------------------------------- build
def _band_of(sample: Sample) -> str | None:
    """Age band of a sample's label: exact age, else the middle of its range.

    An open-ended range (upper bound 100, e.g. ``70+`` or Adience ``60-100``) is
    banded by its lower bound.
    """
    if sample.age is not None:
        return M.age_band(sample.age)
    if sample.age_range is not None:
        lo, hi = sample.age_range
        return M.age_band(lo if hi >= 100 else (lo + hi) / 2)
    return None


def _prediction_arrays(
    predictions: Sequence[Mapping[str, Any]],
) -> dict[str, NDArray[Any]]:
    """Per-sample prediction columns; everything of a face that was not found is NaN / -1."""
    n = len(predictions)
    found = np.zeros(n, dtype=bool)
    years = np.full(n, np.nan)
    low = np.full(n, np.nan)
    high = np.full(n, np.nan)
    p_male = np.full(n, np.nan)
    seconds = np.full(n, np.nan)
    group = np.full(n, -1, dtype=np.int64)
    lo_q, hi_q = INTERVAL_QUANTILES
    for i, pred in enumerate(predictions):
        if not isinstance(pred, Mapping):
            raise InputError(f"prediction {i} is a {type(pred).__name__}, expected a dict")
        seconds[i] = _f(pred.get("seconds"))
        found[i] = bool(pred.get("found", False))
        if not found[i]:
            continue
        dist = pred.get("age_dist")
        if dist is not None:
            dist = np.asarray(dist, dtype=np.float32).reshape(1, -1)
            if dist.shape[1] != N_AGE_BINS:
                raise InputError(
                    f"prediction {i}: age_dist has {dist.shape[1]} bins, expected {N_AGE_BINS}"
                    " (ages 0..100)"
                )
        years[i] = _f(pred.get("age_years"))
        if np.isnan(years[i]) and dist is not None:
            years[i] = float(expected_age(dist)[0])
        low[i], high[i] = _f(pred.get("age_low")), _f(pred.get("age_high"))
        if dist is not None and (np.isnan(low[i]) or np.isnan(high[i])):
            low[i] = float(age_quantiles(dist, lo_q)[0])
            high[i] = float(age_quantiles(dist, hi_q)[0])
        if dist is not None:
            group[i] = int(np.argmax(group_probabilities(dist)[0]))
        elif np.isfinite(years[i]):
            group[i] = int(nearest_group(years[i])[0])
        p_male[i] = _f(pred.get("p_male"))
    return {"found": found, "years": years, "low": low, "high": high, "p_male": p_male,
            "seconds": seconds, "group": group}


def _label_arrays(samples: Sequence[Sample]) -> dict[str, Any]:
    n = len(samples)
    age = np.array([_f(s.age) for s in samples], dtype=np.float64).reshape(n)
    ranges = np.array(
        [s.age_range if s.age_range is not None else (np.nan, np.nan) for s in samples],
        dtype=np.float64,
    ).reshape(n, 2)
    male = np.array(
        [np.nan if s.gender is None else float(s.gender == "male") for s in samples]
    ).reshape(n)
    group = np.full(n, -1, dtype=np.int64)
    from_age = np.isfinite(age)
    if from_age.any():
        group[from_age] = nearest_group(age[from_age])
    adience_index = {g: i for i, g in enumerate(ADIENCE_GROUPS)}
    from_range = np.zeros(n, dtype=bool)
    for i, s in enumerate(samples):
        if not from_age[i] and s.age_range is not None and s.age_range in adience_index:
            group[i] = adience_index[s.age_range]
            from_range[i] = True
    return {
        "age": age, "ranges": ranges, "male": male, "group": group,
        "group_from_age": from_age, "group_from_range": from_range,
        "band": [_band_of(s) for s in samples],
        "gender": [s.gender for s in samples],
        "ethnic": [s.group for s in samples],
    }


def build_report(
    predictions: Sequence[Mapping[str, Any]],
    samples: Sequence[Sample],
    *,
    meta: Mapping[str, Any],
    min_group_count: int = 20,
    ece_bins: int = 10,
) -> dict[str, Any]:
    """Score predictions against labels; return a JSON-serializable report.

    Args:
        predictions: one dict per sample, aligned with ``samples``: ``found``
            (bool), ``age_years``, ``age_low``, ``age_high`` (years or None),
            ``age_dist`` (101 probabilities or None), ``p_male`` (or None) and
            ``seconds`` (time spent on the sample). Missing years / interval are
            derived from ``age_dist`` when it is given.
        samples: the labels (see :mod:`agegender.eval.readers`).
        meta: free-form facts to carry into the report (model, data set, split...).
        min_group_count: minimum samples for a breakdown group to be ranked.
        ece_bins: number of confidence bins for ECE and the reliability table.

    Returns:
        A dict with ``meta``, ``n_samples``, ``detection``, and when their labels
        exist ``age`` (MAE, CS@5), ``adience`` (8-group exact / one-off accuracy and
        confusion matrix), ``range`` (accuracy on range labels), ``gender``
        (accuracy, ECE, reliability table), ``interval`` (coverage of the
        10th..90th percentile interval vs 0.8), ``breakdown`` (by age band,
        gender, ethnic group and their combination), ``speed``; ``skipped``
        gives the reason for each metric left out, and ``notes`` how figures were
        computed. Age and gender figures are over the faces that were found; a
        face that was not found counts only in ``detection``. NaN becomes None.

    Raises:
        InputError: predictions and samples differ in length, or a prediction is malformed.
    """
    if len(predictions) != len(samples):
        raise InputError(
            f"got {len(predictions)} predictions for {len(samples)} samples; pass one "
            f"prediction dict per sample, in the same order"
        )
    P, L = _prediction_arrays(predictions), _label_arrays(samples)
    n = len(samples)
    found = P["found"]
    notes: list[str] = [ADIENCE_NOTE]
    skipped: dict[str, str] = {}
    report: dict[str, Any] = {"meta": dict(meta), "n_samples": n}

    n_found = int(found.sum())
    report["detection"] = {
        "n": n, "found": n_found, "rate": n_found / n if n else float("nan"),
    }
    notes.append(
        "Age and gender figures are over the faces that were found; "
        f"{n - n_found} of {n} sample(s) had no face found and count only in the detection rate."
    )

    # ---- exact ages
    has_age = np.isfinite(L["age"])
    if has_age.any():
        valid = has_age & np.isfinite(P["years"])
        report["age"] = {
            "n_labeled": int(has_age.sum()),
            "n": int(valid.sum()),
            "mae": M.mae(P["years"], L["age"]),
            "cs5": M.cs_at(P["years"], L["age"], k=5),
        }
    else:
        skipped["age"] = "no sample has an exact age label"

    # ---- Adience groups
    has_group = L["group"] >= 0
    if has_group.any():
        valid = has_group & (P["group"] >= 0)
        exact, one_off = M.adience_accuracy(P["group"], L["group"])
        report["adience"] = {
            "n_labeled": int(has_group.sum()),
            "n": int(valid.sum()),
            "n_from_exact_ages": int((valid & L["group_from_age"]).sum()),
            "n_from_ranges": int((valid & L["group_from_range"]).sum()),
            "exact": exact,
            "one_off": one_off,
            "labels": list(ADIENCE_LABELS),
            "confusion_matrix": M.confusion_matrix(P["group"], L["group"], len(ADIENCE_GROUPS)),
            "confusion_axes": "rows: true group, columns: predicted group",
        }
        other = int((np.isfinite(L["ranges"]).all(axis=1) & ~has_group).sum())
        if other:
            notes.append(
                f"{other} sample(s) with a range label that is not an Adience group are "
                "left out of the Adience 8-group figures."
            )
    else:
        skipped["adience"] = "no exact age and no range label equal to an Adience group"

    # ---- range labels
    has_range = np.isfinite(L["ranges"]).all(axis=1)
    if has_range.any():
        report["range"] = {
            "n_labeled": int(has_range.sum()),
            "n": int((has_range & np.isfinite(P["years"])).sum()),
            "accuracy": M.range_accuracy(P["years"], L["ranges"]),
        }
        notes.append(
            "Range accuracy: the predicted age, rounded to the nearest year, lies in the "
            "inclusive label range."
        )
    else:
        skipped["range"] = "no sample has an age range label"

    # ---- gender
    has_gender = np.isfinite(L["male"])
    if has_gender.any():
        table = M.reliability_table(P["p_male"], L["male"], bins=ece_bins)
        report["gender"] = {
            "n_labeled": int(has_gender.sum()),
            "n": int((has_gender & np.isfinite(P["p_male"])).sum()),
            "accuracy": M.gender_accuracy(P["p_male"], L["male"]),
            "ece": M.expected_calibration_error(P["p_male"], L["male"], bins=ece_bins),
            "bins": ece_bins,
            "reliability": [b._asdict() for b in table],
        }
        notes.append(
            "Gender: predicted male when p_male >= 0.5; ECE compares the confidence of the "
            f"predicted label, max(p, 1-p), with its accuracy over {ece_bins} equal bins of "
            "0.5..1."
        )
    else:
        skipped["gender"] = "no sample has a gender label"

    # ---- interval
    has_interval = np.isfinite(P["low"]) & np.isfinite(P["high"])
    if has_age.any() and has_interval.any():
        valid = has_age & has_interval
        report["interval"] = {
            "n": int(valid.sum()),
            "coverage": M.interval_coverage(P["low"], P["high"], L["age"]),
            "nominal": NOMINAL_COVERAGE,
            "mean_width": float(np.mean(P["high"][valid] - P["low"][valid]))
            if valid.any() else float("nan"),
        }
    else:
        skipped["interval"] = (
            "no exact age labels" if not has_age.any() else "no prediction has an age interval"
        )

    # ---- breakdown
    abs_error = np.abs(P["years"] - L["age"])  # NaN where either is missing
    gender_correct = np.where(
        np.isfinite(P["p_male"]) & has_gender,
        ((P["p_male"] >= 0.5) == (L["male"] >= 0.5)).astype(np.float64),
        np.nan,
    )
    if has_age.any() or has_gender.any():
        values = {"abs_error": abs_error, "gender_correct": gender_correct}
        dims = {"age_band": L["band"], "gender": L["gender"], "group": L["ethnic"]}
        present = {k: v for k, v in dims.items() if any(x is not None for x in v)}
        bd: dict[str, Any] = {
            k: M.breakdown(values, {k: v}, min_count=min_group_count) for k, v in present.items()
        }
        if set(present) == set(dims):
            bd[CROSS_KEY] = M.breakdown(values, dims, min_count=min_group_count)
        report["breakdown"] = bd
        notes.append(
            "Breakdown: age bands are decades of the label age (a range label is banded by "
            "its middle, an open range such as 70+ by its lower bound); worst groups and "
            f"spreads count only groups with at least {min_group_count} valid samples."
        )
    else:
        skipped["breakdown"] = "no age or gender labels"

    # ---- speed
    timed = np.isfinite(P["seconds"])
    total = float(P["seconds"][timed].sum())
    if timed.any():
        report["speed"] = {
            "n": int(timed.sum()),
            "total_seconds": total,
            "seconds_per_face": total / int(timed.sum()),
            "faces_per_second": int(timed.sum()) / total if total > 0 else float("nan"),
        }
    else:
        skipped["speed"] = "no prediction has a time in seconds"

    report["skipped"] = skipped
    report["notes"] = notes
    return _jsonable(report)


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
    if g := report.get("gender"):
        rows.append(("Gender accuracy", _pct(g["accuracy"]), str(g["n"])))
        rows.append((f"Gender ECE ({g['bins']} bins)", _num(g["ece"], 3), str(g["n"])))
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
