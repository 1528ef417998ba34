"""The trainable networks, their heads and their input conventions.

Every model is a :class:`Net`: a body and one head per task, whose ``forward`` gives a
tuple of outputs in ``tasks`` order. ``kinds`` says what each output is, and so which loss
trains it and how its card decodes it:

* ``dist``: logits over the ages ``0..100`` (card ``expected_value``);
* ``groups``: logits over the 8 Adience groups (card ``groups``);
* ``regression``: years (card ``regression``);
* ``logits2``: logits over ``[female, male]`` (card ``softmax``);
* ``score``: a score of male in ``[0, 1]`` (card ``sigmoid``).

Architectures (``--arch``):

* ``cydral``: the default Cydral networks imported from their ONNX files
  (:mod:`.onnx_import`) and fine-tuned. The body is everything before the last fully
  connected layer (the age net: a ResNet-like body, 256 features after global average
  pooling; the gender net: 16 features). A head of the body's own task starts from the
  imported layer (the age head widened from 81 classes, 0.25 and 1..80 years, to 0..100);
  other heads start fresh. ``both`` puts an age and a gender head on one body.
* ``levi-hassner``: :class:`~agegender.train.levi_hassner.LeviHassnerNet` from scratch.
* ``ssrnet``: :class:`~agegender.train.ssrnet.SSRNet` from scratch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..errors import InputError

log = logging.getLogger(__name__)

ARCHES = ("cydral", "levi-hassner", "ssrnet")
CYDRAL_MEAN = (122.781998, 117.000999, 104.297997)
AGE_CLASSES = np.arange(101, dtype=np.float32)
_CYDRAL_FILES = {"age": "cydral-age", "gender": "cydral-gender"}


@dataclass(frozen=True)
class InputSpec:
    """How a model's input is made: side, channel order, ``(pixel - mean) / std``, and the
    cached view's size relative to the chip (``context`` > 1 for random crops)."""

    size: int
    channels: str = "RGB"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    context: float = 1.0


class Net(nn.Module):
    """A body and one head per task; ``forward`` returns one output per task."""

    def __init__(
        self,
        body: nn.Module,
        heads: dict[str, nn.Module],
        kinds: dict[str, str],
        inp: InputSpec,
        arch: str,
    ) -> None:
        super().__init__()
        self.body = body
        self.heads = nn.ModuleDict(heads)
        self.tasks: tuple[str, ...] = tuple(heads)
        self.kinds = dict(kinds)
        self.inp = inp
        self.arch = arch
        self.register_buffer("age_classes", torch.from_numpy(AGE_CLASSES.copy()))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        f = self.body(x)
        return tuple(self.heads[t](f) for t in self.tasks)


@dataclass(frozen=True)
class ModelOptions:
    """What :func:`build_model` needs besides arch and task."""

    input_size: int | None = None
    body: str | None = None  # cydral: "age" or "gender" network
    dropout: float | None = None
    mean: tuple[float, float, float] | None = None  # from the training data, for scratch nets
    extra: dict[str, float] = field(default_factory=dict)


def tasks_of(task: str) -> tuple[str, ...]:
    """``both`` -> ``("age", "gender")``; ``age`` / ``gender`` -> themselves."""
    if task == "both":
        return ("age", "gender")
    if task in ("age", "gender"):
        return (task,)
    raise InputError(f"task must be age, gender or both, got {task!r}")


def _new_head(n_in: int, n_out: int, dropout: float) -> nn.Module:
    lin = nn.Linear(n_in, n_out)
    nn.init.normal_(lin.weight, 0.0, 0.01)
    nn.init.zeros_(lin.bias)
    return nn.Sequential(nn.Dropout(dropout), lin) if dropout else lin


