"""Profiles: which models a run uses when none is named, and under which license.

* ``accurate`` (the default): the FaceRes networks fine-tuned here, shipped inside the
  package. Their weights are for **research, non-commercial use only**: the body was
  trained on VGGFace2 and IMDB-WIKI, and our training faces (UTKFace, All-Age-Faces, LFW)
  carry the same restriction, as is usual for the field's most accurate models.
* ``permissive``: only models whose weights and training data allow commercial use: the
  CC0 Cydral age and gender networks, and the detectors that pip installs or that carry an
  open license (HOG + SVM, MTCNN, YuNet, Haar cascades). Naming any other model under this
  profile is an error, so a commercial deployment cannot pick one up by accident.

Choose with ``Analyzer(profile=...)``, ``--profile``, or ``AGEGENDER_PROFILE``.
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
        "research, non-commercial (FaceRes body: VGGFace2, IMDB-WIKI; fine-tuned on UTKFace, "
        "All-Age-Faces, LFW)", False),
    "permissive": Profile(
        "permissive", "cydral-age", "cydral-gender",
        "commercial use allowed (Cydral networks CC0-1.0; detectors BSL-1.0, MIT, Apache-2.0, BSD)",
        True),
}

#: Models whose weights and training data allow commercial use.
PERMISSIVE_MODELS = frozenset({
    "cydral-age", "cydral-gender", "dlib-landmarks5", "hog", "mtcnn", "hog+mtcnn", "hog-mtcnn",
    "yunet", "yunet-n", "haar", "auto",
})


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

    for name in names:
        canonical = name if name in PERMISSIVE_MODELS else get(name).name
        if canonical not in PERMISSIVE_MODELS:
            lic = get(name).license
            raise InputError(
                f"model {name!r} ({lic}) is not allowed under the permissive profile, which "
                f"keeps to models that allow commercial use: {sorted(PERMISSIVE_MODELS)}; "
                "drop the option, or use --profile accurate for research use"
            )
