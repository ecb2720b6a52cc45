"""A test plugin of fixed samplers: "generators" whose samples are known, for known-answer tests.

Architecture `fixed-sampler` with options `sampler` and `source` builds a generator that
maps each latent z to a known sample, deterministically (the evaluator's fixed noise picks
the samples):

images (`source`: a built-in image dataset, SOURCES; default scikit-learn's 8x8 digits):
  real          training images (held out from the evaluator's real side, the test split)
  one-class     training images of class 3 only
  five-classes  training images of classes 0-4, the five classes equally often
  noise         uniform noise: every pixel Phi(z_i), uniform on [0, 1] (needs z_dim >= pixels)
  inverted      training images with their intensities inverted (255 - x): not data, and
                not one of the kinds the mode classifier's non-data class is trained on

2-D points (`source` ring8: 8 centres on the unit circle, sigma 0.01; or grid25):
  mixture       exact mixture samples: a uniform centre plus sigma * N(0, I)
  one-mode      centre 2 plus sigma * N(0, I)
  between       the midpoint between a centre and its nearest neighbour plus sigma * N(0, I)
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

IMAGE_SAMPLERS = ("real", "one-class", "five-classes", "noise", "inverted")
# source -> (dataset config, loader): the built-in image protocols the samplers draw from
SOURCES = {
    "digits": {"name": "digits"},
    "mnist5k": {"name": "mnist5k"},
    "fashion-mnist": {"name": "fashion-mnist", "subset": 5000, "download": False},  # the losses suite's CPU subset
}
POINT_SAMPLERS = ("mixture", "one-mode", "between", "wide")
ONE_CLASS = 3
FIVE_CLASSES = (0, 1, 2, 3, 4)
ONE_MODE = 2


def uniform(z: torch.Tensor) -> torch.Tensor:
    """N(0, 1) -> U(0, 1), elementwise (the normal CDF), kept strictly below 1."""
    return (0.5 * (1 + torch.erf(z / math.sqrt(2)))).clamp(0, 1 - 1e-7)


@functools.lru_cache(maxsize=None)
def _images(source: str):
    from ganbench.builtin import image_datasets

    options = {k: v for k, v in SOURCES[source].items() if k != "name"}
    return getattr(image_datasets, source.replace("-", "_"))(**options)


POINT_SOURCES = ("ring8", "grid25")


@functools.lru_cache(maxsize=None)
def _mixture(source: str):
    from ganbench.builtin import datasets

    return getattr(datasets, source)()


class FixedSampler(nn.Module):
    """(B, Z) -> (B, *shape): a known sample per latent, in [-1, 1] for images."""

    def __init__(self, sampler: str, source: str = "digits"):
        super().__init__()
        self.sampler = sampler
        self.anchor = nn.Parameter(torch.zeros(1))  # a module with a parameter (devices, state dicts)
        if sampler in IMAGE_SAMPLERS:
            d = _images(source)
            self.shape = tuple(d.train.shape[1:])
            if sampler in ("real", "inverted"):
                self.banks = [d.train if sampler == "real" else 255 - d.train]
            elif sampler == "one-class":
                self.banks = [d.train[d.train_labels == ONE_CLASS]]
            elif sampler == "five-classes":
                self.banks = [d.train[d.train_labels == c] for c in FIVE_CLASSES]
        else:
            ring = _mixture(source if source in POINT_SOURCES else "ring8")
            self.centres, self.std = ring.modes.float(), float(ring.mode_std)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        u = uniform(z[:, 0]).cpu()
        if self.sampler == "noise":
            b, pixels = z.shape[0], math.prod(self.shape)
            return (uniform(z[:, :pixels]).reshape(b, *self.shape) * 2 - 1).to(z.device)
        if self.sampler in IMAGE_SAMPLERS:
            bank = (u * len(self.banks)).long()  # which class (one bank per class)
            pick = uniform(z[:, 1]).cpu()  # which image within it
            out = torch.stack([self.banks[k][int(p * len(self.banks[k]))] for k, p in zip(bank.tolist(), pick.tolist())])
            return (out.float() / 127.5 - 1).to(z.device)  # uint8 -> [-1, 1]
        k = (u * len(self.centres)).long()
        offset = z[:, 1:3].cpu() * self.std
        if self.sampler == "one-mode":
            return (self.centres[ONE_MODE] + offset).to(z.device)
        if self.sampler == "between":  # halfway to the centre's nearest other centre (its ring or grid neighbour)
            d = torch.cdist(self.centres, self.centres).fill_diagonal_(math.inf)
            mid = (self.centres[k] + self.centres[d.argmin(1)[k]]) / 2
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


def fixed_sampler(data: DataSpec, z_dim: int, sampler: str = "real", source: str = "digits") -> Models:
    if sampler not in IMAGE_SAMPLERS + POINT_SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(IMAGE_SAMPLERS + POINT_SAMPLERS)}, got {sampler!r}")
    if source not in (*SOURCES, *POINT_SOURCES):
        raise ValueError(f"source must be one of {', '.join((*SOURCES, *POINT_SOURCES))}, got {source!r}")
    if sampler == "noise" and z_dim < math.prod(data.shape):
        raise ValueError(f"the noise sampler needs z_dim >= {math.prod(data.shape)} (one latent per pixel)")
    return Models(FixedSampler(sampler, source), FlatDiscriminator(math.prod(data.shape)))


@hookimpl
def register_architectures(register):
    register("fixed-sampler", fixed_sampler)
