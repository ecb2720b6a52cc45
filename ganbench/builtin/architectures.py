"""Built-in architectures: the MLP GAN and DCGAN.

Registered through ganbench's own entry point, exactly like a third-party plugin. The
torch modules are in ``architecture_modules``, imported when a model is built: registering
the factories (and validating a suite against their signatures) does not import torch.
"""

from __future__ import annotations

from typing import Literal

from ..contracts import DataSpec, Models
from ..hookspecs import hookimpl

Norm = Literal["batch", "layer", "none", "spectral"]


@hookimpl
def register_architectures(register):
    register("mlp", mlp)
    register("dcgan", dcgan)


# ---------------------------------------------------------------- MLP GAN

# Keras' BatchNormalization(momentum=0.8) keeps 0.8 of the old running value; torch's
# momentum is the weight of the *new* batch statistic, so the same rule is 0.2 here.
KERAS_BN_MOMENTUM = 0.2


def mlp(
    data: DataSpec,
    z_dim: int,
    g_hidden: list[int] = (256, 512, 1024),
    d_hidden: list[int] = (512, 256),
    bn_momentum: float = KERAS_BN_MOMENTUM,
    d_norm: Norm = "none",  # the Keras D has no normalization
) -> Models:
    """The vanilla GAN of the Keras example the project grew from.

    G: Dense 256-512-1024, each followed by LeakyReLU(0.2) then BatchNorm (Keras
    momentum 0.8), then Dense to the sample size with tanh for images (linear for 2-D
    points and tabular rows, whose values are not bounded to [-1, 1]). D: Flatten, Dense
    512-256 with LeakyReLU(0.2), then one raw score (the loss decides sigmoid or not).
    Weights start as Keras' do (glorot uniform, zero bias).
    """
    from .architecture_modules import MLPDiscriminator, MLPGenerator, keras_init, spectral_normalize

    g_hidden, d_hidden = _widths("g_hidden", g_hidden), _widths("d_hidden", d_hidden)
    g = MLPGenerator(z_dim, data.shape, g_hidden, bn_momentum, tanh=data.kind == "image")
    d = MLPDiscriminator(data.shape, d_hidden, d_norm)
    g.apply(keras_init)
    d.apply(keras_init)
    if d_norm == "spectral":
        spectral_normalize(d)
    return Models(g, d)


def _widths(name: str, widths) -> list[int]:
    widths = list(widths)
    if not widths or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths):
        raise ValueError(f"{name} must be a non-empty list of positive layer widths, got {widths}")
    return widths


# ---------------------------------------------------------------- DCGAN


def dcgan(
    data: DataSpec,
    z_dim: int,
    ngf: int = 64,  # G's width at its last hidden layer (the tutorial's 64)
    ndf: int = 64,  # D's width at its first layer
    d_norm: Norm = "batch",
) -> Models:
    """DCGAN (Radford et al. 2016), as in the PyTorch DCGAN tutorial at 64x64.

    Strided (transposed) convolutions, no pooling or hidden fully connected layers,
    BatchNorm everywhere but G's output and D's input, ReLU in G with a tanh output,
    LeakyReLU(0.2) in D, weights ~ N(0, 0.02). `d_norm` swaps D's BatchNorm for layer
    norm, spectral norm or nothing (a WGAN-GP critic must not use BatchNorm).
    """
    if data.kind != "image" or len(data.shape) != 3:
        raise ValueError(f"dcgan needs images (C, H, W), not {data.kind} of shape {data.shape}; use mlp")
    c, h, w = data.shape
    if h != w:
        raise ValueError(f"dcgan needs square images, got {h}x{w}")
    if ngf < 1 or ndf < 1:
        raise ValueError(f"ngf and ndf must be >= 1, got {ngf} and {ndf}")
    from .architecture_modules import DCGANDiscriminator, DCGANGenerator, dcgan_init, spectral_normalize

    g, d = DCGANGenerator(z_dim, c, h, ngf), DCGANDiscriminator(c, h, ndf, d_norm)
    g.apply(dcgan_init)
    d.apply(dcgan_init)
    if d_norm == "spectral":
        spectral_normalize(d)
    return Models(g, d)


# The torch modules, still importable from here (`from ganbench.builtin.architectures
# import DCGANGenerator`): looked up in architecture_modules on first access.
_MODULES = (
    "KERAS_BN_EPS",
    "dcgan_layout",
    "dcgan_init",
    "keras_init",
    "spectral_normalize",
    "MLPGenerator",
    "MLPDiscriminator",
    "DCGANGenerator",
    "DCGANDiscriminator",
)


def __getattr__(name: str):
    if name in _MODULES:
        from . import architecture_modules

        return getattr(architecture_modules, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
