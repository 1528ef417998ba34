"""What an Analyzer runs, in one public answer: :meth:`agegender.Analyzer.describe`.

The server (``/v1/models``), ``agegender batch`` (each part file's metadata), ``eval``
(its report) and video read the detector chain, the models with their licenses and
sha256, the profile and the versions from here, not from the Analyzer's insides.
"""

from __future__ import annotations

import importlib.metadata
import logging
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .analyzer import Analyzer
    from .detect import Detector

log = logging.getLogger(__name__)

#: the packages whose versions change answers (pip names)
_PACKAGES = ("onnxruntime", "onnxruntime-gpu", "numpy", "opencv-python-headless", "opencv-python",
             "pillow", "dlib")


def detector_chain(detector: Detector) -> list[Detector]:
    """The detectors that run, in order: a cascade's ``first`` and ``then``, else itself."""
    from .detect.cascade import CascadeDetector

    if isinstance(detector, CascadeDetector):
        return [*detector_chain(detector.first), *detector_chain(detector.then)]
    return [detector]


def _record_entry(name: str, task: str) -> dict[str, Any]:
    from .models import get

    entry: dict[str, Any] = {"task": task, "name": name}
    try:
        rec = get(name, task)  # type: ignore[arg-type]
    except Exception as e:  # noqa: BLE001 - a description never fails
        log.debug("no registry record for %s model %r: %s", task, name, e)
        return {**entry, "license": None, "sha256": [], "source": None}
    return {**entry, "name": rec.name, "license": rec.license,
            "sha256": [f.sha256 for f in rec.files if f.sha256], "source": rec.source}


def versions() -> dict[str, str]:
    """agegender's version and those of the installed packages that change answers."""
    out = {"agegender": __version__}
    for pkg in _PACKAGES:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def describe(analyzer: Analyzer) -> dict[str, Any]:
    """See :meth:`agegender.Analyzer.describe`."""
    chain = detector_chain(analyzer.detector)
    models = [_record_entry(name, task) for d in chain for name, task in d.required_models()]
    est = analyzer.estimator
    for task, members in est.members.items() if est is not None else []:
        for m, _ in members:
            models.append({**_record_entry(m.name, task), "task": task})
    prof = analyzer.profile
    return {
        "detector": {"name": analyzer.detector.name, "chain": [d.name for d in chain]},
        "age_model": analyzer.age_model,
        "gender_model": analyzer.gender_model,
        "tta": est.tta if est is not None else "none",
        "models": models,
        "profile": {"name": prof.name, "license": prof.license, "commercial_use": prof.commercial_use},
        "gender_min_confidence": analyzer.gender_min_confidence,
        "versions": versions(),
    }
