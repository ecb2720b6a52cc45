"""The 2-D swiss roll: a curved 1-D manifold with no modes, where a GAN must spread mass
along a thin spiral rather than cover isolated blobs (complements ring8 and grid25)."""

from __future__ import annotations

from ganbench.contracts import GanData


def swissroll(n_train: int = 20000, n_test: int = 2500, noise: float = 0.25, seed: int = 0) -> GanData:
    """Points (x, z) of scikit-learn's swiss roll, standardized with the training set's
    mean and std (GAN generators for points end with a linear layer, so scale matters).

    No labels: the roll has no classes, so mode-counting metrics do not apply to it.
    """
    if n_train < 1 or n_test < 1:
        raise ValueError(f"swissroll needs n_train and n_test >= 1, got {n_train}, {n_test}")
    import torch  # here, not at the top: registering the dataset must not import torch or sklearn
    from sklearn.datasets import make_swiss_roll

    xyz, _ = make_swiss_roll(n_train + n_test, noise=noise, random_state=seed)  # (N, 3)
    x = torch.as_tensor(xyz[:, [0, 2]], dtype=torch.float32)  # (N, 2): the spiral's plane
    train, test = x[:n_train], x[n_train:]
    mean, std = train.mean(0), train.std(0)
    return GanData(
        (train - mean) / std,
        "points",
        test=(test - mean) / std,
        info={"source": "sklearn.datasets.make_swiss_roll", "noise": noise, "mean": mean.tolist(), "std": std.tolist()},
    )
