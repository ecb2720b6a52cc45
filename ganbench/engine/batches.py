"""Real batches: slices of the training tensor held on the device, reshuffled every epoch.

A run's data order is its own random stream (a generator seeded from the run's seed), so
it does not depend on what else draws random numbers, and packed seeds (``engine.packed``)
each keep the order their unpacked run would have.
"""

from __future__ import annotations

import torch

from ..contracts import GanData


class Batches:
    """next(batches) -> (B, *shape) float in [-1, 1]; `indices` and `take` are its two halves."""

    def __init__(self, x: torch.Tensor, batch_size: int, seed: int, channels_last: bool = False):
        if len(x) < batch_size:
            raise ValueError(f"batch_size {batch_size} is larger than the dataset ({len(x)} samples)")
        # channels_last: the data are stored NHWC once; a batch is made so if indexing lost it
        self.format = torch.channels_last if channels_last else torch.contiguous_format
        self.x, self.bs = x.contiguous(memory_format=self.format), batch_size
        self.rng = torch.Generator().manual_seed(seed)  # its own stream: data order per seed
        self.order: torch.Tensor | None = None
        self.pos = len(x)

    def indices(self) -> torch.Tensor:
        """The next batch's (B,) indices into x, on x's device; the last partial batch of
        an epoch is dropped and the order reshuffled."""
        if self.pos + self.bs > len(self.x):
            order = torch.randperm(len(self.x), generator=self.rng)  # (N,), on the CPU: the same order on any device
            if self.x.is_cuda:  # from pinned memory the copy needs no host sync (pageable memory would)
                order = order.pin_memory()
            self.order = order.to(self.x.device, non_blocking=True)
            self.pos = 0
        assert self.order is not None
        idx = self.order[self.pos : self.pos + self.bs]
        self.pos += self.bs
        return idx

    def take(self, idx: torch.Tensor) -> torch.Tensor:
        """x[idx] as floats in [-1, 1]: (B, *shape), or (K, B, *shape) for (K, B) indices."""
        return GanData.as_float(self.x[idx]).contiguous(memory_format=self.format)

    def __next__(self) -> torch.Tensor:
        return self.take(self.indices())

    def state_dict(self) -> dict:
        return {"rng": self.rng.get_state(), "order": self.order, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.rng.set_state(state["rng"])
        self.order, self.pos = state["order"], state["pos"]


class StackedBatches:
    """The batches of K packed seeds at once: (K, B, *shape), one gather for all.

    Each seed keeps its own Batches (its order, its reshuffles); they share the data and the
    batch size, so their positions move in step."""

    def __init__(self, members: list[Batches]):
        self.members = members

    def indices(self) -> torch.Tensor:
        return torch.stack([b.indices() for b in self.members])  # (K, B)

    def take(self, idx: torch.Tensor) -> torch.Tensor:
        return self.members[0].take(idx)  # (K, B, *shape)

    def __next__(self) -> torch.Tensor:
        return self.take(self.indices())
