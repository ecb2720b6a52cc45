"""A run's random streams: what its latent draws, penalties and plugins draw from.

An unpacked run draws from the process's global generators (torch CPU and CUDA, Python,
NumPy), seeded from the run's seed alone before its models are built: ``GlobalStreams``
only saves and restores them for checkpoints. Packed seeds share a process, so each keeps
its own copy, ``OwnStreams``: the engine's latent draws use that seed's torch generator
directly, and plugin code that draws from the global generators (WGAN-GP's interpolation
weights) runs with the seed's state swapped in. Each seed thus draws exactly the numbers
its unpacked run would, in the same order.

A checkpoint stores the same mapping for both ({torch, cuda, python, numpy}), so a run
may be resumed packed or unpacked whichever way it was checkpointed.
"""

from __future__ import annotations

import contextlib
import random

import numpy as np
import torch


def global_state(device: torch.device) -> dict:
    """The global generators' states, as a checkpoint stores them."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
        "python": random.getstate(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)},
    }


def set_global_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))


class GlobalStreams:
    """An unpacked run's streams: the process's global generators."""

    def __init__(self, device: torch.device):
        self.device = device

    def randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, device=self.device)

    def randint(self, high: int, n: int) -> torch.Tensor:
        return torch.randint(high, (n,), device=self.device)

    def as_global(self):
        return contextlib.nullcontext()

    def state_dict(self) -> dict:
        return global_state(self.device)

    def load_state_dict(self, state: dict) -> None:
        set_global_state(state, self.device)


class OwnStreams:
    """A packed seed's streams, held apart from the global generators.

    torch's draws go through this seed's own generator objects (a CPU one, and one for the
    run's CUDA device), whose states continue the global ones at capture; Python's and
    NumPy's states are kept and swapped in with torch's around plugin code (``as_global``)."""

    def __init__(self, device: torch.device, state: dict):
        self.device = device
        self.cpu = torch.Generator()
        self.cuda = torch.Generator(device) if device.type == "cuda" else None
        self.load_state_dict(state)

    @classmethod
    def capture(cls, device: torch.device) -> OwnStreams:
        """The global generators' states now, as a stream of its own."""
        return cls(device, global_state(device))

    def randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, device=self.device, generator=self.cuda or self.cpu)

    def randint(self, high: int, n: int) -> torch.Tensor:
        return torch.randint(high, (n,), device=self.device, generator=self.cuda or self.cpu)

    @contextlib.contextmanager
    def as_global(self):
        """Run code that draws from the global generators on this seed's stream."""
        outside = global_state(self.device)
        set_global_state(self.state_dict(), self.device)
        try:
            yield
        finally:
            self.load_state_dict(global_state(self.device))
            set_global_state(outside, self.device)

    def state_dict(self) -> dict:
        cuda = []
        if self.cuda is not None:  # every device's state, as the global checkpoint has it, this run's own at its index
            cuda = torch.cuda.get_rng_state_all()
            cuda[self.device.index or 0] = self.cuda.get_state()
        return {"torch": self.cpu.get_state(), "cuda": cuda, "python": self.python, "numpy": self.numpy}

    def load_state_dict(self, state: dict) -> None:
        self.cpu.set_state(state["torch"])
        if self.cuda is not None and state["cuda"]:
            self.cuda.set_state(state["cuda"][self.device.index or 0])
        self.python, self.numpy = state["python"], state["numpy"]
