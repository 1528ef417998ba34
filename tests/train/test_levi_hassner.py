"""The PyTorch Levi & Hassner net against the authors' deploy prototxt and our Caffe reader."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agegender.train.levi_hassner import LeviHassnerNet, export_caffemodel  # noqa: E402


def _prototxt_layers(text: str) -> list[dict]:
    """Each ``layers { ... }`` block as {name, type, num_output, kernel_size, stride, pad, ...}."""
    out = []
    for block in re.split(r"\blayers?\s*\{", text)[1:]:
        d: dict = {}
        for key in ("name", "type"):
            m = re.search(rf"\b{key}:\s*\"?(\w+)\"?", block)
            d[key] = m.group(1) if m else None
        for key in ("num_output", "kernel_size", "stride", "pad", "local_size"):
            m = re.search(rf"\b{key}:\s*(\d+)", block)
            d[key] = int(m.group(1)) if m else None
        for key in ("alpha", "beta"):
            m = re.search(rf"\b{key}:\s*([\d.eE+-]+)", block)
            d[key] = float(m.group(1)) if m else None
        out.append(d)
    return out


@pytest.fixture(scope="module", params=[("age", 8), ("gender", 2)], ids=["age", "gender"])
def deploy(request, mirror: Path) -> tuple[Path, int, list[dict]]:
    task, n = request.param
    p = mirror / "levi-hassner" / f"{task}_deploy.prototxt"
    if not p.is_file():
        pytest.skip(f"needs {p}")
    return p, n, _prototxt_layers(p.read_text())


def test_output_shape():
    for n in (8, 2):
        net = LeviHassnerNet(n).eval()
        with torch.no_grad():
            y = net(torch.zeros(2, 3, 227, 227))
        assert tuple(y.shape) == (2, n)


def test_layers_match_the_deploy_prototxt(deploy):
    path, n, layers = deploy
    net = LeviHassnerNet(n).eval()
    by_name = {d["name"]: d for d in layers}
    # walk the prototxt's shapes with Caffe's rules (conv rounds down, pooling rounds up)
    c, h = 3, int(re.findall(r"input_dim:\s*(\d+)", path.read_text())[-1])
    shapes = {}
    for d in layers:
        if d["type"] == "CONVOLUTION":
            conv = getattr(net, d["name"])
            k, s, p = d["kernel_size"], d["stride"] or 1, d["pad"] or 0
            assert tuple(conv.weight.shape) == (d["num_output"], c, k, k), d["name"]
            assert conv.stride == (s, s) and conv.padding == (p, p), d["name"]
            c, h = d["num_output"], (h + 2 * p - k) // s + 1
        elif d["type"] == "POOLING":
            pool = getattr(net, d["name"])
            k, s = d["kernel_size"], d["stride"]
            assert (pool.kernel_size, pool.stride, pool.ceil_mode) == (k, s, True)
            h = math.ceil((h - k) / s) + 1
        elif d["type"] == "LRN":
            lrn = getattr(net, d["name"])
            assert (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (
                d["local_size"], d["alpha"], d["beta"], 1.0
            )
        elif d["type"] == "INNER_PRODUCT":
            fc = getattr(net, d["name"])
            fin = c * h * h if d["name"] == "fc6" else c
            assert (fc.out_features, fc.in_features) == (d["num_output"], fin), d["name"]
            c = d["num_output"]
        elif d["type"] == "DROPOUT":
            assert getattr(net, d["name"]).p == 0.5
        shapes[d["name"]] = (c, h)
    assert by_name["fc8"]["num_output"] == n
    # the paper's blob sizes: 96x28x28, 256x14x14, 384x7x7
    assert shapes["pool1"] == (96, 28) and shapes["pool2"] == (256, 14)
    assert shapes["pool5"] == (384, 7)
    x = torch.zeros(1, 3, 227, 227)
    assert tuple(net.features(x).shape) == (1, 384, 7, 7)


@pytest.mark.parametrize("legacy", [True, False], ids=["v1-layers", "v2-layer"])
def test_exported_caffemodel_runs_the_same_through_our_caffe_converter(
    deploy, legacy, tmp_path: Path
):
    import onnxruntime as ort

    from agegender.convert.caffe import caffe_to_onnx
    from agegender.convert.caffe_format import read_caffemodel

    path, n, _ = deploy
    torch.manual_seed(0)
    net = LeviHassnerNet(n).eval()
    with torch.no_grad():  # weights large enough that the classes differ
        for m in net.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                torch.nn.init.kaiming_normal_(m.weight)
                m.bias.uniform_(-0.1, 0.1)
        net.fc8.weight.mul_(0.03)  # logits of a few units: a softmax that is not saturated
    model = export_caffemodel(net, tmp_path / "w.caffemodel", legacy=legacy)
    g = caffe_to_onnx(path, read_caffemodel(model))
    assert g.input_shape == (3, 227, 227) and g.output_shape == (n,)
    sess = ort.InferenceSession(g.onnx_bytes, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).uniform(-120, 120, (3, 3, 227, 227)).astype(np.float32)
    got = sess.run(None, {"data": x})[0]
    with torch.no_grad():
        want = torch.softmax(net(torch.from_numpy(x)), 1).numpy()
    assert got.shape == (3, n)
    assert np.allclose(got.sum(1), 1, atol=1e-5)
    # neither uniform nor one-hot, or the comparison says little
    assert want.max() > 1.5 / n and want.max() < 0.999
    np.testing.assert_allclose(got, want, atol=2e-4)
