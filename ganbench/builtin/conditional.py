"""Built-in conditional architectures: a DCGAN with a projection discriminator, and ACGAN.

Registered through ganbench's own entry point like every plugin. Both generators are the
DCGAN generator with the class joined to its input; ``build.conditional = True`` tells
ganbench, before anything is built, that the pair takes labels: ``G(z, y)``, ``D(x, y)``
(``ganbench.contracts.Models``). The modules are in ``conditional_modules``.
"""

from __future__ import annotations

from ..contracts import DataSpec, Models
from ..hookspecs import hookimpl
from .architectures import Norm


@hookimpl
def register_architectures(register):
    register("cdcgan", cdcgan)
    register("acgan", acgan)


def _classes(data: DataSpec, name: str) -> int:
    if data.kind != "image" or len(data.shape) != 3:
        raise ValueError(f"{name} needs images (C, H, W), not {data.kind} of shape {data.shape}")
    if not data.num_classes or data.num_classes < 2:
        raise ValueError(f"{name} is conditional: it needs a dataset with class labels (2 or more classes)")
    return data.num_classes


def cdcgan(data: DataSpec, z_dim: int, ngf: int = 64, ndf: int = 64, g_embed: int | None = None, d_norm: Norm = "batch") -> Models:
    """A conditional DCGAN: G is the DCGAN generator on [z, e(y)], e a learned class
    embedding of `g_embed` dimensions (default: the number of classes; 0: one-hot, as
    Mirza & Osindero 2014 concatenate); D is the DCGAN trunk with a projection head
    (Miyato & Koyama 2018): D(x, y) = psi(phi(x)) + <V e_y, phi(x)>, phi the trunk's
    features summed over space, psi linear, V a class embedding. The losses are the
    usual ones on D(x, y)'s scores (hinge with projection is StudioGAN's common setting)."""
    from .conditional_modules import build_pair

    k = _classes(data, "cdcgan")
    g, d = build_pair(data, z_dim, ngf, ndf, k, k if g_embed is None else g_embed, d_norm, projection=True)
    return Models(g, d, conditional=True)


def acgan(data: DataSpec, z_dim: int, ngf: int = 64, ndf: int = 64, aux_weight: float = 1.0, d_norm: Norm = "batch") -> Models:
    """ACGAN (Odena et al. 2017): G is the DCGAN generator on [z, one-hot(y)]; D's trunk
    feeds two heads, the unconditional real/fake score and K class logits. aux_weight x
    the cross-entropy of the logits (real images with their labels, fakes with the labels
    they were drawn for) joins D's loss, and the fakes' joins G's: D maximises L_S + L_C,
    G maximises L_C - L_S, in the paper's notation, with L_C weighted."""
    from .conditional_modules import build_pair

    if not aux_weight > 0:
        raise ValueError(f"acgan: aux_weight must be > 0, got {aux_weight}")
    k = _classes(data, "acgan")
    g, d = build_pair(data, z_dim, ngf, ndf, k, 0, d_norm, projection=False)
    return Models(g, d, conditional=True, aux_weight=float(aux_weight))


cdcgan.conditional = True  # type: ignore[attr-defined]
acgan.conditional = True  # type: ignore[attr-defined]
