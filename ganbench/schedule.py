"""A run's schedule in steps: how long an epoch is, how long the run is, when intervals fall.

One *step* is one generator update, preceded by `n_disc` discriminator updates that each
take a fresh real batch. One *epoch* is one pass of D over the training set, so
steps_per_epoch = (N // batch_size) // n_disc. Shared by the training loop and the
evaluator, which must agree on which step is the last one.
"""

from __future__ import annotations

from .config import parse_interval


def steps_per_epoch(n_train: int, cfg: dict) -> int:
    return max(1, (n_train // cfg["batch_size"]) // cfg["n_disc"])


def total_steps(n_train: int, cfg: dict) -> int:
    """The run's length in generator steps (`steps`, or `epochs` converted)."""
    return cfg.get("steps") or cfg["epochs"] * steps_per_epoch(n_train, cfg)


def every(interval: str, per_epoch: int) -> int | None:
    """An interval (`N steps`, `N epochs`) in steps; None for 'none'."""
    if interval == "none":
        return None
    n, unit = parse_interval(interval)
    return n * per_epoch if unit == "epoch" else n
