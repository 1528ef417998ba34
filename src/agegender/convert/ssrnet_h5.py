"""Reading SSR-Net's Keras ``.h5`` weight files (shamangary/SSR-Net, setting
``ssrnet_3_3_3_64_1.0_1.0``) with h5py: every layer's weights, checked against the shapes
the network needs, in the order :mod:`.ssrnet` builds the graph."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import ModelError

Task = Literal["age", "gender"]
STAGES = (3, 3, 3)
BN_EPSILON = 1e-3  # keras.layers.BatchNormalization default

#: h5py and onnx come with the `convert` extra (the lean core leaves them out)
_INSTALL_HINT = 'pip install "agegender[convert]" (the extra with h5py and onnx)'

# Expected weight shapes (Keras layout) of the layers, in creation order within each kind.
# fmt: off
_CONV_SHAPES = [
    (3, 3, 3, 32), (3, 3, 32, 32), (3, 3, 32, 32), (3, 3, 32, 32),  # stream x
    (3, 3, 3, 16), (3, 3, 16, 16), (3, 3, 16, 16), (3, 3, 16, 16),  # stream s
    (1, 1, 16, 10), (1, 1, 32, 10),  # stage 1 heads (s, x)
    (1, 1, 16, 10), (1, 1, 32, 10),  # stage 2 heads
    (1, 1, 16, 10), (1, 1, 32, 10),  # stage 3 heads
]
_BN_CHANNELS = [32, 32, 32, 32, 16, 16, 16, 16]
_DENSE_SHAPES = [
    (160, 3), (160, 3), (3, 6),
    (90, 3), (90, 3), (3, 6),
    (90, 3), (90, 3), (3, 6),
]
# fmt: on
# Spatial shape (H, W) of each stage's 10-channel feature map before it is flattened.
_STAGE_HW = [(4, 4), (3, 3), (3, 3)]

def _import_h5py() -> Any:
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ModelError(
            f"converting SSR-Net .h5 weights needs h5py, which is not installed: {_INSTALL_HINT}"
        ) from e
    return h5py



def _not_ssrnet(path: Path, why: str) -> ModelError:
    return ModelError(
        f"{path} is not an SSR-Net weight file of the expected layout ({why}). Expected the "
        "Keras weights of shamangary/SSR-Net, setting ssrnet_3_3_3_64_1.0_1.0 (for example "
        "pre-trained/imdb/ssrnet_3_3_3_64_1.0_1.0/ssrnet_3_3_3_64_1.0_1.0.h5)."
    )


def _decode(x: Any) -> str:
    return x.decode("utf-8") if isinstance(x, bytes) else str(x)


def _read_layers(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Every layer's weights, as ``{layer: {short weight name: array}}``."""
    h5py = _import_h5py()
    if not path.is_file():
        raise ModelError(f"SSR-Net weight file not found: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise _not_ssrnet(path, f"not a readable HDF5 file: {e}") from e
    with f:
        root = f.get("model_weights", f)  # a full-model save nests the weights
        if "layer_names" in root.attrs:
            names = [_decode(n) for n in root.attrs["layer_names"]]
        else:
            names = [k for k in root if isinstance(root[k], h5py.Group)]
        layers: dict[str, dict[str, np.ndarray]] = {}
        for name in names:
            if name not in root:
                raise _not_ssrnet(path, f"layer {name!r} is listed but has no group")
            g = root[name]
            if "weight_names" in g.attrs:
                wnames = [_decode(w) for w in g.attrs["weight_names"]]
            else:
                wnames = []

                def _collect(n: str, obj: Any, out: list[str] = wnames) -> None:
                    if isinstance(obj, h5py.Dataset):
                        out.append(n)

                g.visititems(_collect)
            weights: dict[str, np.ndarray] = {}
            for w in wnames:
                short = w.rsplit("/", 1)[-1].split(":", 1)[0]  # "conv2d_1/kernel:0" -> "kernel"
                weights[short] = np.asarray(g[w], dtype=np.float64)
            layers[name] = weights
    return layers


def _numbered(layers: dict[str, dict[str, np.ndarray]], kind: str) -> list[str]:
    """Layers named ``kind`` or ``kind_<n>`` that carry weights, in creation order."""
    pat = re.compile(rf"^{kind}(?:_(\d+))?$")
    found = [(int(m.group(1) or 0), n) for n in layers if (m := pat.match(n)) and layers[n]]
    return [n for _, n in sorted(found)]


def _get(path: Path, layers: dict, name: str, key: str, shape: tuple[int, ...]) -> np.ndarray:
    w = layers.get(name, {}).get(key)
    if w is None:
        raise _not_ssrnet(path, f"layer {name!r} has no {key!r} weight")
    if w.shape != shape:
        raise _not_ssrnet(path, f"{name}/{key} has shape {w.shape}, expected {shape}")
    return w


def _load_weights(path: Path, task: Task) -> dict[str, Any]:
    layers = _read_layers(path)
    convs = _numbered(layers, "conv2d")
    bns = _numbered(layers, "batch_normalization")
    denses = _numbered(layers, "dense")
    if (len(convs), len(bns), len(denses)) != (14, 8, 9):
        raise _not_ssrnet(
            path,
            f"found {len(convs)} conv2d, {len(bns)} batch_normalization and {len(denses)} "
            "dense layers with weights, expected 14, 8 and 9",
        )
    age_heads = all(f"pred_age_stage{k}" in layers for k in (1, 2, 3))
    gender_heads = all(f"pred_stage{k}" in layers for k in (1, 2, 3))
    if not (age_heads or gender_heads):
        raise _not_ssrnet(path, "no pred_age_stage1..3 or pred_stage1..3 layers")
    pred = "pred_age_stage" if age_heads else "pred_stage"
    if task == "gender" and age_heads and not gender_heads:
        raise ModelError(
            f"{path} holds an SSR-Net *age* network (layers pred_age_stage1..3); "
            "convert it with task='age', or pass a *_gender_models.h5 file for task='gender'"
        )
    if task == "age" and gender_heads and not age_heads:
        raise ModelError(
            f"{path} holds an SSR-Net *gender* network (layers pred_stage1..3, SSR_net_general); "
            "convert it with task='gender', or pass an age .h5 file for task='age'"
        )

    w: dict[str, Any] = {"conv": [], "dense": [], "delta": [], "pred": [], "local": []}
    for i, (name, shape) in enumerate(zip(convs, _CONV_SHAPES, strict=True)):
        kernel = _get(path, layers, name, "kernel", shape)
        bias = _get(path, layers, name, "bias", (shape[3],))
        if i < 8:  # followed by batch norm: fold it in
            bn, c = bns[i], _BN_CHANNELS[i]
            gamma = _get(path, layers, bn, "gamma", (c,))
            beta = _get(path, layers, bn, "beta", (c,))
            mean = _get(path, layers, bn, "moving_mean", (c,))
            var = _get(path, layers, bn, "moving_variance", (c,))
            scale = gamma / np.sqrt(var + BN_EPSILON)
            kernel = kernel * scale
            bias = (bias - mean) * scale + beta
        w["conv"].append((kernel.transpose(3, 2, 0, 1), bias))  # HWIO -> OIHW
    for name, shape in zip(denses, _DENSE_SHAPES, strict=True):  # type: ignore[assignment]
        w["dense"].append(
            (_get(path, layers, name, "kernel", shape), _get(path, layers, name, "bias", shape[1:]))
        )
    for k, (h, wd) in enumerate(_STAGE_HW, start=1):
        n = h * wd * 10
        w["delta"].append(
            (
                _get(path, layers, f"delta_s{k}", "kernel", (n, 1)),
                _get(path, layers, f"delta_s{k}", "bias", (1,)),
            )
        )
        s = STAGES[k - 1]
        for key, name in (("pred", f"{pred}{k}"), ("local", f"local_delta_stage{k}")):
            w[key].append(
                (
                    _get(path, layers, name, "kernel", (2 * s, s)),
                    _get(path, layers, name, "bias", (s,)),
                )
            )
    return w
