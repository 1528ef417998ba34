"""Face detectors behind one interface, by name.

The one list of detectors is :data:`DETECTORS` (``detector_names()`` for the names,
``describe_detectors()`` for a table); ``auto`` picks the first of :data:`AUTO_ORDER` whose
files are here and logs it. Each detector's own module says how it works; the cascade
``hog-mtcnn`` (``hog+mtcnn`` until 0.x: a deprecated alias) runs HOG, and MTCNN only where
HOG finds no face. In model names ``+`` means a weighted ensemble, never a cascade.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ModelUnavailableError, UnknownModelError
from .base import BaseDetector, Detector, View, nms

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectorInfo:
    """One detector by name: what it is, where its files come from, how it is made."""

    name: str
    #: builds it from :func:`create_detector`'s keyword arguments (imports lazily)
    factory: Callable[..., Detector]
    summary: str
    #: where its files come from: ``agegender`` (shipped), ``pip``, ``download/mirror``
    comes_from: str
    #: registry ``detect`` records whose files must be here for ``auto`` to choose it
    #: (what it loads in any case; a cascade's fallback is checked when first used)
    needs: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    #: old names that still work but log a deprecation warning
    deprecated: tuple[str, ...] = ()

    def available(self) -> bool:
        """True when the files it needs are here (the network is not used)."""
        from ..models import get

        return all(get(n, "detect").available() for n in self.needs)


def _yunet(model: str) -> Callable[..., Detector]:
    def make(**kw: Any) -> Detector:
        from .yunet import YuNetDetector

        return YuNetDetector(model=model, **kw)

    return make


def _mtcnn(**kw: Any) -> Detector:
    from .mtcnn import MTCNNDetector

    return MTCNNDetector(**kw)


def _hog(**kw: Any) -> Detector:
    from .dlib_hog import DlibHOGDetector

    return DlibHOGDetector(**kw)


def _hog_mtcnn(**kw: Any) -> Detector:
    from .cascade import CascadeDetector

    return CascadeDetector(_hog(**kw), _mtcnn(**kw), name="hog-mtcnn")


def _ssd(**kw: Any) -> Detector:
    from .opencv_ssd import OpenCVSSDDetector

    return OpenCVSSDDetector(**kw)


def _haar(**kw: Any) -> Detector:
    from .haar import HaarDetector

    return HaarDetector(**kw)


#: Every detector, in the order ``--help`` and the docs list them.
DETECTORS: tuple[DetectorInfo, ...] = (
    DetectorInfo("yunet", _yunet("yunet"), "YuNet-s CNN, 5 landmarks: most robust (pose, size), "
                 "fastest; a 640 px view, 1280 px where faces are small", "agegender",
                 ("yunet",)),
    DetectorInfo("yunet-n", _yunet("yunet-n"), "YuNet-n, smaller and faster",
                 "download/mirror", ("yunet-n",)),
    DetectorInfo("hog-mtcnn", _hog_mtcnn, "HOG, and MTCNN where HOG finds no face: near "
                 "HOG's speed, near MTCNN's recall", "pip", ("hog",), deprecated=("hog+mtcnn",)),
    DetectorInfo("mtcnn", _mtcnn, "MTCNN cascade, 5 landmarks: robust, slower on big images",
                 "agegender", ("mtcnn",)),
    DetectorInfo("hog", _hog, "dlib HOG + SVM: fast, frontal faces only", "pip", ("hog",),
                 aliases=("dlib-hog",)),
    DetectorInfo("opencv-ssd", _ssd, "OpenCV ResNet-10 SSD, no landmarks", "download/mirror",
                 ("opencv-ssd",), aliases=("ssd",)),
    DetectorInfo("haar", _haar, "OpenCV's Haar cascades (Viola-Jones), dlib landmarks: for "
                 "comparison; never chosen by auto", "agegender", ("haar",),
                 aliases=("haar-cascade", "viola-jones")),
)

#: Preference of ``auto``, by measured recall and speed (docs/detectors.md).
AUTO_ORDER = ("yunet", "hog-mtcnn", "mtcnn", "hog")

_BY_NAME = {d.name: d for d in DETECTORS}
_ALIASES = {a: d.name for d in DETECTORS for a in (*d.aliases, *d.deprecated)}
_DEPRECATED = {a for d in DETECTORS for a in d.deprecated}
_warned: set[str] = set()


def detector_names() -> list[str]:
    """``auto`` and every detector's name (aliases left out), for ``--detector`` and docs."""
    return ["auto", *(d.name for d in DETECTORS)]


def describe_detectors() -> str:
    """One line per detector: name, where its files come from, what it is."""
    width = max(len(d.name) for d in DETECTORS)
    return "\n".join(f"{d.name:<{width}}  [{d.comes_from}]  {d.summary}" for d in DETECTORS)


def detector_info(name: str) -> DetectorInfo:
    """The detector called ``name`` (or one of its aliases); a deprecated alias logs once."""
    canonical = _ALIASES.get(name, name)
    info = _BY_NAME.get(canonical)
    if info is None:
        close = difflib.get_close_matches(name, [*detector_names(), *_ALIASES], n=2, cutoff=0.4)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"no detector named {name!r}.{hint} Choose from: {', '.join(detector_names())}"
        )
    if name in _DEPRECATED and name not in _warned:
        _warned.add(name)
        log.warning("detector %r is deprecated: use %r (in model names '+' means an "
                    "ensemble)", name, canonical)
    return info


def create_detector(name: str = "auto", **kwargs: Any) -> Detector:
    """A detector by name (see :data:`DETECTORS`); ``auto`` picks the best one present.

    Keyword arguments (``threshold``, ``min_face``, ``pad``, ``max_side``) go to the detector;
    ``None`` values are dropped so each detector keeps its own default.
    """
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if name != "auto":
        return detector_info(name).factory(**kwargs)
    for cand in AUTO_ORDER:
        if _BY_NAME[cand].available():
            log.info("detector auto: using %r (first available of %s)", cand, AUTO_ORDER)
            return _BY_NAME[cand].factory(**kwargs)
    raise ModelUnavailableError(
        "no face detector is available: reinstall agegender (YuNet's and MTCNN's "
        "networks ship inside it), or pip install dlib-bin"
    )


__all__ = [
    "AUTO_ORDER",
    "DETECTORS",
    "BaseDetector",
    "Detector",
    "DetectorInfo",
    "View",
    "create_detector",
    "describe_detectors",
    "detector_info",
    "detector_names",
    "nms",
]
