"""Images that are not data: the mode classifier's extra class, so that `confident_frac`
counts only samples that look like the dataset at all.

A K-way softmax is confident on anything, noise included (the mnist5k classifier gave 100%
of uniform noise a top-class probability >= 0.9), so the classifier is trained with a
(K+1)-th class of such images, made from each training batch (Hendrycks et al. 2019,
"Deep Anomaly Detection with Outlier Exposure", with synthetic outliers):

  uniform-noise   every pixel uniform on [0, 1]
  constant        one random grey level everywhere
  pixel-shuffled  a real image with its pixels permuted (same intensities, no strokes)
  blurred         a real image under a box blur a quarter of its width wide
  low-res-noise   uniform noise at a quarter of the resolution, bilinearly upsampled (blobs)

Cut-and-paste images (quadrants of four real images) were tried and left out: on the 8x8
digits they made the classifier reject half of the real held-out digits (a quadrant of a
digit is too much like a digit), so the rule would no longer pass real data.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

KINDS = ("uniform-noise", "constant", "pixel-shuffled", "blurred", "low-res-noise")
SHARE = 0.25  # non-data images added to each training batch, as a share of its real images


def blur(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> the same under a box blur of odd width >= 3, about W / 4."""
    k = max(3, (x.shape[-1] // 4) | 1)
    w = torch.ones(1, 1, k, k, device=x.device) / (k * k)
    return F.conv2d(x.reshape(-1, 1, *x.shape[2:]), w, padding=k // 2).reshape(x.shape)


def make(x: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Real images (B, C, H, W) in [0, 1] -> (non-data images like them, kind index (B,) into KINDS).

    Randomness comes from `gen` (a CPU generator) only."""
    b, shape = x.shape[0], x.shape
    kind = torch.randint(len(KINDS), (b,), generator=gen)
    lo = max(2, shape[-1] // 4)
    perm = torch.argsort(torch.rand(b, x[0].numel(), generator=gen), 1).to(x.device)
    made = [
        torch.rand(shape, generator=gen).to(x.device),
        torch.rand(b, 1, 1, 1, generator=gen).to(x.device).expand(shape),
        torch.gather(x.reshape(b, -1), 1, perm).reshape(shape),
        blur(x),
        F.interpolate(torch.rand(b, shape[1], lo, lo, generator=gen).to(x.device), size=shape[-2:], mode="bilinear", align_corners=False),
    ]
    out = torch.empty_like(x)
    for i, images in enumerate(made):
        out = torch.where((kind == i).to(x.device)[:, None, None, None], images, out)
    return out, kind
