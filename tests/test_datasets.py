"""The built-in datasets: shapes, classes, splits, offline behaviour and bad options."""

from __future__ import annotations

import gzip
import json
import os
import socket
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ganbench.build import Builder
from ganbench.builtin import image_datasets
from ganbench.builtin.datasets import grid25, ring8, tabular_csv
from ganbench.builtin.image_datasets import (
    DEBIAN_FASHION_MNIST,
    cifar10,
    digits,
    fashion_mnist,
    image_folder,
    mnist,
    mnist5k,
    read_idx,
    stacked_mnist,
)
from ganbench.cli import main
from ganbench.config import ConfigError, resolve
from ganbench.contracts import GanData
from ganbench.engine import train
from ganbench.plugins import load_registry


def _online(host: str = "ossci-datasets.s3.amazonaws.com") -> bool:
    try:
        socket.create_connection((host, 443), timeout=3).close()
        return True
    except OSError:
        return False


ONLINE = _online()
OFFLINE_REASON = "needs a download and this machine is offline"
DEBIAN_FILES = all((DEBIAN_FASHION_MNIST / f"{n}.gz").is_file() for n in image_datasets.IDX_FILES)


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def check_images(d: GanData, shape, n_train=None, n_test=None, classes=None):
    assert d.kind == "image" and d.train.dtype == torch.uint8 and d.test.dtype == torch.uint8
    assert tuple(d.train.shape[1:]) == shape and tuple(d.test.shape[1:]) == shape
    assert d.spec.shape == shape
    if n_train is not None:
        assert len(d.train) == n_train and len(d.train_labels) == n_train
    if n_test is not None:
        assert len(d.test) == n_test and len(d.test_labels) == n_test
    if classes is not None:
        assert d.num_classes == classes
        assert int(d.train_labels.min()) >= 0 and int(d.train_labels.max()) < classes
    floats = GanData.as_float(d.train[:64])
    assert floats.min() >= -1 and floats.max() <= 1 and floats.max() > floats.min()


def write_idx(path: Path, arr: np.ndarray) -> None:
    """An IDX file of unsigned bytes (the MNIST format), gzipped when the name ends .gz."""
    data = bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()
    with (gzip.open if path.suffix == ".gz" else open)(path, "wb") as f:
        f.write(data)


