"""The torch modules of SNGAN's standard CNN (see architectures.py for the layout).

Only the factory in architectures.py imports this module, when a model is built: loading the
plugin (``ganbench plugins``, ``ganbench run --dry-run``) never imports torch.
"""

from __future__ import annotations

import math

from torch import nn

from ganbench.contracts import Discriminator


def layout(size: int) -> tuple[int, int]:
    """size = base * 2**k with base 4 (32, 64) or 7 (28): return (base, k)."""
    for base in (4, 7):
        k = round(math.log2(size / base)) if size >= base else -1
        if k >= 1 and base * 2**k == size:
            return base, k
    raise ValueError(f"sngan-cnn builds images of size 4*2^k or 7*2^k (8, 14, 16, 28, 32, 64...), not {size}")


class SNGANGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, size: int, width: int):
        super().__init__()
        self.base, k = layout(size)
        top = width * 2**k
        self.project = nn.Linear(z_dim, top * self.base * self.base)  # (B, Z) -> (B, top*base^2)
        self.top = top
        layers: list[nn.Module] = [nn.BatchNorm2d(top), nn.ReLU(True)]
        for _ in range(k):  # each doubles the size and halves the channels
            layers += [nn.ConvTranspose2d(top, top // 2, 4, 2, 1), nn.BatchNorm2d(top // 2), nn.ReLU(True)]
            top //= 2
        layers += [nn.Conv2d(top, channels, 3, 1, 1), nn.Tanh()]  # to [-1, 1], the data's range
        self.net = nn.Sequential(*layers)

    def forward(self, z):  # (B, Z) -> (B, C, H, W)
        return self.net(self.project(z).view(z.shape[0], self.top, self.base, self.base))


class SNGANDiscriminator(Discriminator):
    def __init__(self, channels: int, size: int, width: int, spectral: bool, slope: float):
        super().__init__()
        base, k = layout(size)
        sn = nn.utils.parametrizations.spectral_norm if spectral else (lambda m: m)
        layers: list[nn.Module] = [sn(nn.Conv2d(channels, width, 3, 1, 1)), nn.LeakyReLU(slope)]
        ch = width
        for _ in range(k):  # each halves the size, then doubles the channels
            layers += [sn(nn.Conv2d(ch, ch, 4, 2, 1)), nn.LeakyReLU(slope)]
            layers += [sn(nn.Conv2d(ch, ch * 2, 3, 1, 1)), nn.LeakyReLU(slope)]
            ch *= 2
        self.trunk = nn.Sequential(*layers)  # (B, C, H, W) -> (B, w*2^k, base, base)
        self.head = nn.Sequential(nn.Flatten(), sn(nn.Linear(ch * base * base, 1)))  # -> (B, 1)

    def features(self, x):
        return self.trunk(x)
