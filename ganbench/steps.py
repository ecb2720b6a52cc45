"""One discriminator update, and the numeric precision updates run in: shared by the
training loop and D pretraining."""

from __future__ import annotations

import contextlib

import torch

from .contracts import Loss

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    """`precision: fp32 | bf16 | fp16`: models run under autocast in that dtype; scores are
    cast to fp32 before any loss, and penalties (WGAN-GP's double backward) are computed in
    fp32 outside autocast. fp16 scales its losses (GradScaler) against underflow."""

    def __init__(self, name: str, device: torch.device):
        self.name, self.dtype = name, PRECISIONS[name]
        self.device_type = device.type
        self.scalers: dict[int, torch.amp.GradScaler] = {}  # one per optimizer

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def step(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        """zero_grad, backward and step, through a GradScaler for fp16."""
        opt.zero_grad(set_to_none=True)
        if self.dtype is not torch.float16:
            loss.backward()
            opt.step()
            return
        scaler = self.scalers.setdefault(id(opt), torch.amp.GradScaler(self.device_type))
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()


FP32 = Precision("fp32", torch.device("cpu"))


def d_step(
    D,
    G,
    loss: Loss,
    opt: torch.optim.Optimizer,
    real: torch.Tensor,
    z_dim: int,
    fake: torch.Tensor | None = None,
    precision: Precision = FP32,
):
    """Update D on a real batch vs. a batch from G (G gets no gradient from it).

    fake: G's batch when the caller made it (with G's graph, to reuse it for G's own update,
    as the DCGAN tutorial does); None draws a fresh one without a graph.
    Returns (d_loss, real_scores, fake_scores), all still on the device, scores in fp32.
    """
    with precision.autocast():
        if fake is None:
            with torch.no_grad():
                fake = G(torch.randn(real.shape[0], z_dim, device=real.device))  # (B, *shape)
        else:
            fake = fake.detach()
        real_s, fake_s = D(real).float(), D(fake).float()  # (B,), (B,)
    d_loss = loss.d_loss(real_s, fake_s)
    penalty = loss.penalty(D, real, fake.float())  # e.g. WGAN-GP's gradient penalty, in fp32
    if penalty is not None:
        d_loss = d_loss + penalty
    precision.step(d_loss, opt)
    return d_loss, real_s, fake_s
