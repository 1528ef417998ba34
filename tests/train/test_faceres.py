"""`agegender train --arch faceres`: a tiny real run (3 data sets, masked labels), then the
exported ONNX and its two cards work by name through the pipeline's estimator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def test_tiny_faceres_run_exports_a_working_pair(shared: Path, tmp_path: Path, monkeypatch):
    from agegender.cli import main
    from agegender.estimate import Estimator
    from agegender.faces import Faces
    from agegender.models import register
    from agegender.models.card import record_from_card

    monkeypatch.setenv("AGEGENDER_MIRROR", str(shared / "models"))
    data = ",".join(str(shared / "data" / d) for d in ("utkface", "aaf", "lfw-gender"))
    out = tmp_path / "run"
    rc = main(["-q", "train", "--arch", "faceres", "--data", data, "--out", str(out),
               "--input-size", "64", "--epochs", "1", "--batch", "8", "--limit", "16",
               "--val-limit", "8", "--freeze-blocks", "5", "--name", "tiny"])
    assert rc == 0
    log = json.loads((out / "log.json").read_text())
    assert [r["epoch"] for r in log["epochs"]] == [0, 1]
    assert {"utkface_mae", "aaf_mae", "lfw-gender_gender"} <= set(log["epochs"][1])
    assert "lfw-gender_mae" not in log["epochs"][1]  # LFW has no ages: masked, not scored
    cards = {t: json.loads((out / f"card-{t}.json").read_text()) for t in ("age", "gender")}
    assert cards["age"]["file"] == cards["gender"]["file"] == "tiny.onnx"
    assert "non-commercial" in cards["age"]["license"]
    assert "--arch faceres" in cards["age"]["training"]["command"]
    bands = cards["age"]["output"]["temperature_by_age"]
    assert [b[0] for b in bands] == [0, 10, 20, 30, 40, 50, 60, 70] and all(b[2] > 0 for b in bands)
    for t, c in cards.items():
        c["file"] = str(out / c["file"])
        register(record_from_card(c, origin=str(out / f"card-{t}.json")), replace=True)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (80, 80, 3), dtype=np.uint8) for _ in range(3)]
    faces = [Faces(boxes=[[8, 8, 72, 72]], scores=[1.0],
                   landmarks=np.full((1, 5, 2), np.nan, np.float32)) for _ in images]
    aged = Estimator("age", "tiny-age").estimate(images, faces)
    both = Estimator("gender", "tiny-gender").estimate(images, aged)
    for f in both:
        assert np.isclose(f.age_dist.sum(), 1, atol=1e-3) and 0 <= f.age_years[0] <= 100
        assert 0 < f.gender_p[0] < 1
