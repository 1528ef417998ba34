"""Losses that fit each kind of output; unknown labels (age NaN, gender -1) are left out.

* Age as a distribution over age classes: cross-entropy on the true class, KL divergence to
  a Gaussian soft label (label-distribution learning, DLDL), and L1 on the expected age.
* Age as Adience groups (Levi & Hassner): cross-entropy over the 8 groups.
* Age as one number (SSR-Net): L1 in years, as the SSR-Net authors train it.
* Gender as two logits [female, male]: cross-entropy; as one score (SSR-Net): L1 to 0/1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AgeLossWeights:
    """Weights of the three terms of the distribution age loss, and the soft label's width."""

    ce: float = 0.0
    ld: float = 1.0
    l1: float = 0.05
    sigma: float = 2.0  # years; grows by sigma_slope * age for older faces
    sigma_slope: float = 0.0


def gaussian_labels(
    ages: torch.Tensor, classes: torch.Tensor, sigma: float, slope: float = 0.0
) -> torch.Tensor:
    """(N, K) Gaussian soft labels over the class ages, centred on each true age."""
    s = (sigma + slope * ages).clamp(min=0.5)[:, None]
    logits = -0.5 * ((classes[None, :] - ages[:, None]) / s) ** 2
    return torch.softmax(logits, dim=1)


def age_distribution_loss(
    logits: torch.Tensor, ages: torch.Tensor, classes: torch.Tensor, w: AgeLossWeights
) -> torch.Tensor:
    """CE + KL(Gaussian soft label || softmax) + L1 of the expected age, over known ages."""
    known = ~torch.isnan(ages)
    if not bool(known.any()):
        return logits.sum() * 0.0
    logits, ages = logits[known], ages[known]
    logp = torch.log_softmax(logits, dim=1)
    total = logits.new_zeros(())
    if w.ce:
        target = (classes[None, :] - ages[:, None]).abs().argmin(dim=1)
        total = total + w.ce * F.nll_loss(logp, target)
    if w.ld:
        q = gaussian_labels(ages, classes, w.sigma, w.sigma_slope)
        total = total + w.ld * F.kl_div(logp, q, reduction="batchmean")
    if w.l1:
        expected = logp.exp() @ classes
        total = total + w.l1 * (expected - ages).abs().mean()
    return total


def class_loss(logits: torch.Tensor, labels: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy over known labels (-1 = unknown): gender or Adience group."""
    known = labels >= 0
    if not bool(known.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits[known], labels[known], label_smoothing=smoothing)


def regression_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over known targets (NaN or negative = unknown)."""
    pred = pred.reshape(-1)
    target = target.to(pred.dtype)
    known = ~torch.isnan(target) & (target >= 0)
    if not bool(known.any()):
        return pred.sum() * 0.0
    return (pred[known] - target[known]).abs().mean()