def _cydral(tasks: Sequence[str], o: ModelOptions) -> Net:
    from ..models import get
    from .onnx_import import OnnxGraphModule, last_gemm

    body_task = o.body or ("gender" if tuple(tasks) == ("gender",) else "age")
    if body_task not in _CYDRAL_FILES:
        raise InputError(f"--body must be age or gender (which Cydral network), got {body_task!r}")
    native = 64 if body_task == "age" else 32
    size = o.input_size or native
    if body_task == "gender" and size != 32:
        raise InputError(
            "the Cydral gender network takes 32x32 only (its classifier reads a 64x8x8 map); "
            "for a larger gender input use the age network's body: --body age --input-size 64"
        )
    import onnx

    path = get(_CYDRAL_FILES[body_task]).path()
    graph = onnx.load(str(path))
    probe = OnnxGraphModule(graph)
    gemm = last_gemm(probe)
    body = OnnxGraphModule(graph, outputs=[gemm.inputs[0]])
    w = probe.tensor(gemm.inputs[1]).detach()
    b = probe.tensor(gemm.inputs[2]).detach()
    if gemm.attrs.get("transB", 0):
        w = w.t()
    n_feat = w.shape[0]  # Gemm weight (in, out)
    drop = 0.2 if o.dropout is None else o.dropout
    heads: dict[str, nn.Module] = {}
    kinds: dict[str, str] = {}
    for t in tasks:
        if t == "age":
            lin = nn.Linear(n_feat, len(AGE_CLASSES))
            if body_task == "age":  # widen 81 classes (0.25, 1..80) to 0..100
                with torch.no_grad():
                    k = w.shape[1]
                    lin.weight[:k] = w.t()
                    lin.bias[:k] = b
                    lin.weight[k:] = w.t()[k - 1]
                    lin.bias[k:] = b[k - 1] - 4.0
            else:
                nn.init.normal_(lin.weight, 0.0, 0.01)
                nn.init.zeros_(lin.bias)
            heads["age"] = nn.Sequential(nn.Dropout(drop), lin) if drop else lin
            kinds["age"] = "dist"
        else:
            if body_task == "gender":
                lin = nn.Linear(n_feat, 2)
                with torch.no_grad():
                    lin.weight.copy_(w.t())
                    lin.bias.copy_(b)
                heads["gender"] = lin
            else:
                heads["gender"] = _new_head(n_feat, 2, drop)
            kinds["gender"] = "logits2"
    inp = InputSpec(size=size, channels="RGB", mean=CYDRAL_MEAN, std=(256.0,) * 3)
    log.info("cydral: %s body from %s, heads %s, input %d", body_task, path, list(tasks), size)
    return Net(body, heads, kinds, inp, "cydral")


class _Features(nn.Module):
    """A Levi & Hassner net up to fc7 (for heads of its own)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net
        x = torch.flatten(n.features(x), 1)
        x = n.drop6(torch.relu(n.fc6(x)))
        return n.drop7(torch.relu(n.fc7(x)))


def _levi_hassner(tasks: Sequence[str], o: ModelOptions) -> Net:
    from .levi_hassner import INPUT_SIZE, LeviHassnerNet

    size = o.input_size or INPUT_SIZE
    if size != INPUT_SIZE:
        raise InputError(f"the Levi & Hassner network takes {INPUT_SIZE}x{INPUT_SIZE} input only")
    net = LeviHassnerNet(8, dropout=0.5 if o.dropout is None else o.dropout)
    net.fc8 = nn.Identity()  # type: ignore[assignment]
    heads: dict[str, nn.Module] = {}
    kinds: dict[str, str] = {}
    for t in tasks:
        lin = nn.Linear(512, 8 if t == "age" else 2)
        nn.init.normal_(lin.weight, 0.0, 0.01)
        nn.init.zeros_(lin.bias)
        heads[t] = lin
        kinds[t] = "groups" if t == "age" else "logits2"
    mean = o.mean or (127.0, 127.0, 127.0)
    # Caffe's convention: BGR, minus the training mean, no scaling; 227 crops of a 256 view
    inp = InputSpec(size=size, channels="BGR", mean=mean, context=256 / 227)
    return Net(_Features(net), heads, kinds, inp, "levi-hassner")


def _ssrnet(tasks: Sequence[str], o: ModelOptions) -> Net:
    from .ssrnet import SSRNet

    if len(tasks) != 1:
        raise InputError(
            "SSR-Net has one regression output per network: train --task age and --task "
            "gender separately (as its authors did)"
        )
    size = o.input_size or 64
    if size != 64:
        raise InputError("SSR-Net takes 64x64 input only (its stage pooling is fixed)")
    t = tasks[0]
    net = SSRNet(t, dropout=0.2 if o.dropout is None else o.dropout)
    mean = o.mean or (127.0, 127.0, 127.0)
    inp = InputSpec(size=64, channels="BGR", mean=mean, std=(128.0,) * 3)
    return Net(net, {t: nn.Identity()}, {t: "regression" if t == "age" else "score"}, inp,
               "ssrnet")


def build_model(arch: str, task: str, options: ModelOptions | None = None) -> Net:
    """A :class:`Net` for ``arch`` (cydral, levi-hassner, ssrnet) and ``task``."""
    o = options or ModelOptions()
    tasks = tasks_of(task)
    if arch == "cydral":
        return _cydral(tasks, o)
    if arch == "levi-hassner":
        return _levi_hassner(tasks, o)
    if arch == "ssrnet":
        return _ssrnet(tasks, o)
    raise InputError(f"unknown --arch {arch!r}; use one of {', '.join(ARCHES)}")


def predict(net: Net, outputs: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per task: ``age`` -> expected years (N,); ``group`` -> group index; ``p_male`` (N,)."""
    res: dict[str, torch.Tensor] = {}
    for t, y in zip(net.tasks, outputs):
        k = net.kinds[t]
        if k == "dist":
            res["age"] = torch.softmax(y, 1) @ net.age_classes
        elif k == "regression":
            res["age"] = y.reshape(-1)
        elif k == "groups":
            res["group"] = y.argmax(1)
        elif k == "logits2":
            res["p_male"] = torch.softmax(y, 1)[:, 1]
        else:
            res["p_male"] = y.reshape(-1).clamp(0, 1)
    return res
