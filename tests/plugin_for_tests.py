"""A plugin module the tests register (in-process, and by name in worker processes): a loss
that diverges on cue, an architecture that raises and one whose generator ends its own
process, to exercise the diverged and failed paths of the runner and the executors."""

from __future__ import annotations

import os
import signal
import sys
import time

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
    register("dies", dies)


class _Dies(torch.nn.Module):
    """A generator that ends its own process on its `at`-th training forward: how a worker
    dies to a segfault, the OOM killer or a plugin's os._exit. With a `marker` file it does
    so only once (the file records that it happened), so a re-run can finish."""

    def __init__(self, inner, how: str, marker: str | None, at: int):
        super().__init__()
        self.inner, self.how, self.marker, self.at, self.calls = inner, how, marker, at, 0

    def forward(self, z):
        self.calls += self.training
        if self.training and self.calls >= self.at and not (self.marker and os.path.exists(self.marker)):
            if self.marker:
                open(self.marker, "w").close()
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if self.how == "hang":  # a plugin stuck in a call that never returns
                time.sleep(3600)
            if self.how == "os_exit":  # ends the process at once, no unwinding
                os._exit(0)
            sys.exit(0)  # what a careless plugin does: must fail the run, not end ganbench
        return self.inner(z)


def dies(data, z_dim, how: str = "kill", marker: str | None = None, at: int = 3):
    """The built-in MLP whose generator kills its process (how: kill), hangs (hang), calls
    os._exit(0) (os_exit) or sys.exit(0) (exit)."""
    from ganbench.builtin.architectures import mlp

    models = mlp(data, z_dim, g_hidden=[16], d_hidden=[16])
    return type(models)(_Dies(models.generator, how, marker, at), models.discriminator)


def bad_data(breach: str = "int64"):
    """Datasets that break the GanData contract in the ways a careless plugin does."""
    from ganbench.contracts import GanData

    x = torch.randint(0, 256, (64, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    y = torch.arange(64) % 4
    if breach == "int64":
        return GanData(x, "image", y, num_classes=4)  # int64 pixels: neither uint8 nor float
    if breach == "float255":
        return GanData(x.float(), "image", y, num_classes=4)  # float images left in [0, 255]
    if breach == "video":
        return GanData(x.to(torch.uint8), "video", y)
    return GanData(x.to(torch.uint8), "image", y[:10], num_classes=4)  # 10 labels for 64 samples


def exits_data(code: int = 5):
    """A dataset loader that calls sys.exit(code): a careless plugin, in the up-front checks too."""
    sys.exit(code)


@hookimpl
def register_datasets(register):
    register("bad-data", bad_data)
    register("exits", exits_data)
