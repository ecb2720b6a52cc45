"""One training step: `n_disc` D updates, then G's update through D.

The step sees the models through a *pair*: ``Pair`` is one run's plain G and D, and
``engine.packed.StackedPair`` is K seeds' stacked into one model each, so the same ``Step``
trains one run or a pack. A pair maps latents to samples and samples to scores, draws
latents from its run's streams, applies the loss, and sums what is backpropagated:

    pair.noise()          -> z       (B, Z)            packed: (K, B, Z)
    pair.G(z)             -> x       (B, *shape)       packed: (K, B, *shape)
    pair.D(x)             -> scores  (B,)              packed: (K, B)
    pair.d_loss(r, f)     -> loss    ()                packed: (K,)  one per seed
    pair.total(loss)      -> what .backward() takes: the loss itself, or the live seeds' sum

Precision (fp32 | bf16 | fp16) is how the models run, not what the step does: autocast
around the models, scores cast to fp32 before any loss, penalties in fp32.
"""

from __future__ import annotations

import contextlib

import torch

from ..contracts import Loss

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


class Pair:
    """One run's G and D as the step uses them (see the module docstring).

    augment (``ganbench.augment``): a transform applied to every batch before D, real and
    fake alike; it observes D's scores of each real batch (ADA's overfitting signal)."""

    def __init__(self, G, D, loss: Loss, streams, batch_size: int, z_dim: int, augment=None):
        self.G, self.D, self.loss, self.streams, self.augment = G, D, loss, streams, augment
        self.shape = (batch_size, z_dim)
        if augment is not None:
            self.D = _Augmented(D, augment)

    def noise(self) -> torch.Tensor:
        return self.streams.randn(*self.shape)  # (B, Z)

    def d_loss(self, real_s, fake_s):
        if self.augment is not None:
            self.augment.observe(real_s.detach())
        return self.loss.d_loss(real_s, fake_s)

    def g_loss(self, fake_s, real_s):
        return self.loss.g_loss(fake_s, real_s)

    def accuracy(self, real_s, fake_s):
        return self.loss.accuracy(real_s, fake_s)

    def penalty(self, real, fake):
        return self.loss.penalty(self.D, real, fake)

    def total(self, loss):
        return loss

    def keep(self, live: list[bool]) -> None:
        """Which runs go on training (one run: the loop stops when it does not)."""


class _Augmented(torch.nn.Module):
    """D on augmented inputs (a module, for a loss penalty that calls D)."""

    def __init__(self, D, augment):
        super().__init__()
        self._D, self._augment = [D], augment  # lists: not registered as submodules

    def forward(self, x):
        return self._D[0](self._augment(x))


def d_step(pair, opt: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor | None = None, precision: Precision = FP32):
    """Update D on a real batch vs. a batch from G (G gets no gradient from it).

    fake: G's batch when the caller made it (with G's graph, to reuse it for G's own update,
    as the DCGAN tutorial does); None draws a fresh one without a graph.
    Returns (d_loss, real_scores, fake_scores), all still on the device, scores in fp32.
    """
    with precision.autocast():
        if fake is None:
            with torch.no_grad():
                fake = pair.G(pair.noise())  # (B, *shape)
        else:
            fake = fake.detach()
        real_s, fake_s = pair.D(real).float(), pair.D(fake).float()  # (B,), (B,)
    d_loss = pair.d_loss(real_s, fake_s)
    penalty = pair.penalty(real, fake.float())  # e.g. WGAN-GP's gradient penalty, in fp32
    if penalty is not None:
        d_loss = d_loss + penalty
    precision.step(pair.total(d_loss), opt)
    return d_loss, real_s, fake_s


class Callbacks:
    """The callbacks of the runs a step trains, each called with its own run's Loop."""

    def __init__(self, runs: list[tuple]):
        self.all = self.runs = runs  # [(Loop, [Callback, ...]), ...]; runs: the live ones

    def keep(self, live: list[bool]) -> None:
        self.runs = [r for r, on in zip(self.all, live) if on]

    def after_d_step(self, step: int) -> None:
        for loop, callbacks in self.runs:
            for cb in callbacks:
                cb.after_d_step(loop, step)

    def after_g_step(self, step: int) -> None:
        for loop, callbacks in self.runs:
            for cb in callbacks:
                cb.after_g_step(loop, step)


class Step:
    """One generator step of a run (or a pack): step(i) -> its scalars on the device,
    (4,) = d_loss, g_loss, D's accuracy on real, on fake; (K, 4) for a pack.

    D: `n_disc` updates on fresh real batches; its last fake batch keeps G's graph and is
    reused for G's update (one G forward per D update, as in the DCGAN tutorial) unless
    `g_step_fresh_fake`. A frozen D (`freeze_d: all`) is only measured, for the accuracy
    curves. G: one update through D. `timer` samples how long the D and G phases take."""

    def __init__(self, pair, opt_g, opt_d, d_params: list, cfg: dict, precision: Precision, callbacks: Callbacks, real, timer):
        self.pair, self.opt_g, self.opt_d, self.d_params = pair, opt_g, opt_d, d_params
        self.n_disc = cfg["n_disc"] if opt_d else 0
        self.reuse_fake = not cfg.get("g_step_fresh_fake", True)  # configs from before the option: fresh
        self.g_needs_real = pair.loss.g_needs_real
        self.precision, self.callbacks, self.real, self.timer = precision, callbacks, real, timer

    def __call__(self, step: int) -> torch.Tensor:
        pair, precision = self.pair, self.precision
        self.timer.start(step)
        fake = None
        for i in range(self.n_disc):
            _requires_grad(self.d_params, True)
            if self.reuse_fake and i == self.n_disc - 1:
                with precision.autocast():
                    fake = pair.G(pair.noise())  # (B, *shape), with G's graph
            d_loss, real_s, fake_s = d_step(pair, self.opt_d, self.real(), fake, precision)
            _requires_grad(self.d_params, False)  # G's update must not spend time on D's gradients
            self.callbacks.after_d_step(step)
        if not self.n_disc:  # frozen D: still measure it, for the accuracy curves
            d_loss, real_s, fake_s, fake = self._measure_d()
        acc_real, acc_fake = pair.accuracy(real_s.detach(), fake_s.detach())
        self.timer.mid()

        with precision.autocast():
            fake_s = pair.D(fake if fake is not None else pair.G(pair.noise())).float()
            real_for_g = pair.D(self.real()).detach().float() if self.g_needs_real else None
        g_loss = pair.g_loss(fake_s, real_for_g)
        precision.step(pair.total(g_loss), self.opt_g)
        self.callbacks.after_g_step(step)
        self.timer.stop(self.n_disc)
        return torch.stack([d_loss.detach(), g_loss.detach(), acc_real, acc_fake], dim=-1).float()

    def keep(self, live: list[bool]) -> None:
        """Only the runs marked live go on (a packed seed that diverged stops training)."""
        self.pair.keep(live)
        self.callbacks.keep(live)

    def _measure_d(self):
        pair = self.pair
        real = self.real()
        with self.precision.autocast():
            fake = pair.G(pair.noise()) if self.reuse_fake else None
            with torch.no_grad():
                real_s = pair.D(real).float()
                fake_s = pair.D(fake.detach() if fake is not None else pair.G(pair.noise())).float()
        with torch.no_grad():
            d_loss = pair.d_loss(real_s, fake_s)
        return d_loss, real_s, fake_s, fake


def _requires_grad(params: list, on: bool) -> None:
    for p in params:
        p.requires_grad_(on)
