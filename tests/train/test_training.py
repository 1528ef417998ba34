"""Training (agegender.train): importer, tiny runs on real faces, export, resume, CLI.

Everything runs on 64 real UTKFace faces and the small Cydral gender network (32x32), so
the whole file takes well under a minute on two CPU cores.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agegender.train.config import TrainConfig, resolve  # noqa: E402
from agegender.train.data import AugmentConfig, load_faces, normalize  # noqa: E402
from agegender.train.export import export_model, onnx_bytes, verify_onnx  # noqa: E402
from agegender.train.loop import compute_loss, train  # noqa: E402
from agegender.train.models import ModelOptions, build_model  # noqa: E402
from tests.conftest import utk_sample  # noqa: E402

NO_JITTER = AugmentConfig(flip=False, rotate=0, scale=0, translate=0, brightness=0,
                          contrast=0, saturation=0)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)  # fastest on a shared 2-core machine, and deterministic


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One decoded-faces cache for the whole module."""
    return tmp_path_factory.mktemp("train-cache")


def _cfg(utkface: Path, out: Path, cache: Path, **kw) -> TrainConfig:
    base = dict(data=str(utkface), out=out, task="gender", arch="cydral", limit=64,
                val_split=None, epochs=1, batch=16, lr=1e-3, cache_dir=cache,
                augment=NO_JITTER, seed=0)
    base.update(kw)
    return TrainConfig(**base)


def _batch_loss(net, utkface: Path, cache: Path, cfg: TrainConfig) -> float:
    fs = load_faces(utkface, split="train", size=net.inp.size, limit=64, cache_dir=cache)
    x = torch.from_numpy(fs.images).permute(0, 3, 1, 2).float()
    x = normalize(x, net.inp.mean, net.inp.std, net.inp.channels)
    net.eval()
    with torch.no_grad():
        return float(compute_loss(net, net(x), torch.from_numpy(fs.ages),
                                  torch.from_numpy(fs.genders), torch.from_numpy(fs.groups), cfg))


def test_importer_reproduces_onnxruntime_on_real_faces(utkface: Path) -> None:
    import onnxruntime as ort

    from agegender.align import box_transforms, warp_chips
    from agegender.io.images import decode_image
    from agegender.models import get
    from agegender.train.onnx_import import OnnxGraphModule

    images = [decode_image(utkface / r["path"]) for r in utk_sample(utkface, 6, "val")]
    for name, size in (("cydral-age", 64), ("cydral-gender", 32)):
        box = np.array([[0.0, 0.0, 200.0, 200.0]])
        chips = np.stack([warp_chips(im, box_transforms(box, (size, size), 0.0), (size, size))[0]
                          for im in images])
        x = ((chips.astype(np.float32) - [122.782, 117.001, 104.298]) / 256).transpose(0, 3, 1, 2)
        x = np.ascontiguousarray(x, np.float32)
        path = get(name).path()
        ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
            None, {"images": x})[0]
        with torch.no_grad():
            got = OnnxGraphModule.load(path).eval()(torch.from_numpy(x)).numpy()
        assert got.shape == ref.shape == (6, 81 if size == 64 else 2)
        np.testing.assert_allclose(got, ref, atol=1e-4)


@pytest.mark.parametrize("arch,task", [("cydral", "both"), ("ssrnet", "age"),
                                       ("levi-hassner", "gender")])
def test_onnx_export_matches_torch(arch: str, task: str) -> None:
    torch.manual_seed(0)
    net = build_model(arch, task, ModelOptions()).eval()
    data = onnx_bytes(net)
    x = torch.randn(3, 3, net.inp.size, net.inp.size) * 0.5
    assert verify_onnx(net, data, x) <= 1e-4


def test_tiny_run_lowers_the_loss_exports_and_predicts(utkface: Path, cache: Path,
                                                       tmp_path: Path) -> None:
    # a fresh age head and the pretrained gender head on the small Cydral gender body
    cfg = _cfg(utkface, tmp_path / "run", cache, task="both", body="gender", epochs=3,
               val_split="val", val_limit=16, lr=1e-4)
    torch.manual_seed(0)
    before = _batch_loss(build_model("cydral", "both", ModelOptions(body="gender")), utkface,
                         cache, resolve(cfg))
    res = train(cfg)
    after = _batch_loss(res.net, utkface, cache, res.config)
    assert after < before, (before, after)
    assert [int(r["epoch"]) for r in res.history] == [1, 2, 3]
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert log[0].split(",")[:3] == ["epoch", "train_loss", "val_loss"] and len(log) == 4

    files = export_model(res.net, tmp_path / "run", name="tiny", val=res.val,
                         data_license="UTKFace: non-commercial research only")
    age_card = json.loads(files["card-age"].read_text())
    assert age_card["name"] == "tiny-age" and age_card["output"]["name"] == "age"
    card = json.loads(files["card-gender"].read_text())
    assert card["name"] == "tiny-gender" and card["output"]["name"] == "gender"
    assert card["file"] == "model.onnx" and "UTKFace" in card["license"]
    from agegender.estimate.onnx import OnnxModel
    from agegender.models.card import record_from_card

    card["file"] = str(tmp_path / "run" / card["file"])  # as `models add` resolves it
    assert 0.5 <= card["output"].pop("temperature") <= 4  # fitted on val; compare raw outputs
    model = OnnxModel(record_from_card(card, origin="test"))
    fs = load_faces(utkface, split="train", size=32, limit=64, cache_dir=cache)
    p = model.predict(fs.images[:8])
    assert p.shape == (8,) and np.all((p >= 0) & (p <= 1))
    x = normalize(torch.from_numpy(fs.images[:8]).permute(0, 3, 1, 2).float(),
                  res.net.inp.mean, res.net.inp.std)
    with torch.no_grad():
        ref = torch.softmax(res.net(x)[1], 1)[:, 1].numpy()
    np.testing.assert_allclose(p, ref, atol=1e-4)
    half = OnnxModel(record_from_card({**card, "file": str(tmp_path / "run/model.fp16.onnx"),
                                       "sha256": None}, origin="test"))
    np.testing.assert_allclose(half.predict(fs.images[:8]), ref, atol=2e-2)


