"""Levi & Hassner's age / gender CNN (CVPR 2015 workshops, AMFG) in PyTorch.

G. Levi and T. Hassner, "Age and Gender Classification Using Convolutional Neural Networks".
The network, as the paper describes it (and as the authors' ``deploy.prototxt`` defines it),
for a 3 x 227 x 227 crop (BGR, minus the training mean image):

1. conv1: 96 filters 7x7, stride 4, no padding -> ReLU -> max pool 3x3 stride 2 -> LRN
   (local size 5, alpha 1e-4, beta 0.75). 96 x 28 x 28.
2. conv2: 256 filters 5x5, padding 2 -> ReLU -> max pool 3x3 stride 2 -> LRN. 256 x 14 x 14.
3. conv3: 384 filters 3x3, padding 1 -> ReLU -> max pool 3x3 stride 2. 384 x 7 x 7.
4. fc6: 512 -> ReLU -> dropout 0.5; fc7: 512 -> ReLU -> dropout 0.5.
5. fc8: 8 age groups or 2 genders (logits; softmax is the loss's / the reader's job).

Caffe rounds pooling output sizes *up* (56 -> 28, 28 -> 14, 14 -> 7), so the pools use
``ceil_mode=True``; with PyTorch's default rounding down fc6 would see 384 x 6 x 6 instead of
the paper's 384 x 7 x 7. Caffe's LRN (across channels) is ``x / (1 + alpha / n * sum x^2) **
beta``, which is :class:`torch.nn.LocalResponseNorm` with the same arguments. Weights start
as in the paper: Gaussian, zero mean, standard deviation 0.01.

:func:`caffe_blobs` gives the learned blobs under the prototxt's layer names, so a trained
model can be written with :func:`agegender.train.levi_hassner.write_caffemodel` and used through
``agegender models add levi-hassner --caffemodel PATH``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

N_AGE_GROUPS = 8
N_GENDERS = 2
INPUT_SIZE = 227


class LeviHassnerNet(nn.Module):
    """The Levi & Hassner network; ``n_classes`` is 8 (age groups) or 2 (gender)."""

    def __init__(self, n_classes: int = N_AGE_GROUPS, *, dropout: float = 0.5) -> None:
        super().__init__()
        if n_classes < 1:
            raise ValueError(f"n_classes must be positive, got {n_classes}")
        self.n_classes = n_classes
        self.conv1 = nn.Conv2d(3, 96, kernel_size=7, stride=4)
        self.pool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.norm1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.conv2 = nn.Conv2d(96, 256, kernel_size=5, padding=2)
        self.pool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.norm2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.conv3 = nn.Conv2d(256, 384, kernel_size=3, padding=1)
        self.pool5 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # the prototxt calls it pool5
        self.fc6 = nn.Linear(384 * 7 * 7, 512)
        self.drop6 = nn.Dropout(dropout)
        self.fc7 = nn.Linear(512, 512)
        self.drop7 = nn.Dropout(dropout)
        self.fc8 = nn.Linear(512, n_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Gaussian weights, std 0.01 (the paper); zero biases."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(self.pool1(torch.relu(self.conv1(x))))
        x = self.norm2(self.pool2(torch.relu(self.conv2(x))))
        return self.pool5(torch.relu(self.conv3(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, n_classes) for a (N, 3, 227, 227) batch."""
        x = torch.flatten(self.features(x), 1)
        x = self.drop6(torch.relu(self.fc6(x)))
        x = self.drop7(torch.relu(self.fc7(x)))
        return self.fc8(x)


#: The layers with weights, by their names in the authors' prototxt.
PARAM_LAYERS = ("conv1", "conv2", "conv3", "fc6", "fc7", "fc8")


def caffe_blobs(model: LeviHassnerNet) -> dict[str, list[np.ndarray]]:
    """``{layer: [weight, bias]}`` in Caffe's layout (conv: out x in x kh x kw; fc: out x in,
    inputs flattened C, H, W as Caffe does), for :func:`write_caffemodel`."""
    out = {}
    for name in PARAM_LAYERS:
        layer = getattr(model, name)
        out[name] = [
            layer.weight.detach().cpu().numpy().astype(np.float32),
            layer.bias.detach().cpu().numpy().astype(np.float32),
        ]
    return out


def export_caffemodel(model: LeviHassnerNet, path: str | Path, *, legacy: bool = True) -> Path:
    """Write the model's weights as a ``.caffemodel`` for the authors' deploy prototxt."""
    from ..convert.caffe_format import write_caffemodel

    return write_caffemodel(path, caffe_blobs(model), legacy=legacy)
