"""Analyzer(gender_min_confidence=...): checked up front (the one validator), kept as the
Analyzer's display choice; the Faces it returns hold what the models said."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agegender import Analyzer
from agegender.errors import InputError


@pytest.mark.parametrize("bad", [0.3, 1.01, "high"])
def test_bad_threshold_is_an_input_error(bad: object) -> None:
    with pytest.raises(InputError, match="gender_min_confidence must be"):
        Analyzer(detector="hog", age_model=None, gender_model=None, gender_min_confidence=bad)


def test_threshold_reaches_every_result(photos: Path) -> None:
    an = Analyzer(age_model="cydral-age", gender_model="cydral-gender", gender_min_confidence=0.99)
    faces = an.analyze(photos / "group_t1.jpg")
    assert an.gender_min_confidence == 0.99 and len(faces) == 6
    labels = [f["gender"]["label"] for f in faces.to_dict(gender_min_confidence=an.gender_min_confidence)]
    determined = faces.gender_determined(an.gender_min_confidence)
    assert determined is not None and not determined.all()
    assert [lab is not None for lab in labels] == determined.tolist()
    p = np.maximum(faces.gender_p, 1 - faces.gender_p)
    assert np.all(p[determined] >= 0.99 - 5e-5) and np.all(p[~determined] < 0.99)
    (r,) = an.analyze_many([str(photos / "group_t1.jpg")])
    assert [f["gender"]["label"] for f in r.to_dict(gender_min_confidence=0.99)["faces"]] == labels
    assert all(f["gender"]["label"] is not None for f in r.to_dict()["faces"])  # 0.5 by default
    assert faces.to_dict(gender_min_confidence=0.5)[0]["gender"]["label"] is not None
