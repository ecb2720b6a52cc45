"""Built-in datasets. Each returns a GanData with the whole dataset as tensors.

Images are uint8 (N, C, H, W), scaled to [-1, 1] by the runner (loaders in
``image_datasets``); 2-D points and tabular rows are float, already scaled.
torch and numpy are imported inside the loaders: registering the datasets (and
validating a suite against their signatures) does not import them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..contracts import GanData
from ..hookspecs import hookimpl
from .image_datasets import cifar10, digits, fashion_mnist, image_folder, mnist, mnist5k, stacked_mnist, take

if TYPE_CHECKING:  # annotations only: importing them at run time would load torch
    import torch


@hookimpl
def register_datasets(register):
    register("mnist5k", mnist5k)
    register("mnist", mnist)
    register("fashion-mnist", fashion_mnist)
    register("cifar10", cifar10)
    register("stacked-mnist", stacked_mnist)
    register("digits", digits)
    register("image-folder", image_folder)
    register("ring8", ring8)
    register("grid25", grid25)
    register("tabular-csv", tabular_csv)
    register("sklearn-table", sklearn_table)


# ---------------------------------------------------------------- 2-D mixtures


def _mixture(centres: torch.Tensor, std: float, n_train: int, n_test: int, seed: int) -> GanData:
    import torch

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
    import torch

    angles = torch.arange(8, dtype=torch.float32) * (2 * math.pi / 8)
    return _mixture(torch.stack([angles.cos(), angles.sin()], 1), std, n_train, n_test, seed)


def grid25(n_train: int = 20000, n_test: int = 2500, std: float = 0.05, seed: int = 0) -> GanData:
    """25 Gaussians on the grid {-4, -2, 0, 2, 4}^2, sigma 0.05 (the VEEGAN / PacGAN grid)."""
    import torch

    ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    centres = torch.cartesian_prod(ticks, ticks)
    return _mixture(centres, std, n_train, n_test, seed)


# ---------------------------------------------------------------- tabular rows


def tabular_csv(
    path: str,
    label: str | None = None,  # a column of class labels (any type): kept out of the features
    test_fraction: float = 0.2,  # held out by a fixed shuffle
    seed: int = 0,  # the shuffle behind the split; fixed so every run sees the same split
) -> GanData:
    """The numeric columns of a CSV file, standardized with the training rows' mean and
    standard deviation (kept in `info` to map samples back). Non-numeric columns other
    than `label` are dropped and listed in `info`; rows with missing values are dropped.
    """
    import numpy as np
    import pandas as pd
    import torch

    if Path(path).exists() and not Path(path).is_file():  # /dev/zero, a FIFO: would never end
        raise ValueError(f"tabular-csv: {path} is not a regular file")
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as e:  # missing, empty or malformed
        raise ValueError(f"tabular-csv: cannot read {path}: {str(e).strip().splitlines()[0]}") from None
    if label is not None and label not in df.columns:
        raise ValueError(f"tabular-csv: no column {label!r} in {path}; columns: {', '.join(map(str, df.columns))}")
    if not 0 <= test_fraction < 1:
        raise ValueError(f"tabular-csv: test_fraction must be in [0, 1), got {test_fraction}")
    features = df.drop(columns=[label] if label else []).select_dtypes("number")
    dropped = [c for c in df.columns if c != label and c not in features.columns]
    complete = features.notna().all(axis=1) & (df[label].notna() if label else True)
    features, rows = features[complete], int((~complete).sum())
    if features.shape[1] == 0 or len(features) < 2:
        raise ValueError(
            f"tabular-csv: {path} has {features.shape[1]} numeric columns and {len(features)} complete rows; need >= 1 and >= 2"
        )

    x = torch.as_tensor(features.to_numpy(np.float32))  # (N, F)
    y = classes = None
    if label:
        codes, uniques = pd.factorize(df.loc[complete, label], sort=True)
        y, classes = torch.as_tensor(codes, dtype=torch.int64), [str(u) for u in uniques]
    info = {"source": str(path), "columns": list(map(str, features.columns)), "dropped_columns": dropped, "dropped_rows": rows}
    return standardized_table(x, y, classes, test_fraction, seed, info)


def standardized_table(x, y, classes, test_fraction: float, seed: int, info: dict) -> GanData:
    """Rows x (N, F) split by a fixed shuffle (`seed`) and standardized with the training
    rows' mean and std (kept in `info` to map samples back); y: labels or None."""
    import torch

    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_test = min(math.ceil(test_fraction * len(x)), len(x) - 1) if test_fraction > 0 else 0
    test_idx, train_idx = order[:n_test], order[n_test:]
    mean = x[train_idx].mean(0)
    std = x[train_idx].std(0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))  # a constant column stays 0, not NaN
    x = (x - mean) / std
    return GanData(
        x[train_idx],
        "tabular",
        take(y, train_idx),
        x[test_idx] if n_test else None,
        take(y, test_idx) if n_test else None,
        num_classes=len(classes) if classes else None,
        info={**info, "classes": classes, "mean": mean.tolist(), "std": std.tolist()},
    )


# scikit-learn's bundled tables (offline): loader, target column, task.
SKLEARN_TABLES = {
    "wine": ("load_wine", "classification"),  # 178 rows, 13 features, 3 cultivars
    "breast_cancer": ("load_breast_cancer", "classification"),  # 569 rows, 30 features, malignant/benign
    "diabetes": ("load_diabetes", "regression"),  # 442 rows, 10 features, disease progression after a year
}


def sklearn_table(
    table: Literal["wine", "breast_cancer", "diabetes"] = "wine",
    test_fraction: float = 0.2,  # held out by a fixed shuffle
    seed: int = 0,  # the shuffle behind the split; fixed so every run sees the same split
) -> GanData:
    """A table bundled with scikit-learn (no download), standardized like `tabular-csv`
    with the training rows' mean and standard deviation.

    The target is the last column, generated like the others (so synthetic rows carry
    one, as ML efficacy needs); `info` names it (`target`, `target_index`, `task`). For a
    classification table its class codes are also the labels, and `classes` their names.
    """
    import numpy as np
    import sklearn.datasets
    import torch

    if table not in SKLEARN_TABLES:
        raise ValueError(f"sklearn-table: table must be one of {', '.join(SKLEARN_TABLES)}, got {table!r}")
    if not 0 <= test_fraction < 1:
        raise ValueError(f"sklearn-table: test_fraction must be in [0, 1), got {test_fraction}")
    loader, task = SKLEARN_TABLES[table]
    bunch = getattr(sklearn.datasets, loader)()
    features = np.asarray(bunch.data, dtype=np.float32)
    target = np.asarray(bunch.target)
    x = torch.as_tensor(np.concatenate([features, target.astype(np.float32)[:, None]], 1))  # (N, F + 1)
    columns = [str(c) for c in bunch.feature_names] + ["target"]
    classification = task == "classification"
    y = torch.as_tensor(target, dtype=torch.int64) if classification else None
    classes = [str(c) for c in bunch.target_names] if classification else None
    info = {"source": f"sklearn.datasets.{loader}", "columns": columns, "target": "target", "target_index": len(columns) - 1, "task": task}
    return standardized_table(x, y, classes, test_fraction, seed, info)
