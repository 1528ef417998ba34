"""Face detectors behind one interface, by name.

=============  =====================================================  ==============
name           what                                                   comes from
=============  =====================================================  ==============
``yunet``      YuNet-s CNN, 5 landmarks: most robust (pose, size)     download/mirror
``yunet-n``    YuNet-n, smaller and faster                            download/mirror
``mtcnn``      MTCNN cascade, 5 landmarks: robust, slower on big      agegender
               images
``hog``        dlib HOG + SVM: fast, frontal faces only               pip
``hog+mtcnn``  HOG, and MTCNN where HOG finds no face: near HOG's     pip
               speed, near MTCNN's recall
``opencv-ssd`` OpenCV ResNet-10 SSD, no landmarks                     download/mirror
``haar``       OpenCV's Haar cascades (Viola-Jones), dlib landmarks:  agegender
               for comparison; never chosen by ``auto``
=============  =====================================================  ==============

``auto`` picks the first of :data:`AUTO_ORDER` whose files are here and logs it.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import ModelUnavailableError, UnknownModelError
from .base import BaseDetector, Detector, View, nms

log = logging.getLogger(__name__)

#: Preference of ``auto``, by measured recall and speed (docs/detectors.md).
AUTO_ORDER = ("yunet", "hog+mtcnn", "mtcnn", "hog")


def _factory(name: str) -> Any:
    if "+" in name:
        first, _, then = name.partition("+")
        a, b = _factory(first), _factory(then)
        if a is None or b is None:
            return None
        from .cascade import CascadeDetector

        return lambda **kw: CascadeDetector(a(**kw), b(**kw))
    if name in ("yunet", "yunet-n"):
        from .yunet import YuNetDetector

        return lambda **kw: YuNetDetector(model=name, **kw)
    if name == "mtcnn":
        from .mtcnn import MTCNNDetector

        return MTCNNDetector
    if name in ("hog", "dlib-hog"):
        from .dlib_hog import DlibHOGDetector

        return DlibHOGDetector
    if name in ("haar", "haar-cascade", "viola-jones"):
        from .haar import HaarDetector

        return HaarDetector
    if name in ("opencv-ssd", "ssd"):
        from .opencv_ssd import OpenCVSSDDetector

        return OpenCVSSDDetector
    return None


def detector_names() -> list[str]:
    return ["auto", "yunet", "yunet-n", "hog+mtcnn", "mtcnn", "hog", "opencv-ssd", "haar"]


def create_detector(name: str = "auto", **kwargs: Any) -> Detector:
    """A detector by name (see the table above); ``auto`` picks the best one present.

    Keyword arguments (``threshold``, ``min_face``, ``pad``, ``max_side``) go to the detector;
    ``None`` values are dropped so each detector keeps its own default.
    """
    from ..models import get

    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if name == "auto":
        for cand in AUTO_ORDER:
            if all(get(part, "detect").available() for part in cand.split("+")):
                log.info("detector auto: using %r (first available of %s)", cand, AUTO_ORDER)
                return _factory(cand)(**kwargs)
        raise ModelUnavailableError(
            "no face detector is available: reinstall agegender (MTCNN's networks ship "
            "inside it), pip install dlib-bin, or set AGEGENDER_MIRROR to a folder with "
            "yunet/yunet_s_640_640.onnx"
        )
    make = _factory(name)
    if make is None:
        import difflib

        close = difflib.get_close_matches(name, detector_names(), n=2, cutoff=0.4)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"no detector named {name!r}.{hint} Choose from: {', '.join(detector_names())}"
        )
    return make(**kwargs)


__all__ = ["AUTO_ORDER", "BaseDetector", "Detector", "View", "create_detector", "detector_names", "nms"]
