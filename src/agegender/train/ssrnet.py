"""SSR-Net (Yang et al., IJCAI 2018) in PyTorch, to train from scratch.

The same network as :mod:`agegender.convert.ssrnet` rebuilds from the authors' Keras
weights (setting ``ssrnet_3_3_3_64_1.0_1.0``): two streams of four 3x3 convolutions with
batch norm (``x``: 32 channels, ReLU, average pooling; ``s``: 16 channels, Tanh, max
pooling), three stages that each read one depth of both streams through 1x1 convolutions
(10 channels), and soft stagewise regression with a dynamic range::

    y = V * sum_k [sum_i (i + lambda_local * eta_k,i) * p_k,i] / prod_{j<=k} s_j (1 + lambda_d * delta_j)

with ``s_j = 3`` bins per stage, ``V = 101`` (years) for age and ``V = 1`` (a score for male)
for gender. Dropout 0.2 before each stage's mixing layers, as in the authors' code.
40,915 parameters (age).
"""

from __future__ import annotations

import torch
from torch import nn

STAGES = (3, 3, 3)


def _stream(cin: int, c: int) -> nn.ModuleList:
    return nn.ModuleList(
        nn.Sequential(nn.Conv2d(i, c, 3), nn.BatchNorm2d(c, eps=1e-3, momentum=0.01))
        for i in (cin, c, c, c)
    )


class _Stage(nn.Module):
    """One stage: 1x1 convs of both streams, pooled, then delta, p and eta."""

    def __init__(self, cs: int, cx: int, pool: int, n_feat: int, bins: int, dropout: float) -> None:
        super().__init__()
        self.pool = pool
        self.conv_s = nn.Conv2d(cs, 10, 1)
        self.conv_x = nn.Conv2d(cx, 10, 1)
        self.delta = nn.Linear(n_feat, 1)
        self.drop = nn.Dropout(dropout)
        self.mix_s = nn.Linear(n_feat, bins)
        self.mix_x = nn.Linear(n_feat, bins)
        self.mix = nn.Linear(bins, 2 * bins)
        self.pred = nn.Linear(2 * bins, bins)
        self.local = nn.Linear(2 * bins, bins)

    def forward(
        self, s: torch.Tensor, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        s = torch.relu(self.conv_s(s))
        x = torch.relu(self.conv_x(x))
        if self.pool > 1:
            s = nn.functional.max_pool2d(s, self.pool)
            x = nn.functional.avg_pool2d(x, self.pool)
        s, x = torch.flatten(s, 1), torch.flatten(x, 1)
        delta = torch.tanh(self.delta(s * x))
        feat = torch.relu(self.mix_s(self.drop(s))) * torch.relu(self.mix_x(self.drop(x)))
        feat = torch.relu(self.mix(feat))
        return torch.relu(self.pred(feat)), torch.tanh(self.local(feat)), delta


class SSRNet(nn.Module):
    """SSR-Net for a 64x64 input: years (``task="age"``) or a male score (``"gender"``)."""

    def __init__(
        self,
        task: str = "age",
        *,
        lambda_local: float = 1.0,
        lambda_d: float = 1.0,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.v = 101.0 if task == "age" else 1.0
        self.lambda_local, self.lambda_d = lambda_local, lambda_d
        self.xs = _stream(3, 32)
        self.ss = _stream(3, 16)
        self.stages = nn.ModuleList(
            [
                _Stage(16, 32, 1, 160, STAGES[0], dropout),  # deepest maps, 4x4
                _Stage(16, 32, 4, 90, STAGES[1], dropout),  # 14x14 pooled to 3x3
                _Stage(16, 32, 8, 90, STAGES[2], dropout),  # 31x31 pooled to 3x3
            ]
        )

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """(N, 3, 64, 64) -> (N, 1): years or the male score."""
        x, s = img, img
        xs, ss = [], []
        for i in range(4):
            x = torch.relu(self.xs[i](x))
            s = torch.tanh(self.ss[i](s))
            if i < 3:
                x = nn.functional.avg_pool2d(x, 2)
                s = nn.functional.max_pool2d(s, 2)
            xs.append(x)
            ss.append(s)
        total = img.new_zeros(img.shape[0], 1)
        div = img.new_ones(img.shape[0], 1)
        for k, (stage, (sm, xm)) in enumerate(
            zip(self.stages, [(ss[3], xs[3]), (ss[1], xs[1]), (ss[0], xs[0])])
        ):
            p, eta, delta = stage(sm, xm)
            idx = torch.arange(STAGES[k], dtype=img.dtype, device=img.device)[None, :]
            num = ((idx + self.lambda_local * eta) * p).sum(dim=1, keepdim=True)
            div = div * (STAGES[k] * (1 + self.lambda_d * delta))
            total = total + num / div
        return total * self.v
