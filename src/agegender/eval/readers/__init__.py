"""Readers for labeled face data sets: UTKFace, Adience, FairFace and a generic CSV.

Every reader returns a :class:`Dataset`: the :class:`Sample` rows it could read,
plus one :class:`LabelProblem` (file, line, message) for each row it rejected.
A malformed row never stops reading: it is reported, logged as a warning, and
the good rows still load. Problems that make a whole file unusable (it does not
exist, a required column is missing, an unknown format) raise our own
exceptions from :mod:`agegender.errors` instead.

Readers do not open images; ``Sample.path`` is where the image should be.

One module per concern:

* :mod:`.common`: :class:`Sample`, :class:`LabelProblem`, :class:`Dataset`,
  :func:`parse_age_range` and the helpers every reader shares (value parsing,
  delimited tables, bad-row reporting).
* :mod:`.utkface`, :mod:`.adience`, :mod:`.fairface`, :mod:`.generic_csv`: one reader
  each.
* :mod:`.detect`: :func:`read_dataset`, which detects the format and dispatches.
"""

from __future__ import annotations

from .adience import read_adience
from .common import Dataset, LabelProblem, Sample, parse_age_range
from .common import Gender as Gender
from .detect import FORMATS, read_dataset
from .fairface import read_fairface
from .generic_csv import read_csv
from .utkface import UTKFACE_RACES as UTKFACE_RACES
from .utkface import read_utkface

__all__ = [
    "FORMATS",
    "Dataset",
    "LabelProblem",
    "Sample",
    "parse_age_range",
    "read_adience",
    "read_csv",
    "read_dataset",
    "read_fairface",
    "read_utkface",
]
