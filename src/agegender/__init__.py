"""agegender: find faces, estimate apparent age and perceived gender, offline.

Small API (nothing heavy is imported until used)::

    import agegender
    faces = agegender.analyze("photo.jpg")          # default models
    for face in faces.to_dict():
        print(face["age"]["years"], face["gender"]["label"])
    picture = agegender.annotate("photo.jpg", faces)   # a new PIL image

    analyzer = agegender.Analyzer(detector="yunet", tta="flip")  # reuse: loads once

    summary = agegender.batch(["photos/"], "out/")   # many images, all cores, into Parquet
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .annotation import annotate
    from .pipeline import Analyzer, Result, analyze
    from .types import Faces

__all__ = ["Analyzer", "Faces", "Result", "analyze", "annotate", "batch", "__version__"]

_LAZY = {
    "Analyzer": ("pipeline", "Analyzer"),
    "Result": ("pipeline", "Result"),
    "analyze": ("pipeline", "analyze"),
    "annotate": ("annotation", "annotate"),
    "Faces": ("types", "Faces"),
}


def __getattr__(name: str) -> Any:
    if name == "batch":  # the package agegender.batch, which is callable: batch(inputs, out)
        import importlib

        return importlib.import_module(".batch", __name__)
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{mod}", __name__), attr)
    raise AttributeError(f"module 'agegender' has no attribute {name!r}")
