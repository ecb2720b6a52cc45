"""One discriminator update: shared by the training loop and D pretraining."""

from __future__ import annotations

import torch

from .contracts import Loss


def d_step(D, G, loss: Loss, opt: torch.optim.Optimizer, real: torch.Tensor, z_dim: int, fake: torch.Tensor | None = None):
    """Update D on a real batch vs. a batch from G (G gets no gradient from it).

    fake: G's batch when the caller made it (with G's graph, to reuse it for G's own update,
    as the DCGAN tutorial does); None draws a fresh one without a graph.
    Returns (d_loss, real_scores, fake_scores), all still on the device.
    """
    if fake is None:
        with torch.no_grad():
            fake = G(torch.randn(real.shape[0], z_dim, device=real.device))  # (B, *shape)
    else:
        fake = fake.detach()
    real_s, fake_s = D(real), D(fake)  # (B,), (B,)
    d_loss = loss.d_loss(real_s, fake_s)
    penalty = loss.penalty(D, real, fake)  # e.g. WGAN-GP's gradient penalty
    if penalty is not None:
        d_loss = d_loss + penalty
    opt.zero_grad(set_to_none=True)
    d_loss.backward()
    opt.step()
    return d_loss, real_s, fake_s
