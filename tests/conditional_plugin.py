"""A test plugin of a conditional fixed sampler, for the conditional metrics' known answers.

Architecture `class-sampler` (conditional): G(z, y) returns a training digit of class y
(scikit-learn's 8x8 digits; z[:, 0] picks which one), or with `ignore_labels: true` a
training digit of any class, whatever y asks for.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn

from ganbench import hookimpl
from ganbench.contracts import DataSpec, Discriminator, Models


@functools.lru_cache(maxsize=None)
def _digits():
    from ganbench.builtin.datasets import digits

    return digits()


class ClassSampler(nn.Module):
    conditional = True

    def __init__(self, ignore_labels: bool):
        super().__init__()
        d = _digits()
        self.num_classes = d.num_classes
        self.banks = [d.train[d.train_labels == c] for c in range(d.num_classes)]
        self.all = d.train
        self.ignore = ignore_labels
        self.anchor = nn.Parameter(torch.zeros(1))

    def forward(self, z, y=None):
        u = (0.5 * (1 + torch.erf(z[:, 0].cpu() / math.sqrt(2)))).clamp(0, 1 - 1e-7)
        if self.ignore:
            out = self.all[(u * len(self.all)).long()]
        else:
            out = torch.stack([self.banks[c][int(p * len(self.banks[c]))] for c, p in zip(y.tolist(), u.tolist())])
        return (out.float() / 127.5 - 1).to(z.device)


class ConditionalFlatD(Discriminator):
    conditional = True

    def __init__(self, numel: int):
        super().__init__()
        self.head = nn.Linear(numel, 1)

    def features(self, x):
        return x.flatten(1)

    def forward(self, x, y=None):
        return self.head(self.features(x)).reshape(len(x))


def class_sampler(data: DataSpec, z_dim: int, ignore_labels: bool = False) -> Models:
    return Models(ClassSampler(ignore_labels), ConditionalFlatD(math.prod(data.shape)), conditional=True)


class_sampler.conditional = True


@hookimpl
def register_architectures(register):
    register("class-sampler", class_sampler)
