"""A plugin module the tests register in-process: a loss that diverges on cue and an
architecture that raises, to exercise the runner's diverged and failed paths."""

from __future__ import annotations

import torch

from ganbench import hookimpl
from ganbench.builtin.losses import Vanilla


class NaNAfter(Vanilla):
    """Vanilla, except that D's loss becomes NaN from its `after`-th call on."""

    def __init__(self, after: int = 3):
        super().__init__()
        self.after, self.calls = after, 0

    def d_loss(self, real_scores, fake_scores):
        self.calls += 1
        loss = super().d_loss(real_scores, fake_scores)
        return loss * torch.nan if self.calls >= self.after else loss


def broken_architecture(data, z_dim, width: int = 4):
    raise RuntimeError("this architecture is broken on purpose")


@hookimpl
def register_losses(register):
    register("nan-after", NaNAfter)


@hookimpl
def register_architectures(register):
    register("broken", broken_architecture)
