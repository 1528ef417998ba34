"""The spec's extra models: SSR-Net from the mirror, Levi & Hassner (Caffe), and user cards
for every output decoding."""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agegender import models
from agegender.analyzer import Analyzer
from agegender.convert.caffe_format import (
    parse_blob,
    parse_prototxt,
    read_binaryproto,
    read_caffemodel,
    write_caffemodel,
)
from agegender.errors import InputError, ModelUnavailableError
from agegender.estimate.caffe import CaffeModel
from agegender.models import user
from agegender.models.levi_hassner import add_levi_hassner
from tests.conftest import utk_sample

# the module, not the function `models.records` that shadows it as an attribute
records = importlib.import_module("agegender.models.zoo")

SSR_AGE = [
    "ssrnet-age.imdb", "ssrnet-age.wiki", "ssrnet-age.morph2", "ssrnet-age.megaage-asian"
]
SSR_GENDER = ["ssrnet-gender.imdb", "ssrnet-gender.wiki", "ssrnet-gender.morph"]


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A private copy of the registry for this test (user cards it adds do not leak)."""
    records._ensure_loaded()
    monkeypatch.setattr(records, "_REGISTRY", dict(records._REGISTRY))
    monkeypatch.setattr(records, "_ALIASES", dict(records._ALIASES))


def _well_formed(faces, *, age: bool = True, gender: bool = True) -> None:
    assert len(faces) >= 1
    if age:
        assert faces.age_years is not None and np.all((faces.age_years >= 0) & (faces.age_years <= 100))
        assert np.allclose(faces.age_dist.sum(1), 1, atol=1e-3)
    if gender:
        assert faces.gender_p is not None and np.all((faces.gender_p >= 0) & (faces.gender_p <= 1))


# ----------------------------------------------------------------------------- records


def test_extra_records_are_registered_with_sources_and_cards():
    for name in SSR_AGE + SSR_GENDER:
        r = models.get(name)
        (f,) = r.files
        assert f.url.startswith("https://github.com/shamangary/SSR-Net/raw/master/pre-trained/")
        assert f.mirror_path.startswith("ssrnet/") and len(f.sha256) == 64
        assert r.convert is not None and "Apache-2.0" in r.license
        assert r.card["input"]["size"] == 64 and r.card["crop"]["margin"] == 0.4
        decode = r.card["output"]["decode"]
        assert decode == ("regression" if r.task == "age" else "sigmoid")
    for task in ("age", "gender"):
        r = models.get(f"levi-hassner-{task}", task)
        assert r.card["runtime"] == "caffe" and r.card["input"]["size"] == 227
        assert [f.mirror_path for f in r.files] == [
            f"levi-hassner/{task}_deploy.prototxt", "levi-hassner/mean.binaryproto"
        ]
    assert models.get("levi-hassner-gender").card["output"]["labels"] == ["male", "female"]


# ----------------------------------------------------------------------------- SSR-Net


def test_ssrnet_on_a_group_photo_and_the_conversion_is_cached(use_mirror, photos):
    an = Analyzer(detector="yunet", age_model="ssrnet-age.imdb", gender_model="ssrnet-gender.imdb")
    faces = an.analyze(photos / "group_t1.jpg")
    assert len(faces) == 6
    assert np.all((faces.age_years >= 1) & (faces.age_years <= 100))
    assert np.all((faces.gender_p >= 0) & (faces.gender_p <= 1))
    rec = models.get("ssrnet-age.imdb")
    first = rec.path()
    assert first == models.cache_dir() / "ssrnet-age.imdb" / "ssrnet-age.imdb.onnx"
    mtime = first.stat().st_mtime_ns
    assert rec.path() == first and first.stat().st_mtime_ns == mtime  # not converted again
    assert not list(first.parent.glob(".part-*"))


def test_ssrnet_imdb_intervals_are_calibrated_on_unseen_faces(use_mirror, utkface):
    """Sigma and temperature were fitted on UTKFace val; on 300 test faces (never used) the
    10..90% interval must hold about 80% of true ages (it held about 47% with sigma 5)."""
    rows = utk_sample(utkface, 300)
    an = Analyzer(detector="yunet", age_model="ssrnet-age.imdb", gender_model="ssrnet-gender.imdb")
    hits, ages = [], []
    for r, f in zip(rows, an.analyze_arrays(
            [np.asarray(Image.open(utkface / r["path"]).convert("RGB")) for r in rows])):
        if len(f):
            i = int(np.argmax(f.scores))
            hits.append(f.age_low[i] <= float(r["age"]) <= f.age_high[i])
            ages.append(f.gender_p[i])
    assert len(hits) >= 290
    assert 0.70 <= np.mean(hits) <= 0.90, f"coverage {np.mean(hits):.3f}"
    assert max(abs(p - 0.5) for p in ages) < 0.5  # tempered: no longer 0 or 1


@pytest.mark.parametrize("name", SSR_AGE[1:] + SSR_GENDER[1:])
def test_every_ssrnet_variant_runs(use_mirror, photos, name):
    task = "age" if "-age." in name else "gender"
    an = Analyzer(
        detector="yunet",
        age_model=name if task == "age" else None,
        gender_model=name if task == "gender" else None,
    )
    _well_formed(an.analyze(photos / "astronaut.png"), age=task == "age", gender=task == "gender")


def test_ssrnet_without_mirror_says_how_to_get_it(no_mirror):
    with pytest.raises(ModelUnavailableError, match="agegender models pull ssrnet-age.wiki"):
        models.get("ssrnet-age.wiki").path(fetch=False)


# ----------------------------------------------------------------------------- Levi-Hassner


def test_levi_hassner_without_weights_says_where_they_come_from(use_mirror, photos):
    with pytest.raises(ModelUnavailableError) as e:
        models.get("levi-hassner-age").path()
    msg = str(e.value)
    assert "age_net.caffemodel" in msg and "agegender models add levi-hassner" in msg
    assert "GilLevi/AgeGenderDeepLearning" in msg
    assert not models.get("levi-hassner-gender").available()
    with pytest.raises(ModelUnavailableError, match="gender_net.caffemodel"):  # once, up front
        Analyzer(detector="yunet", age_model=None, gender_model="levi-hassner-gender")


def test_mean_binaryproto(mirror: Path):
    m = read_binaryproto(mirror / "levi-hassner" / "mean.binaryproto")
    assert m.shape == (3, 256, 256) and m.dtype == np.float32
    assert m.min() >= 0 and m.max() <= 255
    means = m.mean(axis=(1, 2))
    assert 80 < means.mean() < 120
    # Caffe's BGR order: the Adience faces are redder than they are blue
    assert means[0] < means[1] < means[2]
    assert np.allclose(means, [78.43, 87.77, 114.90], atol=1.0)  # the values in GilLevi's demos


def test_blob_formats_roundtrip():
    from agegender.convert.caffe_format import encode_blob

    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert np.array_equal(parse_blob(encode_blob(a)), a)
    assert parse_blob(encode_blob(a, legacy=True)).shape == (1, 2, 3, 4)
    # unpacked floats (wire type 5, one tag each) read too
    raw = b"".join(b"\x2d" + np.float32(v).tobytes() for v in (1.5, -2.0))
    assert np.array_equal(parse_blob(raw), [1.5, -2.0])


def test_prototxt_parser():
    d = parse_prototxt(
        'name: "n" # comment\ninput_dim: 1 layer { name: "a" type: "Pooling" '
        "pooling_param { pool: MAX kernel_size: 3 } } layers{ alpha: 1e-4 flag: true }"
    )
    assert d["name"] == ["n"] and d["input_dim"] == [1]
    assert d["layer"][0]["pooling_param"][0] == {"pool": ["MAX"], "kernel_size": [3]}
    assert d["layers"][0] == {"alpha": [1e-4], "flag": [True]}


def _fake_levi_hassner(path: Path, n_classes: int, *, seed: int = 0, legacy: bool = True) -> Path:
    """Random weights of the deploy prototxt's shapes (as the authors' 2015 V1 files)."""
    rng = np.random.default_rng(seed)
    shapes = {
        "conv1": (96, 3, 7, 7), "conv2": (256, 96, 5, 5), "conv3": (384, 256, 3, 3),
        "fc6": (512, 384 * 7 * 7), "fc7": (512, 512), "fc8": (n_classes, 512),
    }
    blobs = {}
    for name, shp in shapes.items():
        fan_in = math.prod(shp[1:])
        w = rng.standard_normal(shp, dtype=np.float32) * np.float32(math.sqrt(2 / fan_in))
        blobs[name] = [w, rng.uniform(-0.1, 0.1, shp[0]).astype(np.float32)]
    return write_caffemodel(path, blobs, legacy=legacy)


def test_add_levi_hassner_then_analyze(use_mirror, photos, tmp_path: Path):
    src = _fake_levi_hassner(tmp_path / "age_net.caffemodel", 8)
    assert set(read_caffemodel(src)) == {"conv1", "conv2", "conv3", "fc6", "fc7", "fc8"}
    dest = add_levi_hassner(src, None)  # task from the file name
    assert dest == models.cache_dir() / "levi-hassner-age" / "age_net.caffemodel"
    assert dest.read_bytes() == src.read_bytes()
    rec = models.get("levi-hassner-age")
    assert rec.available()
    onnx_path = rec.path()
    assert onnx_path.name == "levi-hassner-age.onnx"
    mtime = onnx_path.stat().st_mtime_ns
    an = Analyzer(detector="yunet", age_model="levi-hassner-age", gender_model=None)
    faces = an.analyze(photos / "astronaut.png")
    _well_formed(faces, gender=False)
    assert rec.path().stat().st_mtime_ns == mtime  # converted once
    assert isinstance(an.estimator.models[0], CaffeModel)
    # oversampling (the paper's 10 views) goes through the same path
    an10 = Analyzer(detector="yunet", age_model="levi-hassner-age", gender_model=None,
                    tta="oversample")
    _well_formed(an10.analyze(photos / "astronaut.png"), gender=False)


def test_caffe_preprocess_subtracts_the_centre_of_the_mean_image(use_mirror, tmp_path: Path):
    add_levi_hassner(_fake_levi_hassner(tmp_path / "g.caffemodel", 2, legacy=False), "gender")
    m = CaffeModel(models.get("levi-hassner-gender"))
    chips = np.zeros((2, 227, 227, 3), np.uint8)
    chips[..., 0] = 200  # R
    x = m.preprocess(chips)
    assert x.shape == (2, 3, 227, 227)
    mean = read_binaryproto(use_mirror / "levi-hassner" / "mean.binaryproto")[:, 14:241, 14:241]
    np.testing.assert_allclose(x[0, 2], 200 - mean[2], atol=1e-4)  # BGR: R is channel 2
    np.testing.assert_allclose(x[1, 0], -mean[0], atol=1e-4)
    p = m.predict(chips)
    assert p.shape == (2,) and np.all((p >= 0) & (p <= 1))


def test_add_levi_hassner_refuses_bad_files(use_mirror, tmp_path: Path):
    gender = _fake_levi_hassner(tmp_path / "gender_net.caffemodel", 2)
    with pytest.raises(InputError, match="pass --task gender"):
        add_levi_hassner(gender, "age")
    junk = tmp_path / "age_net.caffemodel"
    junk.write_bytes(b"\xff\xff\xff not a protobuf")
    with pytest.raises(InputError, match="not a Caffe model"):
        add_levi_hassner(junk, None)
    with pytest.raises(InputError, match="--task age or --task gender"):
        add_levi_hassner(gender.rename(tmp_path / "weights.caffemodel"), None)
    with pytest.raises(InputError, match="no such file"):
        add_levi_hassner(tmp_path / "missing.caffemodel", "age")
    assert not (models.cache_dir() / "levi-hassner-age" / "age_net.caffemodel").exists()


# ----------------------------------------------------------------------------- cards


def _tiny_onnx(path: Path, bias: np.ndarray, *, size: int = 16, nhwc: bool = False) -> Path:
    """x -> GlobalAveragePool -> Flatten -> MatMul(0) + bias: a model whose output is
    ``bias`` whatever the input (so its decoding can be checked exactly)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    k = len(bias)
    nodes = []
    x = "x"
    if nhwc:
        nodes.append(helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2]))
        x = "xt"
    nodes += [
        helper.make_node("GlobalAveragePool", [x], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("MatMul", ["f", "w"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["y"]),
    ]
    shape = ["N", size, size, 3] if nhwc else ["N", 3, size, size]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", k])],
        initializer=[
            numpy_helper.from_array(np.zeros((3, k), np.float32), "w"),
            numpy_helper.from_array(np.asarray(bias, np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def _logits_peaked(k: int, at: int) -> np.ndarray:
    b = np.full(k, -30.0, np.float32)
    b[at] = 30.0
    return b


# (name, task, output card, bias, check(faces))
CARDS = [
    ("ev-age", "age", {"decode": "expected_value", "ages": list(range(101))},
     _logits_peaked(101, 30), lambda f: np.allclose(f.age_years, 30, atol=1e-3)),
    ("groups-age", "age", {"decode": "groups"},
     _logits_peaked(8, 4), lambda f: np.all((f.age_years >= 25) & (f.age_years <= 32))),
    ("regression-age", "age", {"decode": "regression", "sigma": 3.0},
     np.array([37.0], np.float32),
     lambda f: np.allclose(f.age_years, 37) and np.all(f.age_dist.argmax(1) == 37)),
    ("sigmoid-gender", "gender", {"decode": "sigmoid"},
     np.array([0.8], np.float32), lambda f: np.allclose(f.gender_p, 0.8)),
    ("softmax-gender", "gender", {"decode": "softmax", "labels": ["female", "male"]},
     np.array([0.0, math.log(3.0)], np.float32), lambda f: np.allclose(f.gender_p, 0.75)),
]


@pytest.mark.parametrize("name,task,output,bias,check", CARDS, ids=[c[0] for c in CARDS])
def test_user_card_for_each_decoding(
    fresh_registry, use_mirror, photos, tmp_path: Path, capsys, name, task, output, bias, check
):
    from agegender.cli import main

    nhwc = task == "gender"  # both layouts
    size = 24
    _tiny_onnx(tmp_path / f"{name}.onnx", bias, size=size, nhwc=nhwc)
    card = {
        "name": name,
        "task": task,
        "license": "MIT",
        "file": f"{name}.onnx",  # relative to the card
        "input": {"size": size, "layout": "NHWC" if nhwc else "NCHW", "channels": "RGB",
                  "mean": [127.5] * 3, "std": 128.0},
        "crop": {"method": "box", "margin": 0.3},
        "output": output,
    }
    card_path = tmp_path / f"{name}.json"
    card_path.write_text(json.dumps(card))
    assert main(["models", "add", str(card_path)]) == 0
    assert f"--{task}-model {name}" in capsys.readouterr().out
    assert (user.cards_dir() / f"{name}.json").is_file()
    records.reload_user_cards()
    assert models.get(name, task).origin.endswith(f"{name}.json")
    an = Analyzer(
        detector="yunet",
        age_model=name if task == "age" else None,
        gender_model=name if task == "gender" else None,
    )
    faces = an.analyze(photos / "astronaut.png")
    _well_formed(faces, age=task == "age", gender=task == "gender")
    assert check(faces)


def test_adding_a_multi_card_says_the_flags_that_exist(fresh_registry, tmp_path: Path, capsys) -> None:
    """A card of one network for both tasks (task "multi", as `train --arch faceres-top`
    writes) is added, and the command printed to use it parses and runs it."""
    import agegender
    from agegender.cli import main

    shipped = Path(agegender.__file__).parent / "models" / "data" / "faceres"
    card = json.loads((shipped / "card.json").read_text())
    card.update(name="mine", file=str(shipped / "faceres.onnx"))
    (tmp_path / "card.json").write_text(json.dumps(card))
    assert main(["models", "add", str(tmp_path / "card.json")]) == 0
    out = capsys.readouterr().out
    assert "--age-model mine --gender-model mine" in out and "--multi-model" not in out
    an = Analyzer(detector="haar", age_model="mine", gender_model="mine")
    assert an.describe()["age_model"] == an.describe()["gender_model"] == "mine"
