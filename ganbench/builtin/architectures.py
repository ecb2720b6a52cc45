"""Built-in architectures: the MLP GAN and DCGAN.

Registered through ganbench's own entry point, exactly like a third-party plugin.
"""

from __future__ import annotations

import math
from typing import Literal

from torch import nn

from ..contracts import DataSpec, Discriminator, Models
from ..hookspecs import hookimpl

Norm = Literal["batch", "layer", "none", "spectral"]


@hookimpl
def register_architectures(register):
    register("mlp", mlp)
    register("dcgan", dcgan)


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


# ---------------------------------------------------------------- MLP GAN


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, ...], hidden, momentum: float, tanh: bool):
        super().__init__()
        layers, width = [], z_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2), nn.BatchNorm1d(h, momentum=momentum)]
            width = h
        layers.append(nn.Linear(width, math.prod(shape)))
        if tanh:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        self.shape = shape

    def forward(self, z):  # (B, Z) -> (B, *shape)
        return self.net(z).view(z.shape[0], *self.shape)


class MLPDiscriminator(Discriminator):
    def __init__(self, shape: tuple[int, ...], hidden, norm: str):
        super().__init__()
        layers, width = [nn.Flatten()], math.prod(shape)
        for h in hidden:
            layers += [_sn(nn.Linear(width, h), norm), nn.LeakyReLU(0.2)]
            if norm == "layer":
                layers.append(nn.LayerNorm(h))
            width = h
        self.trunk = nn.Sequential(*layers)
        self.head = _sn(nn.Linear(width, 1), norm)

    def features(self, x):  # (B, *shape) -> (B, hidden[-1])
        return self.trunk(x)


def mlp(
    data: DataSpec,
    z_dim: int,
    g_hidden: list = (256, 512, 1024),
    d_hidden: list = (512, 256),
    bn_momentum: float = 0.2,
    d_norm: Norm = "none",
) -> Models:
    """The vanilla GAN of the Keras example the project grew from.

    G: Dense 256-512-1024, each with LeakyReLU(0.2) then BatchNorm, then Dense to the
    sample size with tanh for images (linear for points and tabular rows, whose values
    are not bounded to [-1, 1]). D: Dense 512-256 with LeakyReLU(0.2), then one score.
    bn_momentum 0.2 is Keras' BatchNormalization(momentum=0.8): torch weights the *new*
    batch statistics by its momentum, Keras weights the old running value.
    """
    g = MLPGenerator(z_dim, data.shape, list(g_hidden), bn_momentum, tanh=data.kind == "image")
    d = MLPDiscriminator(data.shape, list(d_hidden), d_norm)
    return Models(g, d)


# ---------------------------------------------------------------- DCGAN


def _sn(layer: nn.Module, norm: str) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(layer) if norm == "spectral" else layer


def _norm2d(channels: int, norm: str) -> list[nn.Module]:
    if norm == "batch":
        return [nn.BatchNorm2d(channels)]
    if norm == "layer":  # LayerNorm over (C, H, W): per-sample, as a WGAN-GP critic needs
        return [nn.GroupNorm(1, channels)]
    return []  # none, or spectral (applied to the convolutions themselves)


def dcgan_layout(size: int) -> tuple[int, int]:
    """size = base * 2**k with base 4 (64, 32, 16, 8) or 7 (28): return (base, k)."""
    for base in (4, 7):
        k = round(math.log2(size / base)) if size >= base else -1
        if k >= 1 and base * 2**k == size:
            return base, k
    raise ValueError(f"dcgan builds images of size 4*2^k or 7*2^k (8, 16, 28, 32, 64, 128...), not {size}")


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, size: int, ngf: int):
        super().__init__()
        base, k = dcgan_layout(size)
        width = ngf * 2 ** (k - 1)
        # (B, Z, 1, 1) -> (B, width, base, base): a "project and reshape" done as a conv
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
        layers, width = [_sn(nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), norm), nn.LeakyReLU(0.2, True)], ndf
        for _ in range(k - 1):  # each halves the size and doubles the channels
            layers += [_sn(nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), norm), *_norm2d(width * 2, norm), nn.LeakyReLU(0.2, True)]
            width *= 2
        self.trunk = nn.Sequential(*layers)  # (B, C, H, W) -> (B, width, base, base)
        self.head = _sn(nn.Conv2d(width, 1, base, 1, 0, bias=False), norm)  # -> (B, 1, 1, 1)

    def features(self, x):
        return self.trunk(x)


def dcgan(
    data: DataSpec,
    z_dim: int,
    ngf: int = 64,
    ndf: int = 64,
    d_norm: Norm = "batch",
) -> Models:
    """DCGAN (Radford et al. 2016), as in the PyTorch DCGAN tutorial at 64x64.

    Strided (transposed) convolutions, no pooling or hidden fully connected layers,
    BatchNorm everywhere but G's output and D's input, ReLU in G with a tanh output,
    LeakyReLU(0.2) in D, weights ~ N(0, 0.02). `d_norm` swaps D's BatchNorm for layer
    norm, spectral norm or nothing (a WGAN-GP critic must not use BatchNorm).
    """
    if data.kind != "image" or len(data.shape) != 3:
        raise ValueError(f"dcgan needs images (C, H, W), not {data.kind} of shape {data.shape}")
    c, h, w = data.shape
    if h != w:
        raise ValueError(f"dcgan needs square images, got {h}x{w}")
    g, d = DCGANGenerator(z_dim, c, h, ngf), DCGANDiscriminator(c, h, ndf, d_norm)
    g.apply(dcgan_init)
    d.apply(dcgan_init)
    return Models(g, d)
