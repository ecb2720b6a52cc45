"""FLOPs of one training step, counted once per run from the models themselves.

``count_step(cfg, models, loss, data_shape, device)`` runs one D update and one G update at
the run's batch size on *copies* of G and D (the run's models, their BatchNorm statistics,
spectral-norm vectors and gradients, and the global RNG are left untouched) under
``torch.utils.flop_counter.FlopCounterMode``'s per-op formulas, which count the matrix products and
convolutions of forward and backward passes (2 FLOPs per multiply-add; element-wise ops,
normalizations and optimizer updates are not counted: they are a few percent of a conv or
MLP GAN's arithmetic). So a reader can compare cost across devices (seconds are device
facts, FLOPs are facts of the model) and a suite can give every cell the same budget.

One training step (``ganbench.engine.step``) is modelled as:

  n_disc D updates: G forward on a fresh latent batch (no graph), D forward on a real and a
      fake batch, the loss plus its penalty (WGAN-GP's gradient penalty: counted, with its
      double backward), backward to D's parameters;
  one G update: G forward, D forward (and D on a real batch for losses that need it),
      backward through D (its input gradients only: the engine turns D's weight gradients
      off for G's update) to G's parameters.

When the G update reuses the last D update's fake batch (``g_step_fresh_fake: false``, the
DCGAN tutorial's way) its G forward is not repeated: one G forward less. With
``freeze_d: all`` D is never updated: it is measured once per step, forwards only.
"""

from __future__ import annotations

import copy

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

PER_STEP = "per_step"  # run.json flops.per_step: FLOPs of one training step (n_disc D updates + 1 G update)
COUNTER = "torch.utils.flop_counter (FlopCounterMode's flop_registry: matmul and conv, forward and backward)"


class _Counter(TorchDispatchMode):
    """FlopCounterMode's own per-op formulas (its ``flop_registry``) without its module
    tracker, whose backward hooks fail inside ``torch.autograd.grad`` (a gradient
    penalty); tests check it counts what FlopCounterMode counts where both work."""

    def __init__(self):
        super().__init__()
        self.registry = FlopCounterMode(display=False).flop_registry
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = self.registry.get(func._overloadpacket)
        if count is not None:
            self.total += int(count(*args, **kwargs, out_val=out))
        return out


def _counted(fn) -> int:
    with _Counter() as counter:
        fn()
    return counter.total


def count_step(cfg: dict, models, loss, data_shape: tuple[int, ...], device: torch.device) -> dict:
    """{per_step, g_forward, d_forward, d_update, g_update, batch_size, n_disc, ...}: FLOPs of
    one training step at the run's batch size (see the module docstring)."""
    bs, z_dim, n_disc = cfg["batch_size"], cfg["z_dim"], cfg["n_disc"]
    reuse = not cfg.get("g_step_fresh_fake", True)
    frozen = cfg.get("freeze_d") == "all"
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        G, D = copy.deepcopy(models.generator).train(), copy.deepcopy(models.discriminator).train()
        loss = copy.deepcopy(loss)  # a loss may keep state (a schedule, a call counter): the run's stays untouched
        gen = torch.Generator(device=device).manual_seed(0)
        z = torch.randn(bs, z_dim, device=device, generator=gen)
        real = torch.rand(bs, *data_shape, device=device, generator=gen) * 2 - 1  # (B, *shape) in [-1, 1]

        def g_forward():
            with torch.no_grad():
                G(z)

        def d_forward():
            with torch.no_grad():
                D(real)

        def g_update():
            for p in D.parameters():  # the engine computes no D weight gradients in G's update
                p.requires_grad_(False)
            fake_s = D(G(z)).float()
            real_s = None
            if getattr(loss, "g_needs_real", False):
                with torch.no_grad():
                    real_s = D(real).float()
            loss.g_loss(fake_s, real_s).backward()

        g_fwd, d_fwd = _counted(g_forward), _counted(d_forward)
        d_upd = _counted(lambda: d_update_fresh(G, D, z, real, loss, frozen))
        g_upd = _counted(g_update)
    # a frozen D is measured once per step (forwards only); a reused fake batch saves one G forward
    per_step = (1 if frozen else n_disc) * d_upd + g_upd - (g_fwd if reuse else 0)
    return {
        PER_STEP: per_step,
        "g_forward": g_fwd,
        "d_forward": d_fwd,
        "d_update": d_upd,
        "g_update": g_upd,
        "batch_size": bs,
        "n_disc": n_disc,
        "g_forward_reused": reuse,
        "counter": COUNTER,
    }


def d_update_fresh(G, D, z, real, loss, frozen: bool) -> None:
    """One D update as counted: G forward without a graph, D on real and fake, loss,
    penalty, backward (forwards only when D is frozen)."""
    with torch.no_grad():
        fake = G(z)
    real_s, fake_s = D(real).float(), D(fake).float()
    if frozen:
        return
    d_loss = loss.d_loss(real_s, fake_s)
    penalty = loss.penalty(D, real, fake.float())
    (d_loss if penalty is None else d_loss + penalty).backward()


def count_run(cfg: dict, models, loss, data_shape: tuple[int, ...], device: torch.device) -> dict:
    """count_step for run.json's `flops`; a model the counter cannot run (a plugin's G that
    needs more than a latent batch, say) gets ``per_step: null`` and the reason, never a
    failed run: FLOPs describe the run, they are not needed to train it."""
    try:
        return count_step(cfg, models, loss, data_shape, device)
    except Exception as e:  # any plugin model may break on a synthetic batch
        text = str(e).strip().splitlines()
        return {PER_STEP: None, "error": f"{type(e).__name__}: {text[0] if text else ''}"[:300]}
