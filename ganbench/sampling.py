"""Drawing samples from a generator the way every metric, grid and report does."""

from __future__ import annotations

import torch

G_MODES = ("eval", "train")


@torch.no_grad()
def sample(G: torch.nn.Module, z: torch.Tensor, mode: str = "eval", y: torch.Tensor | None = None) -> torch.Tensor:
    """G(z) without gradients, G's mode and state restored afterwards.

    mode `eval`: BatchNorm (and any layer with a train/eval difference) uses its running
    statistics, so each sample depends on its own latent only. mode `train`: batch
    statistics of this batch of z; a train-mode forward *updates* BatchNorm running
    statistics (and e.g. spectral norm's power-iteration vectors) even under no_grad, so
    every buffer is saved before and written back after: sampling never changes G.

    z: (B, z_dim) on G's device -> (B, *shape). y: (B,) classes for a conditional G
    (``ganbench.contracts.Models.conditional``), which then draws G(z, y).
    """
    if mode not in G_MODES:
        raise ValueError(f"sampling mode must be one of {', '.join(G_MODES)}, got {mode!r}")
    was_training = G.training
    saved = [(b, b.clone()) for b in G.buffers()] if mode == "train" else []
    G.train(mode == "train")
    try:
        return G(z) if y is None else G(z, y)
    finally:
        for buffer, value in saved:
            buffer.copy_(value)
        G.train(was_training)
