"""Built-in augments of D's inputs: DiffAugment and ADA (``ganbench.augment``).

Registered through ganbench's own entry point like every plugin; the torch code is in
``augment_ops``, imported when an augment is made, so registering them imports no torch.
"""

from __future__ import annotations

from ..hookspecs import hookimpl

DIFFAUGMENT_POLICIES = ("color", "translation", "cutout")


@hookimpl
def register_augments(register):
    register("diffaugment", diffaugment)
    register("ada", ada)


def diffaugment(policy: str = "color,translation,cutout", translation: float = 0.125, cutout: float = 0.5):
    """DiffAugment (Zhao et al. 2020) with a comma-separated `policy` of color,
    translation, cutout (the paper's choice for data-efficient training: all three);
    `translation`: the largest shift as a share of the image side (1/8); `cutout`: the
    side of the erased square as a share of the image side (1/2)."""
    parts = [p.strip() for p in policy.split(",") if p.strip()]
    unknown = [p for p in parts if p not in DIFFAUGMENT_POLICIES]
    if not parts or unknown or len(set(parts)) != len(parts):
        raise ValueError(f"diffaugment: policy must be distinct names among {', '.join(DIFFAUGMENT_POLICIES)}, got {policy!r}")
    if not 0 <= translation < 1 or not 0 < cutout < 1:
        raise ValueError(f"diffaugment: translation must be in [0, 1) and cutout in (0, 1), got {translation} and {cutout}")
    from .augment_ops import DiffAugment

    return DiffAugment(parts, translation, cutout)


def ada(target: float = 0.6, interval: int = 4, speed_img: int = 500_000, p: float = 0.0, max_p: float = 1.0):
    """ADA (Karras et al. 2020): the `bgc` pipeline (x-flip, 90-degree rotations, integer
    translation; isotropic and anisotropic scaling, rotation, fractional translation;
    brightness, contrast, saturation), each transform applied with probability p. Every
    `interval` D updates, p moves by (images seen since) / `speed_img` towards keeping
    r_t = E[sign(D(real))] at `target` (the paper: 0.6, every 4 minibatches, 500k images
    for p to go from 0 to 1). `p`: the starting probability; `max_p`: its ceiling."""
    if not 0 < target < 1 or interval < 1 or speed_img < 1 or not 0 <= p <= max_p <= 1:
        raise ValueError("ada: target in (0, 1), interval and speed_img >= 1, 0 <= p <= max_p <= 1")
    from .augment_ops import ADA

    return ADA(target, interval, speed_img, p, max_p)
