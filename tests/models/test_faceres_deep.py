"""The published FaceRes heads: found in the mirror, converted from TF.js once, and read
by name as two outputs of one graph."""

from __future__ import annotations

import numpy as np

from agegender import models
from agegender.estimate import Estimator
from agegender.faces import Faces


def test_faceres_deep_converts_once_and_estimates(use_mirror):
    rec = models.get("faceres-age.deep")
    assert "non-commercial" in rec.license and rec.files[0].mirror_path.startswith("human-models/")
    path = rec.path()
    first = path.stat().st_mtime_ns
    assert models.get("faceres-gender.deep").path() == path  # one file for both heads
    assert path.stat().st_mtime_ns == first  # not converted again
    im = np.random.default_rng(0).integers(0, 255, (120, 120, 3), dtype=np.uint8)
    faces = [Faces(boxes=[[20, 20, 100, 100]], scores=[1.0],
                   landmarks=np.full((1, 5, 2), np.nan, np.float32))]
    f = Estimator("gender", "faceres-gender.deep").estimate([im], Estimator(
        "age", "faceres-age.deep").estimate([im], faces))[0]
    assert 1 <= f.age_years[0] <= 100 and 0 < f.gender_p[0] < 1
