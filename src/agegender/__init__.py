"""agegender: find faces, estimate apparent age and perceived gender, offline.

Small API (nothing heavy is imported until used)::

    import agegender
    faces = agegender.analyze("photo.jpg")          # default models
    for face in faces.to_dict():
        print(face["age"]["years"], face["gender"]["label"])
    picture = agegender.annotate("photo.jpg", faces)   # a new PIL image

    analyzer = agegender.Analyzer(detector="yunet", tta="flip")  # reuse: loads once

    summary = agegender.batch(["photos/"], "out/")   # many images, all cores, into Parquet

    for frame in agegender.track_video(analyzer, "clip.mp4"):   # tracked, stable answers
        print(frame.index, frame.faces.track_id, frame.faces.age_years)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .analyzer import Analyzer, analyze
    from .annotation import annotate
    from .detect import create_detector
    from .estimate import create_estimator
    from .faces import Faces, Result
    from .models import get_model, list_models
    from .track.frames import track_video
    from .video import analyze_video

__all__ = [
    "Analyzer",
    "Faces",
    "Result",
    "__version__",
    "analyze",
    "analyze_video",
    "annotate",
    "batch",
    "create_detector",
    "create_estimator",
    "get_model",
    "list_models",
    "track_video",
]

_LAZY = {
    "Analyzer": ("analyzer", "Analyzer"),
    "analyze": ("analyzer", "analyze"),
    "analyze_video": ("video", "analyze_video"),
    "annotate": ("annotation", "annotate"),
    "create_detector": ("detect", "create_detector"),
    "create_estimator": ("estimate", "create_estimator"),
    "Faces": ("faces", "Faces"),
    "Result": ("faces", "Result"),
    "get_model": ("models", "get_model"),
    "list_models": ("models", "list_models"),
    "track_video": ("track.frames", "track_video"),
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
