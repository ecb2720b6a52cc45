"""The torch modules of the conditional architectures (``ganbench.builtin.conditional``)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..contracts import DataSpec, Discriminator
from .architecture_modules import DCGANDiscriminator, DCGANGenerator, dcgan_init, spectral_normalize


def default_labels(n: int, classes: int, device) -> torch.Tensor:
    """The labels a conditional generator uses when called without any: 0, 1, ..., K-1, 0, ..."""
    return torch.arange(n, device=device) % classes


class ConditionalGenerator(nn.Module):
    """G(z, y) = DCGAN(concat(z, e(y))): (B, Z), (B,) -> (B, C, H, W)."""

    conditional = True

    def __init__(self, z_dim: int, channels: int, size: int, ngf: int, classes: int, embed: int):
        super().__init__()
        self.num_classes = classes
        self.embed = nn.Embedding(classes, embed) if embed else None  # None: one-hot
        self.net = DCGANGenerator(z_dim + (embed or classes), channels, size, ngf)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            y = default_labels(len(z), self.num_classes, z.device)
        e = self.embed(y) if self.embed is not None else F.one_hot(y, self.num_classes).to(z.dtype)  # (B, E)
        return self.net(torch.cat([z, e.to(z.dtype)], 1))


class ProjectionHead(nn.Module):
    """psi(phi) + <V e_y, phi>, phi (B, W, h, w) summed over space: (B,) scores."""

    def __init__(self, width: int, classes: int):
        super().__init__()
        self.linear = nn.Linear(width, 1)
        self.embed = nn.Embedding(classes, width)

    def forward(self, features: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        phi = features.sum((2, 3))  # (B, W): global sum pooling
        return self.linear(phi).squeeze(1) + (self.embed(y) * phi).sum(1)


class AuxHead(nn.Module):
    """ACGAN's two heads on the pooled trunk: (scores (B,), class logits (B, K))."""

    def __init__(self, width: int, base: int, classes: int):
        super().__init__()
        self.score = nn.Conv2d(width, 1, base, 1, 0, bias=False)  # DCGAN's own head
        self.classes = nn.Conv2d(width, classes, base, 1, 0)

    def forward(self, features: torch.Tensor, y=None):
        return self.score(features).flatten(), self.classes(features).flatten(1)


class ConditionalDiscriminator(Discriminator):
    """The DCGAN trunk and a conditional head: D(x, y) -> (B,) scores, or (scores, logits) for ACGAN."""

    conditional = True

    def __init__(self, trunk: nn.Module, head: nn.Module, classes: int):
        super().__init__()
        self.trunk, self.head, self.num_classes = trunk, head, classes

    def features(self, x):
        return self.trunk(x)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        if y is None:
            y = default_labels(len(x), self.num_classes, x.device)
        return self.head(self.trunk(x), y)


def build_pair(data: DataSpec, z_dim: int, ngf: int, ndf: int, classes: int, g_embed: int, d_norm: str, projection: bool):
    c, h, w = data.shape
    if h != w:
        raise ValueError(f"conditional DCGANs need square images, got {h}x{w}")
    g = ConditionalGenerator(z_dim, c, h, ngf, classes, g_embed)
    plain = DCGANDiscriminator(c, h, ndf, d_norm)
    width, base = plain.head.in_channels, plain.head.kernel_size[0]
    head = ProjectionHead(width, classes) if projection else AuxHead(width, base, classes)
    d = ConditionalDiscriminator(plain.trunk, head, classes)
    g.apply(dcgan_init)
    d.apply(dcgan_init)
    if g.embed is not None:
        nn.init.normal_(g.embed.weight, 0.0, 1.0)  # unit-variance codes beside z ~ N(0, I)
    if projection:
        nn.init.normal_(head.embed.weight, 0.0, 0.02)  # the projection starts as small as psi (DCGAN's init)
    if d_norm == "spectral":
        spectral_normalize(d)
    return g, d
