"""The "standard CNN" of SNGAN (Miyato et al., "Spectral normalization for GANs", ICLR 2018,
Table 3), generalised from 32x32 to any size base * 2**k (28x28 MNIST: 7 * 2**2).

G: z -> dense to (base, base, 8w) -> k x [deconv 4x4 stride 2, BatchNorm, ReLU, halving
the channels] -> conv 3x3 to C channels -> tanh. At 32x32 with w = 64: 512-256-128-64.
D: conv 3x3 (w) -> k x [conv 4x4 stride 2 (same channels), conv 3x3 (doubling)], each
followed by LeakyReLU(0.1), spectral norm on every layer -> dense to one score.
At 32x32: 64, 64, 128, 128, 256, 256, 512 channels, as in the paper.
"""

from __future__ import annotations

import math

from torch import nn

from ganbench.contracts import DataSpec, Discriminator, Models


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


def sngan_cnn(data: DataSpec, z_dim: int, width: int = 64, spectral: bool = True, slope: float = 0.1) -> Models:
    """SNGAN's standard CNN pair. width: D's first channel count (the paper's 64; G's top
    is width * 2**k). spectral: false gives the same D without spectral norm, for ablations.
    slope: D's LeakyReLU slope (0.1 in the paper). PyTorch's default initialisation is kept.
    """
    if data.kind != "image" or len(data.shape) != 3:
        raise ValueError(f"sngan-cnn needs images (C, H, W), not {data.kind} of shape {data.shape}")
    c, h, w = data.shape
    if h != w:
        raise ValueError(f"sngan-cnn needs square images, got {h}x{w}")
    return Models(SNGANGenerator(z_dim, c, h, width), SNGANDiscriminator(c, h, width, spectral, slope))


# SNGAN's recipe (Miyato et al. 2018, the standard CNN setting): 5 D steps per G step and
# Adam(2e-4, betas 0, 0.9). A suite that names sngan-cnn gets it unless it says otherwise.
sngan_cnn.defaults = {"n_disc": 5, "optimizer": {"name": "adam", "lr": 2.0e-4, "betas": [0.0, 0.9]}}