class _Stop(Exception):
    pass


def test_resume_continues_exactly(utkface: Path, cache: Path, tmp_path: Path) -> None:
    full = train(_cfg(utkface, tmp_path / "full", cache, epochs=2, augment=None))

    def stop_after_first(row: dict) -> None:
        raise _Stop

    with pytest.raises(_Stop):
        train(_cfg(utkface, tmp_path / "cut", cache, epochs=2, augment=None),
              on_epoch=stop_after_first)
    resumed = train(_cfg(utkface, tmp_path / "cut", cache, epochs=2, augment=None,
                         resume=tmp_path / "cut" / "last.pt"))
    assert [r["train_loss"] for r in resumed.history] == pytest.approx(
        [r["train_loss"] for r in full.history], abs=1e-6)
    a, b = full.net.state_dict(), resumed.net.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0)


def test_time_limit_stops_after_the_epoch_and_says_so(utkface: Path, cache: Path,
                                                      tmp_path: Path) -> None:
    res = train(_cfg(utkface, tmp_path / "t", cache, epochs=3, time_limit=0.0))
    assert len(res.history) == 1
    assert res.stopped.startswith("time limit")
    assert (tmp_path / "t" / "best.pt").is_file()
    full = train(_cfg(utkface, tmp_path / "f", cache, epochs=2))
    assert len(full.history) == 2 and full.stopped == ""


def test_levi_hassner_recipe_and_arch_defaults(tmp_path: Path) -> None:
    c = resolve(TrainConfig(data="x", out=tmp_path, arch="levi-hassner", recipe="levi-hassner"))
    assert (c.optimizer, c.lr, c.batch, c.step_at, c.dropout) == ("sgd", 1e-3, 50, 10_000, 0.5)
    assert c.augment is not None and c.augment.random_crop and c.augment.flip
    net = build_model("levi-hassner", "age", ModelOptions())
    assert net.inp.size == 227 and round(net.inp.size * net.inp.context) == 256
    ssr = build_model("ssrnet", "age", ModelOptions())
    n = sum(p.numel() for p in ssr.parameters()) + sum(
        b.numel() for k, b in ssr.named_buffers() if "running" in k)
    assert n == 40_915  # the Keras model's parameter count (BN statistics included)
    from agegender.errors import InputError

    with pytest.raises(InputError, match="separately"):
        build_model("ssrnet", "both", ModelOptions())
    with pytest.raises(InputError, match="--body age"):
        build_model("cydral", "gender", ModelOptions(input_size=64))


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A private copy of the registry (cards added by the test do not leak)."""
    records = importlib.import_module("agegender.models.zoo")
    records._ensure_loaded()
    monkeypatch.setattr(records, "_REGISTRY", dict(records._REGISTRY))
    monkeypatch.setattr(records, "_ALIASES", dict(records._ALIASES))


def test_cli_trains_end_to_end_and_the_card_registers(
    utkface: Path, tmp_path: Path, capsys: pytest.CaptureFixture, fresh_registry: None
) -> None:
    from agegender import models
    from agegender.cli import main

    out = tmp_path / "cli-run"
    rc = main(["train", "--task", "gender", "--data", str(utkface), "--out", str(out),
               "--limit", "64", "--epochs", "1", "--batch", "32", "--threads", "1",
               "--cache-dir", str(tmp_path / "c")])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["best_epoch"] == 1 and 0 <= summary["val_gender_acc"] <= 1
    for f in ("model.onnx", "model.fp16.onnx", "card.json", "log.csv", "last.pt", "train.json"):
        assert (out / f).is_file(), f
    assert main(["models", "add", str(out / "card.json")]) == 0
    rec = models.get("cli-run", "gender")
    assert rec.path() == (out / "model.onnx").resolve()


def test_cli_works_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    code = ("import sys; import agegender.cli as c; p = c.build_parser(); "
            "p.parse_args(['train', '--data', 'x', '--out', 'y']); "
            "print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ,
                            "PYTHONPATH": str(Path(__file__).parents[2] / "src")})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
    from agegender.cli import train as train_cli
    from agegender.errors import AgeGenderError

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails
    with pytest.raises(AgeGenderError, match=r"pip install 'agegender\[train\]'"):
        train_cli.cmd_train(argparse.Namespace())
