"""Relativistic GAN losses (Jolicoeur-Martineau, "The relativistic discriminator", ICLR 2019).

D estimates how much more realistic a real sample is than a fake one, instead of the
absolute probability that a sample is real. The generator's loss therefore also needs the
scores of real samples: `g_needs_real = True` asks ganbench's loop to pass them.
Scores are D's raw (B,) outputs C(x).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganbench.contracts import Loss

if TYPE_CHECKING:  # annotations only: the plugin registers these classes without importing torch
    import torch


def _bce_ones(logits: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F  # on first use (a training step), not when the plugin loads

    return F.softplus(-logits).mean()  # -log sigmoid(l) = BCE(l, 1)


def _bce_zeros(logits: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F

    return F.softplus(logits).mean()  # -log(1 - sigmoid(l)) = BCE(l, 0)


class RSGAN(Loss):
    """Relativistic standard GAN: D maximises log sigmoid(C(x_r) - C(x_f)), pairing the
    i-th real with the i-th fake of the batch; G maximises log sigmoid(C(x_f) - C(x_r))."""

    g_needs_real = True

    def d_loss(self, real_scores, fake_scores):
        return _bce_ones(real_scores - fake_scores)

    def g_loss(self, fake_scores, real_scores=None):
        return _bce_ones(fake_scores - real_scores)

    def accuracy(self, real_scores, fake_scores):
        # D "calls the real one real" when it scores it above its paired fake
        right = (real_scores > fake_scores).float().mean()
        return right, right


class RaGAN(Loss):
    """Relativistic average standard GAN: each sample is compared with the mean score
    of the other side's batch, D(x_r) = sigmoid(C(x_r) - mean C(x_f))."""

    g_needs_real = True

    def d_loss(self, real_scores, fake_scores):
        return _bce_ones(real_scores - fake_scores.mean()) + _bce_zeros(fake_scores - real_scores.mean())

    def g_loss(self, fake_scores, real_scores=None):
        return _bce_ones(fake_scores - real_scores.mean()) + _bce_zeros(real_scores - fake_scores.mean())

    def accuracy(self, real_scores, fake_scores):
        return (real_scores > fake_scores.mean()).float().mean(), (fake_scores <= real_scores.mean()).float().mean()


class RaLSGAN(RaGAN):
    """Relativistic average least squares: (C(x_r) - mean C(x_f) - 1)^2 + (C(x_f) - mean C(x_r) + 1)^2
    for D, with the targets swapped for G."""

    def d_loss(self, real_scores, fake_scores):
        return ((real_scores - fake_scores.mean() - 1) ** 2).mean() + ((fake_scores - real_scores.mean() + 1) ** 2).mean()

    def g_loss(self, fake_scores, real_scores=None):
        return ((fake_scores - real_scores.mean() - 1) ** 2).mean() + ((real_scores - fake_scores.mean() + 1) ** 2).mean()
