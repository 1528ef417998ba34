"""The FaceRes networks fine-tuned here, as they ship inside the package
(``src/agegender/models/data/faceres/``: one ONNX file and one card, registered as one
model with two outputs). The model files may be re-exported at any time, so everything is read
from the cards, never hard-coded here."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import agegender
from agegender import models

FOLDER = Path(agegender.__file__).parent / "models" / "data" / "faceres"
MAX_BYTES = 16_000_000  # 16 MB: the wheel carries it
TASKS = ("age", "gender")


def shipped_card() -> dict[str, Any]:
    path = FOLDER / "card.json"
    assert path.is_file(), f"{path} is missing: the package must ship the FaceRes card"
    return json.loads(path.read_text())


def test_card_names_its_file_with_the_right_sha256():
    c = shipped_card()
    assert c["name"] == "faceres" and c["task"] == "multi" and set(c["outputs"]) == set(TASKS)
    onnx = FOLDER / c["file"]
    assert onnx.is_file(), f"{c['name']}: the card names {onnx}, which is missing"
    assert 0 < onnx.stat().st_size <= MAX_BYTES, f"{onnx} is {onnx.stat().st_size} bytes"
    assert hashlib.sha256(onnx.read_bytes()).hexdigest() == c["sha256"]
    assert "non-commercial" in c["license"].lower()
    # the card is the model's record: data, command and val figures
    t = c["training"]
    assert t["data"] and t["command"].startswith("agegender ") and t["val"]


@pytest.mark.parametrize("task", TASKS)
def test_registry_serves_it_from_the_package_without_a_mirror(task: str, no_mirror: None):
    c = shipped_card()
    rec = models.get(f"faceres-{task}", task)
    assert models.get(f"default-{task}") is rec is models.get("faceres")  # one network, one model
    assert rec.task == "multi" and rec.tasks == TASKS
    assert rec.license == c["license"] and "non-commercial" in rec.license.lower()
    (f,) = rec.files
    assert f.package == "agegender" and f.sha256 == c["sha256"]
    assert rec.source.startswith("pip:agegender/")
    assert rec.available()
    assert [p.resolve() for p in rec.paths(fetch=False)] == [(FOLDER / c["file"]).resolve()]
    assert rec.card["outputs"][task] == c["outputs"][task]
    assert {k: rec.card[k] for k in ("input", "crop")} == {k: c[k] for k in ("input", "crop")}


def test_onnx_runs_on_a_random_batch():
    import onnxruntime as ort

    c = shipped_card()
    sess = ort.InferenceSession(str(FOLDER / c["file"]), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    size = c["input"]["size"]
    assert inp.name == "input" == c["input"]["name"]
    assert c["input"]["layout"] == "NHWC" and inp.shape[1:] == [size, size, 3]
    assert {o.name for o in sess.get_outputs()} >= {"age", "gender"}
    assert (c["outputs"]["age"]["name"], c["outputs"]["gender"]["name"]) == ("age", "gender")

    x = np.random.default_rng(0).uniform(-128, 128, (3, size, size, 3)).astype(np.float32)
    a, g = sess.run(["age", "gender"], {"input": x})
    assert a.shape == (3, 101) and len(c["outputs"]["age"]["ages"]) == 101
    assert np.all(a >= 0) and np.allclose(a.sum(axis=1), 1, atol=1e-4)
    assert g.shape == (3, 1) and np.all((g >= 0) & (g <= 1))
    assert np.ptp(a.argmax(axis=1)) > 0 or np.ptp(g) > 0, "the same answer for different inputs"
