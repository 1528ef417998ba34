"""SSR-Net rebuilt from the authors' Keras .h5 weights, checked against the TF.js conversion."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agegender.convert.ssrnet import build_ssrnet_onnx, convert_h5
from agegender.errors import InputError, ModelError

pytest.importorskip(
    "h5py", reason="converting SSR-Net needs h5py (an agegender dependency)"
)
pytest.importorskip(
    "onnx", reason="converting SSR-Net needs onnx (an agegender dependency)"
)
ort = pytest.importorskip("onnxruntime")
cv2 = pytest.importorskip("cv2")

N_FACES = 30
AGE_FILES = ["ssrnet_imdb.h5", "ssrnet_wiki.h5", "ssrnet_morph2.h5", "ssrnet_megaface_asian.h5"]
GENDER_FILES = [
    "ssrnet_imdb_gender_models.h5",
    "ssrnet_wiki_gender_models.h5",
    "ssrnet_morph_gender_models.h5",
]


@pytest.fixture(scope="module")
def faces(utkface: Path) -> np.ndarray:
    """N_FACES UTKFace test crops, spread over the test split: [N, 64, 64, 3] float32 BGR."""
    with open(utkface / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
    assert len(rows) >= N_FACES
    pick = np.linspace(0, len(rows) - 1, N_FACES).round().astype(int)
    out = []
    for i in pick:
        img = cv2.imread(str(utkface / rows[i]["path"]), cv2.IMREAD_COLOR)
        assert img is not None, rows[i]["path"]
        out.append(cv2.resize(img, (64, 64), interpolation=cv2.INTER_AREA))
    return np.stack(out).astype(np.float32)


def _session(model: bytes | str | Path) -> ort.InferenceSession:
    src = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(src, providers=["CPUExecutionProvider"])


def _run(sess: ort.InferenceSession, x: np.ndarray) -> np.ndarray:
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize(
    ("task", "h5", "ref"),
    [
        ("age", "ssrnet_imdb.h5", "age.onnx"),
        ("gender", "ssrnet_imdb_gender_models.h5", "gender-ssrnet-imdb.onnx"),
    ],
)
def test_matches_reference_onnx(
    mirror: Path, faces: np.ndarray, task: str, h5: str, ref: str
) -> None:
    ours = _session(build_ssrnet_onnx(mirror / "ssrnet" / h5, task))  # type: ignore[arg-type]
    theirs = _session(mirror / "ssrnet-reference-onnx" / ref)

    (inp,) = ours.get_inputs()
    assert inp.name == "input" and inp.type == "tensor(float)"
    assert inp.shape[1:] == [64, 64, 3] and not isinstance(inp.shape[0], int)
    assert [o.name for o in ours.get_outputs()] == ["output"]

    got = _run(ours, faces)
    want = _run(theirs, faces)
    assert got.shape == (len(faces), 1) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
    # batch size is dynamic: one face at a time gives the same numbers
    one = np.concatenate([_run(ours, faces[i : i + 1]) for i in range(4)])
    np.testing.assert_allclose(one, got[:4], rtol=0, atol=1e-5)
    # the faces are not all alike: the comparison means something
    assert float(np.ptp(want)) > (5.0 if task == "age" else 0.5)


@pytest.mark.parametrize("h5", AGE_FILES + GENDER_FILES)
def test_every_variant_converts_and_runs(
    mirror: Path, faces: np.ndarray, tmp_path: Path, h5: str
) -> None:
    task = "gender" if "gender" in h5 else "age"
    out = convert_h5(mirror / "ssrnet" / h5, tmp_path / "m" / "ssrnet.onnx", task)
    assert out == tmp_path / "m" / "ssrnet.onnx" and out.is_file()
    assert not list(out.parent.glob("*.tmp"))
    import onnx

    model = onnx.load(str(out))
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    pred = _run(_session(out), faces).ravel()
    assert np.isfinite(pred).all()
    if task == "age":
        assert (pred >= 0).all() and (pred <= 101).all(), pred
        assert pred.std() > 1.0  # not a constant
    else:
        assert (pred >= 0).all() and (pred <= 1).all(), pred
        assert (pred < 0.5).any() and (pred > 0.5).any(), pred


def test_morph_gender_is_flipped_to_male_probability(mirror: Path, faces: np.ndarray) -> None:
    """The authors coded MORPH as male=0/female=1; the graph reports P(male) regardless."""
    h5 = mirror / "ssrnet" / "ssrnet_morph_gender_models.h5"
    default = _run(_session(build_ssrnet_onnx(h5, "gender")), faces)
    female = _run(_session(build_ssrnet_onnx(h5, "gender", positive="female")), faces)
    raw = _run(_session(build_ssrnet_onnx(h5, "gender", positive="male")), faces)
    np.testing.assert_array_equal(default, female)
    np.testing.assert_allclose(default, 1.0 - raw, atol=1e-6)
    # the IMDB and WIKI gender networks already score male = 1
    for name in ("ssrnet_imdb_gender_models.h5", "ssrnet_wiki_gender_models.h5"):
        h5 = mirror / "ssrnet" / name
        np.testing.assert_array_equal(
            _run(_session(build_ssrnet_onnx(h5, "gender")), faces),
            _run(_session(build_ssrnet_onnx(h5, "gender", positive="male")), faces),
        )


def test_wrong_task_for_the_file_is_refused(mirror: Path) -> None:
    with pytest.raises(ModelError, match="task='age'"):
        build_ssrnet_onnx(mirror / "ssrnet" / "ssrnet_imdb.h5", "gender")
    with pytest.raises(ModelError, match="task='gender'"):
        build_ssrnet_onnx(mirror / "ssrnet" / "ssrnet_imdb_gender_models.h5", "age")


def test_bad_arguments_and_files(tmp_path: Path) -> None:
    import h5py

    with pytest.raises(InputError, match="task"):
        build_ssrnet_onnx(tmp_path / "x.h5", "height")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="positive"):
        build_ssrnet_onnx(tmp_path / "x.h5", "age", positive="male")
    with pytest.raises(ModelError, match="not found"):
        build_ssrnet_onnx(tmp_path / "missing.h5", "age")

    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(ModelError, match="HDF5"):
        build_ssrnet_onnx(junk, "age")

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        g = f.create_group("dense_1")
        g.attrs["weight_names"] = [b"dense_1/kernel:0"]
        g.create_dataset("dense_1/kernel:0", data=np.zeros((4, 2), np.float32))
        f.attrs["layer_names"] = [b"dense_1"]
    with pytest.raises(ModelError, match="not an SSR-Net weight file"):
        build_ssrnet_onnx(other, "age")


def test_missing_dependencies_say_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for module in ("onnx", "h5py"):
        with monkeypatch.context() as m:
            m.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
            with pytest.raises(ModelError, match=r'pip install "agegender\[convert\]"'):
                build_ssrnet_onnx(tmp_path / "x.h5", "age")


def test_module_import_is_light() -> None:
    code = (
        "import sys, agegender.convert.ssrnet\n"
        "heavy = {'h5py', 'onnx'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
