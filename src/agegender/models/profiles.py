"""Profiles: which models a run uses when none is named, and under which license.

* ``accurate`` (the default): the FaceRes network trained here, shipped inside the
  package. Its weights are for **research, non-commercial use only**: the body was
  trained on VGGFace2 and IMDB-WIKI, and some of our training faces (UTKFace, All-Age-Faces,
  LFW; FairFace is CC BY 4.0) carry the same restriction, as is usual for the field's most
  accurate models.
* ``permissive``: only models whose weights and training data allow commercial use: the
  CC0 Cydral age and gender networks, and the detectors that pip installs or that carry an
  open license (HOG + SVM, MTCNN, YuNet, Haar cascades). Naming any other model under this
  profile is an error, so a commercial deployment cannot pick one up by accident.

Choose with ``Analyzer(profile=...)``, ``--profile``, or ``AGEGENDER_PROFILE``.

Which models allow commercial use is read from each record's own ``license``
(:func:`commercial_use`): an open license named (CC0-1.0, MIT, Apache-2.0, BSL-1.0,
BSD-3-Clause, Intel's BSD-style license) and no restriction (non-commercial, academic,
research, "as published", a sample, unknown). A new record or a user's card needs no list
kept by hand.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import InputError

ENV = "AGEGENDER_PROFILE"
#: What ``age_model`` / ``gender_model`` say when they leave the choice to the profile.
DEFAULT = "default"


@dataclass(frozen=True)
class Profile:
    name: str
    age_model: str
    gender_model: str
    license: str
    commercial_use: bool


PROFILES: dict[str, Profile] = {
    "accurate": Profile(
        "accurate", "faceres-age", "faceres-gender",
        "research, non-commercial (FaceRes body: VGGFace2, IMDB-WIKI; top trained on FairFace "
        "(CC BY 4.0), UTKFace, All-Age-Faces, LFW)", False),
    "permissive": Profile(
        "permissive", "cydral-age", "cydral-gender",
        "commercial use allowed (Cydral networks CC0-1.0; detectors BSL-1.0, MIT, Apache-2.0, BSD)",
        True),
}

#: Licenses that allow commercial use, as records name them.
OPEN_LICENSES = ("CC0-1.0", "MIT", "Apache-2.0", "BSL-1.0", "BSD-3-Clause", "Intel License")
#: Words in a license that restrict it (lower case): any of them and the model is not open.
RESTRICTIONS = ("non-commercial", "noncommercial", "academic", "research", "as published",
                "sample", "unknown")
#: Detector names that are no record: each allows what all the records it runs allow
#: (``auto`` only chooses among the permissive detectors under this profile's check).
COMPOSITES: dict[str, tuple[str, ...]] = {"auto": (), "hog-mtcnn": ("hog", "mtcnn"),
                                          "hog+mtcnn": ("hog", "mtcnn")}


def commercial_use(license: str) -> bool:
    """Whether a record's ``license`` allows commercial use (see the module's docstring)."""
    text = license.lower()
    return any(o.lower() in text for o in OPEN_LICENSES) and not any(r in text for r in RESTRICTIONS)


def permissive_models() -> frozenset[str]:
    """Names of the registered models (and detector composites) that allow commercial use,
    read from their records' licenses."""
    from . import records

    names = {r.name for r in records() if commercial_use(r.license)}
    names |= {c for c, parts in COMPOSITES.items() if set(parts) <= names}
    return frozenset(names)


def __getattr__(name: str) -> frozenset[str]:
    if name == "PERMISSIVE_MODELS":  # computed from the records when asked (not at import)
        return permissive_models()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_profile(name: str | None = None) -> Profile:
    """The profile ``name``, else ``$AGEGENDER_PROFILE``, else ``accurate``."""
    chosen = (name or os.environ.get(ENV) or "accurate").strip().lower()
    if chosen not in PROFILES:
        where = "" if name else f" (from {ENV})"
        raise InputError(f"unknown profile {chosen!r}{where}; choose one of {sorted(PROFILES)}")
    return PROFILES[chosen]


def check_allowed(profile: Profile, names: list[str]) -> None:
    """Refuse, under the permissive profile, any model that does not allow commercial use."""
    if not profile.commercial_use:
        return
    from . import get

    allowed = permissive_models()
    for name in names:
        canonical = name if name in COMPOSITES else get(name).name
        if canonical not in allowed:
            lic = get(name).license
            raise InputError(
                f"model {name!r} ({lic}) is not allowed under the permissive profile, which "
                f"keeps to models whose license allows commercial use: {sorted(allowed)}; "
                "drop the option, or use --profile accurate for research use"
            )
