"""Drawing samples from a generator the way every metric, grid and report does."""

from __future__ import annotations

import torch


@torch.no_grad()
def sample(G: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    """G(z) in eval mode (BatchNorm running statistics), restoring G's mode afterwards.

    z: (B, z_dim) on G's device -> (B, *shape).
    """
    was_training = G.training
    G.eval()
    try:
        return G(z)
    finally:
        G.train(was_training)
