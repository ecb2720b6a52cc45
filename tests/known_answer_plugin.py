"""A test plugin of fixed samplers: "generators" whose samples are known, for known-answer tests.

Architecture `fixed-sampler` with option `sampler` builds a generator that maps each latent
z to a known sample, deterministically (the evaluator's fixed noise picks the samples):

images (scikit-learn's 8x8 digits):
  real          training digits (held out from the evaluator's real side, the test split)
  one-class     training images of digit 3 only
  five-classes  training images of digits 0-4, the five classes equally often
  noise         uniform noise: every pixel Phi(z_i), uniform on [0, 1] (needs z_dim >= 64)

2-D points (ring8: 8 centres on the unit circle, sigma 0.01):
  mixture       exact mixture samples: a uniform centre plus sigma * N(0, I)
  one-mode      centre 2 plus sigma * N(0, I)
  between       the midpoint between two neighbouring centres plus sigma * N(0, I)
  wide          a uniform centre plus 3 sigma * N(0, I) (each mode 3x too wide)

z[:, 0] chooses (through the normal CDF, so it is uniform), z[:, 1:3] is the Gaussian offset.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn

from ganbench import hookimpl
from ganbench.contracts import DataSpec, Discriminator, Models

IMAGE_SAMPLERS = ("real", "one-class", "five-classes", "noise")
POINT_SAMPLERS = ("mixture", "one-mode", "between", "wide")
ONE_CLASS = 3
FIVE_CLASSES = (0, 1, 2, 3, 4)
ONE_MODE = 2


def uniform(z: torch.Tensor) -> torch.Tensor:
    """N(0, 1) -> U(0, 1), elementwise (the normal CDF), kept strictly below 1."""
    return (0.5 * (1 + torch.erf(z / math.sqrt(2)))).clamp(0, 1 - 1e-7)


@functools.lru_cache(maxsize=None)
def _digits():
    from ganbench.builtin.datasets import digits

    return digits()


@functools.lru_cache(maxsize=None)
def _ring():
    from ganbench.builtin.datasets import ring8

    return ring8()


class FixedSampler(nn.Module):
    """(B, Z) -> (B, *shape): a known sample per latent, in [-1, 1] for images."""

    def __init__(self, sampler: str):
        super().__init__()
        self.sampler = sampler
        self.anchor = nn.Parameter(torch.zeros(1))  # a module with a parameter (devices, state dicts)
        if sampler in IMAGE_SAMPLERS:
            d = _digits()
            if sampler == "real":
                self.banks = [d.train]
            elif sampler == "one-class":
                self.banks = [d.train[d.train_labels == ONE_CLASS]]
            elif sampler == "five-classes":
                self.banks = [d.train[d.train_labels == c] for c in FIVE_CLASSES]
        else:
            ring = _ring()
            self.centres, self.std = ring.modes.float(), float(ring.mode_std)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        u = uniform(z[:, 0]).cpu()
        if self.sampler == "noise":
            b = z.shape[0]
            return (uniform(z[:, :64]).reshape(b, 1, 8, 8) * 2 - 1).to(z.device)
        if self.sampler in IMAGE_SAMPLERS:
            bank = (u * len(self.banks)).long()  # which class (one bank per class)
            pick = uniform(z[:, 1]).cpu()  # which image within it
            out = torch.stack([self.banks[k][int(p * len(self.banks[k]))] for k, p in zip(bank.tolist(), pick.tolist())])
            return (out.float() / 127.5 - 1).to(z.device)  # uint8 -> [-1, 1]
        k = (u * len(self.centres)).long()
        offset = z[:, 1:3].cpu() * self.std
        if self.sampler == "one-mode":
            return (self.centres[ONE_MODE] + offset).to(z.device)
        if self.sampler == "between":
            mid = (self.centres[k] + self.centres[(k + 1) % len(self.centres)]) / 2
            return (mid + offset).to(z.device)
        if self.sampler == "wide":
            return (self.centres[k] + 3 * offset).to(z.device)
        return (self.centres[k] + offset).to(z.device)  # mixture


class FlatDiscriminator(Discriminator):
    """Never trained here: a linear score on the flattened sample."""

    def __init__(self, numel: int):
        super().__init__()
        self.head = nn.Linear(numel, 1)

    def features(self, x):
        return x.flatten(1)


def fixed_sampler(data: DataSpec, z_dim: int, sampler: str = "real") -> Models:
    if sampler not in IMAGE_SAMPLERS + POINT_SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(IMAGE_SAMPLERS + POINT_SAMPLERS)}, got {sampler!r}")
    if sampler == "noise" and z_dim < 64:
        raise ValueError("the noise sampler needs z_dim >= 64 (one latent per pixel of an 8x8 image)")
    return Models(FixedSampler(sampler), FlatDiscriminator(math.prod(data.shape)))


@hookimpl
def register_architectures(register):
    register("fixed-sampler", fixed_sampler)
