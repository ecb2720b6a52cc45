"""The "standard CNN" of SNGAN (Miyato et al., "Spectral normalization for GANs", ICLR 2018,
Table 3), generalised from 32x32 to any size base * 2**k (28x28 MNIST: 7 * 2**2).

G: z -> dense to (base, base, 8w) -> k x [deconv 4x4 stride 2, BatchNorm, ReLU, halving
the channels] -> conv 3x3 to C channels -> tanh. At 32x32 with w = 64: 512-256-128-64.
D: conv 3x3 (w) -> k x [conv 4x4 stride 2 (same channels), conv 3x3 (doubling)], each
followed by LeakyReLU(0.1), spectral norm on every layer -> dense to one score.
At 32x32: 64, 64, 128, 128, 256, 256, 512 channels, as in the paper.
"""

from __future__ import annotations

from ganbench.contracts import DataSpec, Models  # light: ganbench's contracts import no torch


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
    from .modules import SNGANDiscriminator, SNGANGenerator  # torch, only when a model is built

    return Models(SNGANGenerator(z_dim, c, h, width), SNGANDiscriminator(c, h, width, spectral, slope))


# SNGAN's recipe (Miyato et al. 2018, the standard CNN setting): 5 D steps per G step and
# Adam(2e-4, betas 0, 0.9). A suite that names sngan-cnn gets it unless it says otherwise.
sngan_cnn.defaults = {"n_disc": 5, "optimizer": {"name": "adam", "lr": 2.0e-4, "betas": [0.0, 0.9]}}
