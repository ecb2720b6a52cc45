"""The torch modules of the built-in architectures.

``ganbench.builtin.architectures`` registers the factories that build them and imports
this module only when a model is built, so registering them does not import torch.
"""

from __future__ import annotations

import math

from torch import nn

from ..contracts import Discriminator

KERAS_BN_EPS = 1e-3  # Keras' default epsilon (torch's is 1e-5)


def dcgan_layout(size: int) -> tuple[int, int]:
    """size = base * 2**k with base 4 (64, 32, 16, 8) or 7 (28): return (base, k)."""
    for base in (4, 7):
        k = round(math.log2(size / base)) if size >= base else -1
        if k >= 1 and base * 2**k == size:
            return base, k
    raise ValueError(f"dcgan builds images of size 4*2^k or 7*2^k (8, 14, 16, 28, 32, 56, 64, 128...), not {size}")


# ---------------------------------------------------------------- initialisation


def dcgan_init(m: nn.Module) -> None:
    """DCGAN paper: conv weights ~ N(0, 0.02); BatchNorm scale ~ N(1, 0.02), shift 0."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def keras_init(m: nn.Module) -> None:
    """Keras' Dense defaults (glorot_uniform kernel, zero bias), so the MLP GAN starts
    where the Keras example does; torch's Linear default is a different uniform."""
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)


def spectral_normalize(module: nn.Module) -> None:
    """Wrap every conv / linear weight of `module` in spectral norm (Miyato et al. 2018).

    Applied after initialisation: once parametrized, `layer.weight` is a computed tensor
    and initialising it in place would leave the stored weight untouched.
    """
    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.utils.parametrizations.spectral_norm(m)


# ---------------------------------------------------------------- MLP GAN


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, ...], hidden: list[int], momentum: float, tanh: bool):
        super().__init__()
        layers, width = [], z_dim
        for h in hidden:  # Keras example order: Dense -> LeakyReLU -> BatchNorm
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2), nn.BatchNorm1d(h, eps=KERAS_BN_EPS, momentum=momentum)]
            width = h
        layers.append(nn.Linear(width, math.prod(shape)))
        if tanh:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        self.shape = shape

    def forward(self, z):  # (B, Z) -> (B, *shape)
        return self.net(z).view(z.shape[0], *self.shape)


class MLPDiscriminator(Discriminator):
    def __init__(self, shape: tuple[int, ...], hidden: list[int], norm: str):
        super().__init__()
        layers, width = [nn.Flatten()], math.prod(shape)
        for i, h in enumerate(hidden):
            layers.append(nn.Linear(width, h))
            if i > 0 and norm == "batch":  # never on D's input layer (the DCGAN rule)
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.LeakyReLU(0.2))
            if norm == "layer":  # per sample: safe under a gradient penalty
                layers.append(nn.LayerNorm(h))
            width = h
        self.trunk = nn.Sequential(*layers)  # (B, *shape) -> (B, hidden[-1])
        self.head = nn.Linear(width, 1)  # raw score; the loss applies sigmoid or not

    def features(self, x):
        return self.trunk(x)


# ---------------------------------------------------------------- DCGAN


def _norm2d(channels: int, norm: str) -> list[nn.Module]:
    if norm == "batch":
        return [nn.BatchNorm2d(channels)]
    if norm == "layer":
        # Normalizes each sample over (C, H, W) with a per-channel scale and shift: the
        # layer norm of the WGAN-GP authors' critic (tflib Layernorm over axes 1, 2, 3).
        return [nn.GroupNorm(1, channels)]
    return []  # none, or spectral (applied to the convolutions themselves)


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, size: int, ngf: int):
        super().__init__()
        base, k = dcgan_layout(size)
        width = ngf * 2 ** (k - 1)
        # (B, Z, 1, 1) -> (B, width, base, base): the paper's "project and reshape", as a conv
        layers = [nn.ConvTranspose2d(z_dim, width, base, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
        for _ in range(k - 1):  # each doubles the size and halves the channels
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        # no BatchNorm on G's output; tanh maps to the data's [-1, 1]
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z):  # (B, Z) -> (B, C, H, W)
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(Discriminator):
    def __init__(self, channels: int, size: int, ndf: int, norm: str):
        super().__init__()
        base, k = dcgan_layout(size)
        # no normalization on D's input layer
        layers, width = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)], ndf
        for _ in range(k - 1):  # each halves the size and doubles the channels
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), *_norm2d(width * 2, norm), nn.LeakyReLU(0.2, True)]
            width *= 2
        self.trunk = nn.Sequential(*layers)  # (B, C, H, W) -> (B, width, base, base)
        self.head = nn.Conv2d(width, 1, base, 1, 0, bias=False)  # -> (B, 1, 1, 1), no sigmoid

    def features(self, x):
        return self.trunk(x)
