"""Evaluation: read labeled data sets, score predictions, write reports.

* :mod:`.readers` reads UTKFace, Adience, FairFace and generic CSV labels into
  :class:`Sample` rows, reporting malformed rows instead of stopping.
* :mod:`.metrics` holds the metrics (numpy only): MAE, CS@k, Adience group
  accuracy, range accuracy, gender accuracy, calibration, interval coverage and
  per-group breakdowns; :mod:`.bands` the per-age-band table and perceived gender's
  risk-coverage.
* :mod:`.report` builds a JSON-ready report from predictions; :mod:`.render` writes it
  as JSON, Markdown and plots, and prints a one-screen summary.
"""

from __future__ import annotations

from .bands import band_table, risk_coverage
from .metrics import (
    AGE_BAND_LABELS,
    ReliabilityBin,
    adience_accuracy,
    age_band,
    breakdown,
    confusion_matrix,
    cs_at,
    expected_calibration_error,
    gender_accuracy,
    interval_coverage,
    mae,
    range_accuracy,
    reliability_table,
)
from .readers import (
    FORMATS,
    Dataset,
    LabelProblem,
    Sample,
    parse_age_range,
    read_adience,
    read_csv,
    read_dataset,
    read_fairface,
    read_utkface,
)
from .render import summary_text, write_report
from .report import PLOT_FILES, build_report

__all__ = [
    "AGE_BAND_LABELS",
    "FORMATS",
    "PLOT_FILES",
    "Dataset",
    "LabelProblem",
    "ReliabilityBin",
    "Sample",
    "adience_accuracy",
    "age_band",
    "band_table",
    "breakdown",
    "build_report",
    "confusion_matrix",
    "cs_at",
    "expected_calibration_error",
    "gender_accuracy",
    "interval_coverage",
    "mae",
    "parse_age_range",
    "range_accuracy",
    "read_adience",
    "read_csv",
    "read_dataset",
    "read_fairface",
    "read_utkface",
    "reliability_table",
    "risk_coverage",
    "summary_text",
    "write_report",
]
