"""The training engine: one run's training loop, in small units.

- ``loop``: ``train`` (one run) and ``drive``, the loop itself; ``Plan``, when things fall due.
- ``step``: ``Step``, one generator step (n_disc D updates, then G's), over a *pair* of
  models; ``Pair``, one run's plain G and D; precision; ``d_step``.
- ``run``: ``Run``, one run's events (progress, grids, history rows, divergence,
  evaluation, keep_best, checkpoints) and their listeners; ``TrainResult``.
- ``state``: ``RunState``, everything of a run that changes as it trains, as one
  ``state_dict`` (what a checkpoint holds); ``Clock``.
- ``setup``: a run set up for its next step (optimizers, pretraining or resume, freezing).
- ``batches``: real batches and their order; ``rng``: a run's random streams.
- ``pretrain``: D pretraining before the joint loop.
- ``packed``: several seeds of one cell trained as one stacked model (``train_packed``).
"""

from . import packed, rng
from .loop import Plan, drive, train, train_packed, train_spec
from .run import GRID_SAMPLES, RunSpec, TrainResult

__all__ = ["GRID_SAMPLES", "Plan", "RunSpec", "TrainResult", "drive", "packed", "rng", "train", "train_packed", "train_spec"]
