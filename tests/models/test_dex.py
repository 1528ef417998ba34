"""DEX-style ONNX age models (`agegender models add dex --onnx FILE`): the ONNX Model Zoo's
interface, 1x3x224x224 BGR 0..255 in, 101 probabilities out, expected value."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agegender.errors import InputError


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cards added here stay out of the process-wide registry the other tests see."""
    import importlib

    records = importlib.import_module("agegender.models.zoo")
    records.records()  # load the built-in records first
    monkeypatch.setattr(records, "_REGISTRY", dict(records._REGISTRY))
    monkeypatch.setattr(records, "_ALIASES", dict(records._ALIASES))


def _tiny_dex(path: Path, size: int = 224, classes: int = 101, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A DEX-shaped graph: mean of each input channel -> Gemm -> softmax. Returns (W, b)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.3, (3, classes)).astype(np.float32)
    b = rng.normal(0, 1.0, classes).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["data_0"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("Gemm", ["flat", "W", "B"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["prob_1"], axis=1),
        ],
        "tiny_dex",
        [helper.make_tensor_value_info("data_0", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("prob_1", TensorProto.FLOAT, [1, classes])],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return w, b


def test_dex_model_through_the_pipeline_matches_a_direct_computation(tmp_path: Path) -> None:
    from agegender import Analyzer
    from agegender.models.dex import add_dex

    w, b = _tiny_dex(tmp_path / "dex.onnx")
    card_path = add_dex(tmp_path / "dex.onnx")
    card = json.loads(card_path.read_text())
    assert card["input"]["channels"] == "BGR" and card["input"]["size"] == 224
    assert card["output"]["ages"] == list(range(101))

    rng = np.random.default_rng(1)
    crops = [rng.integers(0, 256, (224, 224, 3), dtype=np.uint8) for _ in range(3)]
    crops[1][..., 0] = 250  # a red face, then a blue one: their answers must differ
    crops[2][..., 2] = 250
    an = Analyzer(detector="hog", age_model="dex-age", gender_model=None)
    faces = an.analyze_crops(crops)  # three faces, one graph run each (fixed batch of 1)

    for crop, years, dist in zip(crops, faces.age_years, faces.age_dist):
        bgr = crop[..., ::-1].astype(np.float64)  # the model's input: BGR, 0..255
        logits = bgr.mean(axis=(0, 1)) @ w + b
        p = np.exp(logits - logits.max())
        p /= p.sum()
        assert years == pytest.approx(float(p @ np.arange(101)), abs=1e-3)
        np.testing.assert_allclose(dist, p, atol=1e-5)
    assert abs(faces.age_years[1] - faces.age_years[2]) > 1.0


def test_models_add_dex_refuses_another_interface(tmp_path: Path) -> None:
    from agegender.models.dex import add_dex

    _tiny_dex(tmp_path / "small.onnx", size=64)
    with pytest.raises(InputError, match="1x3x224x224"):
        add_dex(tmp_path / "small.onnx")
    _tiny_dex(tmp_path / "eight.onnx", classes=8)
    with pytest.raises(InputError, match="101 values"):
        add_dex(tmp_path / "eight.onnx")
    with pytest.raises(InputError, match="does not exist"):
        add_dex(tmp_path / "missing.onnx")


def test_cli_models_add_dex_then_analyze(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agegender.cli import main

    _tiny_dex(tmp_path / "zoo.onnx")
    assert main(["models", "add", "dex", "--onnx", str(tmp_path / "zoo.onnx")]) == 0
    assert "dex-age" in capsys.readouterr().out
    from agegender.models import get

    rec = get("dex-age", "age")  # registered for later runs too (a card under AGEGENDER_HOME)
    assert rec.card["input"]["size"] == 224 and rec.paths(fetch=False)[0] == tmp_path / "zoo.onnx"
    assert main(["models", "add", "dex"]) == 2  # no --onnx: a one-line usage error
    assert "needs --onnx" in capsys.readouterr().err
