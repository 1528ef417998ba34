"""`agegender train --arch faceres-top`: bin labels, the top on cached activations, and a
tiny real run whose exported network works by its card through the pipeline's estimator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def test_bin_loss_is_minus_log_of_the_mass_inside_the_bin() -> None:
    from agegender.train.cached import bin_loss

    logits = torch.zeros(2, 101)  # uniform: each year has 1/101
    lo, hi = torch.tensor([0.0, float("nan")]), torch.tensor([2.0, float("nan")])
    assert float(bin_loss(logits, lo, hi)) == pytest.approx(-np.log(3 / 101), rel=1e-5)
    peaked = torch.full((1, 101), -20.0)
    peaked[0, 5] = 20.0
    inside = bin_loss(peaked, torch.tensor([3.0]), torch.tensor([9.0]))
    outside = bin_loss(peaked, torch.tensor([10.0]), torch.tensor([19.0]))
    assert float(inside) < 1e-3 < float(outside)
    assert float(bin_loss(logits, torch.tensor([float("nan")]), torch.tensor([float("nan")]))) == 0


def test_top_on_cached_activations_equals_the_whole_network(shared: Path) -> None:
    import onnxruntime as ort

    from agegender.convert.tfjs import fuse, load_tfjs
    from agegender.convert.tfjs_onnx import tfjs_to_onnx
    from agegender.train.cached import CUT, TopNet, to_bgr_input
    from agegender.train.faceres import FaceResNet

    g = fuse(load_tfjs(shared / "models/human-models/models/faceres-deep.json"))
    x = to_bgr_input(np.random.default_rng(0).integers(0, 255, (2, 96, 96, 3), dtype=np.uint8), 96)
    sess = ort.InferenceSession(tfjs_to_onnx(g, outputs=[CUT], input_size=(96, 96)))
    f = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    top, whole = TopNet(g).eval(), FaceResNet(g).eval()
    with torch.no_grad():
        a1, g1 = top(torch.from_numpy(f))
        a2, g2 = whole(torch.from_numpy(x))
    assert float((a1 - a2).abs().max()) < 1e-4 and float((g1 - g2).abs().max()) < 1e-4
    # only the top is trainable there: block 13 and the heads, not blocks 1..12
    names = list(top.body.params)
    assert names and all("conv_dw_13" in n or "conv_pw_13" in n for n in names)


def test_tiny_run_exports_one_network_with_one_card(shared: Path, tmp_path: Path, monkeypatch):
    from agegender.cli import main
    from agegender.estimate import Estimator
    from agegender.faces import Faces
    from agegender.models import register
    from agegender.models.card import record_from_card

    monkeypatch.setenv("AGEGENDER_MIRROR", str(shared / "models"))
    data = ",".join([str(shared / "data" / "utkface"), str(shared / "data" / "lfw-gender")])
    out = tmp_path / "run"
    rc = main(["-q", "train", "--arch", "faceres-top", "--data", data, "--out", str(out),
               "--input-size", "64", "--epochs", "1", "--batch", "8", "--limit", "12",
               "--name", "tiny", "--cache", str(tmp_path / "cache"), "--flip-sets", "utkface"])
    assert rc == 0
    log = json.loads((out / "log.json").read_text())
    assert [r["epoch"] for r in log["epochs"]] == [0, 1]
    assert "utkface_mae" in log["epochs"][1] and "lfw-gender_gender" in log["epochs"][1]
    assert "lfw-gender_mae" not in log["epochs"][1]  # LFW has no ages: masked, not scored
    chips = tmp_path / "cache" / "chips"
    assert (chips / "utkface-train" / "features-64-b12-flip.npy").is_file()  # mirrored too
    assert not (chips / "lfw-gender-train" / "features-64-b12-flip.npy").exists()
    card = json.loads((out / "card.json").read_text())
    assert card["task"] == "multi" and set(card["outputs"]) == {"age", "gender"}
    assert card["crop"]["method"] == "align" and len(card["crop"]["template"]) == 5
    assert "non-commercial" in card["license"] and "--arch faceres-top" in card["training"]["command"]
    card["file"] = str(out / card["file"])
    register(record_from_card(card, origin=str(out / "card.json")), replace=True)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (80, 80, 3), dtype=np.uint8) for _ in range(2)]
    faces = [Faces(boxes=[[8, 8, 72, 72]], scores=[1.0],
                   landmarks=np.full((1, 5, 2), np.nan, np.float32)) for _ in images]
    for f in Estimator({"age": "tiny", "gender": "tiny"}).estimate(images, faces):
        assert np.isclose(f.age_dist.sum(), 1, atol=1e-3) and 0 <= f.age_years[0] <= 100
        assert 0 < f.gender_p[0] < 1
