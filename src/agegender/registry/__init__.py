"""Model records (source, sha256, license, preprocessing) and where their files live.

>>> from agegender import registry
>>> rec = registry.get("yunet")          # a ModelRecord; raises UnknownModelError
>>> path = rec.path()                    # cache -> mirror -> network, sha256 checked
"""

from .records import ModelFile, ModelRecord, get, names, records, register
from .store import cache_dir, mirror_dir

__all__ = [
    "ModelFile",
    "ModelRecord",
    "cache_dir",
    "get",
    "mirror_dir",
    "names",
    "records",
    "register",
]
