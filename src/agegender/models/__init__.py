"""Models: records (source, sha256, license, preprocessing), cards, and where files live.

>>> from agegender import models
>>> models.list_models("cydral-*")       # names, by pattern, task and availability
>>> rec = models.get_model("yunet")      # a ModelRecord; raises UnknownModelError
>>> path = rec.path()                    # package -> cache -> mirror -> network, sha256 checked

Modules, bottom up: :mod:`.store` (cache, mirror, download), :mod:`.record` (the record
type), :mod:`.card` (model cards), the families (:mod:`.builtin`, :mod:`.extra`,
:mod:`.faceres`, :mod:`.haar`, :mod:`.user`, :mod:`.dex`, :mod:`.levi_hassner`),
:mod:`.zoo` (the registry by name), :mod:`.profiles` (which models a profile allows).
"""

from .record import ModelFile, ModelRecord
from .store import cache_dir, mirror_dir
from .zoo import get, get_model, list_models, names, records, register

__all__ = [
    "ModelFile",
    "ModelRecord",
    "cache_dir",
    "get",
    "get_model",
    "list_models",
    "mirror_dir",
    "names",
    "records",
    "register",
]
