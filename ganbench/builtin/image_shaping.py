"""What the image loaders share: shaping (resize, channels) and splitting whole datasets.

Leaf of the built-in image datasets (``image_datasets`` imports it, it imports none of
them). torch, torchvision and numpy are imported inside the functions, and torchvision
only to resize or to average RGB to grayscale: a worker that needs neither never pays
its import (~1.5 s, with the torch._dynamo it brings).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..contracts import GanData

if TYPE_CHECKING:  # annotations only: importing them at run time would load torch
    import numpy as np
    import torch

Channels = Literal[1, 3]
RESIZE_CHUNK = 8192  # images resized at once: bounds the float copy resizing makes


def shape_images(x: torch.Tensor, image_size: int | None, channels: int) -> torch.Tensor:
    """(N, 1|3, H, W) uint8 -> (N, channels, size, size) uint8, resized with antialiasing."""
    import torch

    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if image_size is not None and image_size < 1:
        raise ValueError(f"image_size must be >= 1, got {image_size}")
    if image_size is not None and image_size != x.shape[-1]:
        from torchvision.transforms.v2 import functional as TF  # only when resizing: ~1.5 s to import

        # in chunks: resize works in float, which would hold 4 bytes per pixel of the whole set
        x = torch.cat([TF.resize(c, [image_size, image_size], antialias=True) for c in x.split(RESIZE_CHUNK)])
    if channels == 3 and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1).contiguous()  # grayscale tiled to RGB
    elif channels == 1 and x.shape[1] == 3:
        from torchvision.transforms.v2 import functional as TF

        x = TF.rgb_to_grayscale(x)
    return x


def stratified_split(y: np.ndarray, test_per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic split: the last `test_per_class` samples of each class are the test set."""
    import numpy as np

    test = np.concatenate([np.flatnonzero(y == c)[-test_per_class:] for c in np.unique(y)])
    train = np.setdiff1d(np.arange(len(y)), test)
    return train, np.sort(test)


def fixed_subset(n: int, size: int | None, what: str) -> torch.Tensor | None:
    """Indices of a fixed random subset (seed 0, sorted) of `size` out of `n`; None = all."""
    import torch

    if size is None or size == n:
        return None
    if not 1 <= size <= n:
        raise ValueError(f"{what}: subset must be between 1 and {n}, got {size}")
    return torch.randperm(n, generator=torch.Generator().manual_seed(0))[:size].sort().values


def split_images(x, y, x_test, y_test, image_size, channels, subset, num_classes, **info) -> GanData:
    """Official train/test arrays (N, C, H, W) uint8-valued -> GanData, shaped and subset."""
    import torch

    x, y = torch.as_tensor(x, dtype=torch.uint8), torch.as_tensor(y, dtype=torch.int64)
    keep = fixed_subset(len(x), subset, info.get("source", "dataset"))
    if keep is not None:
        x, y = x[keep], y[keep]
    x = shape_images(x, image_size, channels)
    x_test = shape_images(torch.as_tensor(x_test, dtype=torch.uint8), image_size, channels)
    return GanData(x, "image", y, x_test, torch.as_tensor(y_test, dtype=torch.int64), num_classes=num_classes, info=info)


def labelled_images(x: np.ndarray, y: np.ndarray, test_per_class: int, image_size, channels, **info) -> GanData:
    """x: (N, 1, H, W) uint8-valued; y: (N,) class ids; a stratified split of one array."""
    import torch

    x = shape_images(torch.as_tensor(x, dtype=torch.uint8), image_size, channels)
    y = torch.as_tensor(y, dtype=torch.int64)
    tr, te = stratified_split(y.numpy(), test_per_class)
    return GanData(x[tr], "image", y[tr], x[te], y[te], num_classes=int(y.max()) + 1, info=info)


def take(t: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor | None:
    """t[idx], for optional tensors (labels a dataset may not have)."""
    return t[idx] if t is not None else None