def write_mnist_format(folder: Path, n_train=20, n_test=10, gz=True) -> tuple[np.ndarray, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    x, xt = rng.integers(0, 256, (n_train, 28, 28)), rng.integers(0, 256, (n_test, 28, 28))
    y, yt = np.arange(n_train) % 10, np.arange(n_test) % 10
    ext = ".gz" if gz else ""
    for name, arr in zip(image_datasets.IDX_FILES, (x, y, xt, yt)):
        write_idx(folder / f"{name}{ext}", arr)
    return x, y


# ---------------------------------------------------------------- offline datasets


def test_mnist5k():
    d = mnist5k()
    check_images(d, (1, 28, 28), 4500, 500, 10)
    assert torch.equal(d.test_labels.bincount(), torch.full((10,), 50))  # 50 per class held out
    check_images(mnist5k(image_size=32, channels=3), (3, 32, 32), 4500, 500, 10)


def test_digits():
    check_images(digits(), (1, 8, 8), 1597, 200, 10)
    check_images(digits(image_size=16, channels=3), (3, 16, 16), 1597, 200, 10)


def test_digits_are_scikit_learns_load_digits():
    """Read from scikit-learn's CSV without importing it: the same values and labels as
    load_digits, in the same order (the committed digits runs' numbers depend on them)."""
    import numpy as np
    from sklearn.datasets import load_digits

    from ganbench.builtin.image_datasets import _digits_arrays

    images, target = _digits_arrays()
    d = load_digits()
    assert np.array_equal(images, d.images) and np.array_equal(target, d.target) and images.dtype == d.images.dtype


@pytest.mark.parametrize("load,k,std", [(ring8, 8, 0.01), (grid25, 25, 0.05)])
def test_gaussian_mixtures(load, k, std):
    d = load(n_train=2000, n_test=500)
    assert d.kind == "points" and d.train.shape == (2000, 2) and d.test.shape == (500, 2)
    assert d.num_classes == k and d.modes.shape == (k, 2) and d.mode_std == std
    nearest = torch.cdist(d.train, d.modes).min(1).values
    assert nearest.max() < 6 * std  # every sample sits at a known centre
    assert torch.equal(torch.cdist(d.train, d.modes).argmin(1), d.train_labels)
    assert torch.equal(load(n_train=2000, n_test=500).train, d.train)  # fixed by its seed


@pytest.mark.skipif(not DEBIAN_FILES, reason=f"Debian's dataset-fashion-mnist is not installed ({DEBIAN_FASHION_MNIST})")
def test_fashion_mnist_from_the_debian_package(registry, tmp_path):
    d = fashion_mnist()
    check_images(d, (1, 28, 28), 60000, 10000, 10)
    assert d.info["source"] == str(DEBIAN_FASHION_MNIST)
    assert torch.equal(d.train_labels.bincount(), torch.full((10,), 6000))
    assert torch.equal(d.test_labels.bincount(), torch.full((10,), 1000))
    small = fashion_mnist(image_size=32, channels=3, subset=512)
    check_images(small, (3, 32, 32), 512, 10000, 10)
    # and it trains, offline
    cfg = resolve(
        [
            (
                "test",
                {
                    "dataset": {"name": "fashion-mnist", "subset": 512},
                    "architecture": {"name": "dcgan", "ngf": 8, "ndf": 8},
                    "steps": 2,
                    "batch_size": 16,
                    "z_dim": 16,
                    "grid_every": "none",
                    "eval": {"every": "none"},
                },
            )
        ],
        registry,
    )
    builder = Builder(registry)
    data = builder.data(cfg["dataset"])
    assert train(cfg, data, builder.models(cfg, data), builder.loss(cfg), torch.device("cpu"), tmp_path).status == "complete"


# ---------------------------------------------------------------- MNIST-format files


def test_idx_files_in_a_root_folder(tmp_path):
    x, y = write_mnist_format(tmp_path / "fm")
    d = fashion_mnist(root=str(tmp_path / "fm"), download=False)
    check_images(d, (1, 28, 28), 20, 10, 10)
    assert np.array_equal(d.train[:, 0].numpy(), x) and np.array_equal(d.train_labels.numpy(), y)
    # torchvision's own layout (<root>/MNIST/raw, unzipped) is found too
    write_mnist_format(tmp_path / "tv" / "MNIST" / "raw", gz=False)
    check_images(mnist(root=str(tmp_path / "tv"), download=False, image_size=32), (1, 32, 32), 20, 10, 10)


def test_broken_idx_files_are_one_line_errors(tmp_path):
    write_idx(tmp_path / "a.gz", np.zeros((4, 28, 28)))
    raw = gzip.decompress((tmp_path / "a.gz").read_bytes())
    (tmp_path / "short").write_bytes(raw[:100])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")
    (tmp_path / "bad.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="cannot read") as e:
        read_idx(tmp_path / "bad.gz")
    assert "\n" not in str(e.value)


def test_no_local_copy_and_no_download_is_a_clear_one_line_error(tmp_path):
    with pytest.raises(RuntimeError) as e:
        mnist(root=str(tmp_path), download=False)
    assert "mnist5k" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(RuntimeError) as e:
        fashion_mnist(root=str(tmp_path), download=False)
    assert "dataset-fashion-mnist" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(RuntimeError) as e:
        cifar10(root=str(tmp_path), download=False)
    assert "cifar10" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.skipif(ONLINE, reason="this machine is online: the download would succeed")
def test_offline_download_fails_in_one_line_pointing_to_mnist5k(tmp_path):
    with pytest.raises(RuntimeError) as e:
        mnist(root=str(tmp_path))
    assert "download failed" in str(e.value) and "mnist5k" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.skipif(not ONLINE, reason=OFFLINE_REASON)
def test_mnist_downloads_when_online(tmp_path):
    check_images(mnist(root=str(tmp_path)), (1, 28, 28), 60000, 10000, 10)


@pytest.mark.skipif(not ONLINE, reason=OFFLINE_REASON)
@pytest.mark.skipif(not os.environ.get("GANBENCH_TEST_DOWNLOADS"), reason="a 170 MB download: set GANBENCH_TEST_DOWNLOADS=1 to run it")
def test_cifar10_downloads_when_online(tmp_path):
    check_images(cifar10(root=str(tmp_path), subset=1000), (3, 32, 32), 1000, 10000, 10)


def test_a_run_that_cannot_get_its_data_fails_in_one_line(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: nodata\nbase: {dataset: {name: mnist, root: " + json.dumps(str(tmp_path / "none")) + ", download: false},"
        " architecture: {name: mlp, g_hidden: [8], d_hidden: [8]}, steps: 1, eval: {every: none}}\n"
    )
    result = CliRunner().invoke(main, ["run", str(suite), "--results", str(tmp_path / "r")])
    assert result.exit_code == 1, result.output
    record = json.loads(next((tmp_path / "r" / "nodata").glob("*/run.json")).read_text())
    assert record["status"] == "failed" and "mnist5k" in record["error"] and "\n" not in record["error"]
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- stacked MNIST


def test_stacked_mnist_labels_are_the_three_stacked_digits():
    d = stacked_mnist(n_train=300, n_test=100)
    check_images(d, (3, 28, 28), 300, 100, 1000)
    base = mnist5k()
    label_of = {img.numpy().tobytes(): int(lab) for img, lab in zip(base.train[:, 0], base.train_labels)}
    for img, lab in zip(d.train[:50], d.train_labels[:50]):
        a, b, c = (label_of[img[ch].numpy().tobytes()] for ch in range(3))
        assert int(lab) == 100 * a + 10 * b + c
    test_images = {img.numpy().tobytes() for img in base.test[:, 0]}
    assert all(d.test[i, ch].numpy().tobytes() in test_images for i in range(20) for ch in range(3))
    assert torch.equal(stacked_mnist(n_train=300, n_test=100).train, d.train)  # deterministic per seed
    assert not torch.equal(stacked_mnist(n_train=300, n_test=100, seed=1).train, d.train)
    many = stacked_mnist(n_train=20000, n_test=10)
    assert len(many.train_labels.unique()) > 990  # nearly every one of the 1,000 modes appears


# ---------------------------------------------------------------- image folders


def save(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array.astype(np.uint8)).save(path)


def bands(width=30, height=10) -> np.ndarray:
    """Red | green | blue vertical thirds: a center crop keeps only green."""
    img = np.zeros((height, width, 3), np.uint8)
    img[:, : width // 3, 0] = img[:, width // 3 : 2 * width // 3, 1] = img[:, 2 * width // 3 :, 2] = 255
    return img


def test_image_folder_with_class_subfolders(tmp_path):
    for i in range(3):
        save(tmp_path / "cats" / f"{i}.png", bands())
    for i in range(2):
        save(tmp_path / "dogs" / f"{i}.jpg", bands(20, 40).transpose(1, 0, 2))  # tall: crop keeps rows
    d = image_folder(str(tmp_path), image_size=10, test_fraction=0.2)
    check_images(d, (3, 10, 10), 4, 1, 2)
    assert d.info["classes"] == ["cats", "dogs"]
    assert sorted(torch.cat([d.train_labels, d.test_labels]).tolist()) == [0, 0, 0, 1, 1]
    cat = d.train[d.train_labels == 0][0]  # (3, 10, 10): the 30x10 image, cropped to its middle
    assert cat[1].float().mean() > 250 and cat[0].float().mean() < 5 and cat[2].float().mean() < 5


def test_flat_image_folder_resized_and_cropped(tmp_path):
    for i in range(4):
        save(tmp_path / f"img{i}.png", bands(60, 20))
    (tmp_path / "notes.txt").write_text("not an image")
    d = image_folder(str(tmp_path), image_size=8, channels=1, test_fraction=0)
    assert d.train.shape == (4, 1, 8, 8) and d.test is None and d.train_labels is None and d.num_classes is None
    d = image_folder(str(tmp_path), image_size=5)  # 60x20 -> 15x5, then the middle 5x5
    assert d.train.shape == (3, 3, 5, 5) and d.test.shape == (1, 3, 5, 5)
    assert d.train[:, 1, :, 1:4].float().mean() > 200 and d.train[:, 0, :, 1:4].float().mean() < 30
    with pytest.raises(ValueError, match="is not a folder"):
        image_folder(str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        image_folder(str(tmp_path / "empty"))


# ---------------------------------------------------------------- tabular rows


CSV = """a,b,name,cls
1.0,10,x,yes
2.0,20,y,no
3.0,30,z,yes
4.0,,w,no
5.0,50,v,maybe
6.0,60,u,yes
7.0,70,t,no
8.0,80,s,yes
9.0,90,r,no
10.0,100,q,yes
11.0,110,p,no
"""


def test_tabular_csv(registry, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(CSV)
    d = tabular_csv(str(path), label="cls", test_fraction=0.2)
    assert d.kind == "tabular" and d.train.dtype == torch.float32
    assert d.train.shape == (8, 2) and d.test.shape == (2, 2)  # 10 complete rows
    assert d.info["columns"] == ["a", "b"] and d.info["dropped_columns"] == ["name"] and d.info["dropped_rows"] == 1
    assert d.info["classes"] == ["maybe", "no", "yes"] and d.num_classes == 3
    assert torch.allclose(d.train.mean(0), torch.zeros(2), atol=1e-6)
    assert torch.allclose(d.train.std(0, unbiased=False), torch.ones(2), atol=1e-6)
    mean, std = torch.tensor(d.info["mean"]), torch.tensor(d.info["std"])
    rows = torch.cat([d.train, d.test]) * std + mean  # back to the file's values
    assert sorted(rows[:, 0].round().tolist()) == [1, 2, 3, 5, 6, 7, 8, 9, 10, 11]
    assert torch.allclose(rows[:, 1], rows[:, 0] * 10, atol=1e-3)
    classes = ["maybe", "no", "yes"]
    lab = {1: "yes", 2: "no", 3: "yes", 5: "maybe", 6: "yes", 7: "no", 8: "yes", 9: "no", 10: "yes", 11: "no"}
    for row, y in zip(rows, torch.cat([d.train_labels, d.test_labels])):
        assert classes[int(y)] == lab[round(row[0].item())]
    # an MLP GAN trains on it
    cfg = resolve(
        [
            (
                "test",
                {
                    "dataset": {"name": "tabular-csv", "path": str(path), "label": "cls"},
                    "steps": 2,
                    "batch_size": 4,
                    "architecture": {"name": "mlp", "g_hidden": [8], "d_hidden": [8]},
                    "z_dim": 4,
                    "eval": {"every": "none"},
                },
            )
        ],
        registry,
    )
    builder = Builder(registry)
    data = builder.data(cfg["dataset"])
    models = builder.models(cfg, data)
    assert models.generator(torch.randn(3, 4)).shape == (3, 2)
    assert train(cfg, data, models, builder.loss(cfg), torch.device("cpu"), tmp_path).status == "complete"


def test_tabular_csv_errors(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(CSV)
    with pytest.raises(ValueError, match="no column 'label'"):
        tabular_csv(str(path), label="label")
    with pytest.raises(ValueError, match="cannot read"):
        tabular_csv(str(tmp_path / "missing.csv"))
    (tmp_path / "words.csv").write_text("w\nhello\nworld\n")
    with pytest.raises(ValueError, match="0 numeric columns"):
        tabular_csv(str(tmp_path / "words.csv"))


# ---------------------------------------------------------------- options through the config


@pytest.mark.parametrize(
    "dataset,key",
    [
        ({"name": "mnist5k", "channels": 2}, "dataset.channels"),
        ({"name": "mnist5k", "image_size": "big"}, "dataset.image_size"),
        ({"name": "fashion-mnist", "subset": "half"}, "dataset.subset"),
        ({"name": "fashion-mnist", "download": "yes"}, "dataset.download"),
        ({"name": "stacked-mnist", "source": "cifar10"}, "dataset.source"),
        ({"name": "cifar10", "root": 3}, "dataset.root"),
        ({"name": "tabular-csv"}, "dataset.path"),
        ({"name": "image-folder", "path": "x", "test_fraction": "10%"}, "dataset.test_fraction"),
        ({"name": "ring8", "sigma": 0.1}, "dataset.sigma"),
    ],
)
def test_bad_dataset_options_are_refused_before_anything_runs(registry, dataset, key):
    with pytest.raises(ConfigError, match=key.replace(".", "\\.")):
        resolve([("test", {"steps": 1, "dataset": dataset})], registry)
