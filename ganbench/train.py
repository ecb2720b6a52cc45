"""The training loop: D and G alternate, curves are logged, divergence stops a run.

Steps and epochs are defined in ``ganbench.schedule``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torchvision.utils import save_image

from .contracts import GanData, Loss, Models
from .metrics.cost import StepTimer
from .optimizers import build_optimizer
from .pretrain import pretrain_discriminator
from .sampling import sample
from .schedule import every, steps_per_epoch, total_steps
from .steps import d_step

GRID_SAMPLES = 64  # an 8x8 sample grid from a fixed noise batch
_ROW_ONLY = {"step", "epoch", "wall_s", "train_s", "lr_g"}  # history columns that are not metrics

# evaluate(generator, step) -> {metric: number}; supplied by the metrics layer.
Evaluator = Callable[[torch.nn.Module, int], dict]


@dataclass
class TrainResult:
    status: str  # "complete" or "diverged"
    history: list[dict] = field(default_factory=list)  # one row per log interval / eval
    metrics: dict[str, float] = field(default_factory=dict)
    diverged_at_step: int | None = None


class Batches:
    """Real batches sliced from a tensor held on the device, reshuffled every epoch."""

    def __init__(self, x: torch.Tensor, batch_size: int, seed: int):
        if len(x) < batch_size:
            raise ValueError(f"batch_size {batch_size} is larger than the dataset ({len(x)} samples)")
        self.x, self.bs = x, batch_size
        self.rng = torch.Generator().manual_seed(seed)  # its own stream: data order per seed
        self.order, self.pos = None, len(x)

    def __next__(self) -> torch.Tensor:
        if self.pos + self.bs > len(self.x):  # drop the last partial batch, reshuffle
            self.order = torch.randperm(len(self.x), generator=self.rng).to(self.x.device)
            self.pos = 0
        idx = self.order[self.pos : self.pos + self.bs]
        self.pos += self.bs
        return GanData.as_float(self.x[idx])  # (B, *shape) in [-1, 1]


def train(
    cfg: dict,
    data: GanData,
    models: Models,
    loss: Loss,
    device: torch.device,
    out_dir: Path,
    on_step: Callable[[int, int, dict | None], None] = lambda step, total, row: None,
    evaluate: Evaluator | None = None,
    donor: Path | None = None,
) -> TrainResult:
    """Train one run; `donor` is d_pretrain.from_run's folder as the worker sees it."""
    G, D = models.generator.to(device), models.discriminator.to(device)
    x_train = data.train.to(device)
    per_epoch = steps_per_epoch(len(x_train), cfg)
    total = total_steps(len(x_train), cfg)
    log_every = every(cfg["log_every"], per_epoch)
    grid_every = every(cfg["grid_every"], per_epoch) if data.kind == "image" else None
    eval_every = every(cfg["eval"]["every"], per_epoch) if evaluate else None
    batches = Batches(x_train, cfg["batch_size"], cfg["seed"])
    bs, z_dim = cfg["batch_size"], cfg["z_dim"]
    fixed_z = torch.randn(GRID_SAMPLES, z_dim, generator=torch.Generator().manual_seed(cfg["seed"])).to(device)

    lr_g = cfg["optimizer"]["lr"]
    opt_g = build_optimizer(G.parameters(), cfg["optimizer"], lr_g)
    wall0 = time.perf_counter()
    metrics: dict[str, float] = {"d_pretrain_s": pretrain_discriminator(cfg, D, G, loss, data, batches, device, donor)}

    # Freezing: `all` skips D's updates entirely, `trunk` trains only D's last layer.
    # Frozen parts run in eval mode, so their BatchNorm statistics stay fixed too.
    freeze = cfg["freeze_d"]
    d_trainable = [] if freeze == "all" else (list(D.head.parameters()) if freeze == "trunk" else list(D.parameters()))
    for p in D.parameters():
        p.requires_grad_(False)
    opt_d = build_optimizer(d_trainable, cfg["optimizer"], lr_g * cfg["lr_ratio"]) if d_trainable else None
    sched = [torch.optim.lr_scheduler.ExponentialLR(o, cfg["lr_decay"]) for o in (opt_g, opt_d) if o]

    def d_mode():
        D.train(freeze == "none")
        if freeze == "trunk":
            D.head.train()

    G.train()
    d_mode()
    history: list[dict] = []
    buf: list[torch.Tensor] = []  # per step: [d_loss, g_loss, acc_real, acc_fake], on device
    result = TrainResult("complete", history, metrics)
    train_s = warm_s = 0.0
    warm_steps = 0
    last_row = 0  # step of the last history row

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    timer = StepTimer(device)  # d_step_ms, g_step_ms, peak_mem_mb from a sample of steps
    sync()
    t0 = time.perf_counter()
    for step in range(1, total + 1):
        timer.start(step)
        # ---- discriminator: n_disc updates on fresh real batches
        for _ in range(cfg["n_disc"] if opt_d else 0):
            for p in d_trainable:
                p.requires_grad_(True)
            d_loss, real_s, fake_s = d_step(D, G, loss, opt_d, next(batches), z_dim)
            for p in d_trainable:  # G's update must not spend time on D's gradients
                p.requires_grad_(False)
        if not opt_d:  # frozen D: still measure it, for the accuracy curves
            real = next(batches)
            with torch.no_grad():
                real_s = D(real)
                fake_s = D(G(torch.randn(bs, z_dim, device=device)))
                d_loss = loss.d_loss(real_s, fake_s)
        acc_real, acc_fake = loss.accuracy(real_s.detach(), fake_s.detach())
        timer.mid()

        # ---- generator: one update through D
        fake_s = D(G(torch.randn(bs, z_dim, device=device)))
        real_for_g = D(next(batches)).detach() if loss.g_needs_real else None
        g_loss = loss.g_loss(fake_s, real_for_g)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        timer.stop(cfg["n_disc"] if opt_d else 0)

        buf.append(torch.stack([d_loss.detach(), g_loss.detach(), acc_real, acc_fake]).float())
        if step % per_epoch == 0:
            for s in sched:
                s.step()
        on_step(step, total, None)

        is_log = step == total or (log_every and step % log_every == 0)
        is_grid = grid_every and (step % grid_every == 0 or step == total)
        is_eval = eval_every and (step % eval_every == 0 or step == total)
        if not (is_log or is_grid or is_eval):
            continue
        # ---- bookkeeping, outside the timed training segments
        sync()
        seg = time.perf_counter() - t0
        train_s += seg
        if warm_steps == 0 and step < total:  # the first segment is warm-up
            warm_s, warm_steps = seg, step
        if is_grid:
            name = _grid_name(step, per_epoch, cfg["grid_every"])
            save_image(sample(G, fixed_z), out_dir / "grids" / name, nrow=8, normalize=True, value_range=(-1, 1))
        if is_log or is_eval:
            vals = torch.stack(buf).cpu()  # (steps since last row, 4): one device sync per row
            buf.clear()
            row = {
                "step": step,
                "epoch": round(step / per_epoch, 4),
                "wall_s": round(time.perf_counter() - wall0, 3),
                "train_s": round(train_s, 3),
                "d_loss": vals[:, 0].mean().item(),
                "g_loss": vals[:, 1].mean().item(),
                "d_acc_real": vals[:, 2].mean().item(),
                "d_acc_fake": vals[:, 3].mean().item(),
                "lr_g": opt_g.param_groups[0]["lr"],
            }
            bad = (~torch.isfinite(vals[:, :2])).any(dim=1).nonzero()
            if len(bad):
                result.status, result.diverged_at_step = "diverged", last_row + int(bad[0]) + 1
                history.append(row)
                break
            if is_eval:
                row.update(evaluate(G, step))
            history.append(row)
            last_row = step
            on_step(step, total, row)
        sync()
        t0 = time.perf_counter()

    # Steady-state throughput: images of the training schedule (D's real batches) per
    # second, the warm-up segment excluded when there was more than one.
    done = history[-1]["step"] if history else 0
    steady_steps, steady_s = (done - warm_steps, train_s - warm_s) if warm_steps else (done, train_s)
    img_per_step = bs * cfg["n_disc"]
    last = history[-1] if history else {}
    metrics.update(
        {
            "train_img_per_s": img_per_step * steady_steps / steady_s if steady_s > 0 else math.nan,
            "train_s": train_s,
            "wall_s": time.perf_counter() - wall0,
            "steps": done,
            "epochs": done / per_epoch,
            "d_loss": last.get("d_loss", math.nan),
            "g_loss": last.get("g_loss", math.nan),
            "d_acc_real": last.get("d_acc_real", math.nan),
            "d_acc_fake": last.get("d_acc_fake", math.nan),
        }
    )
    metrics.update(timer.summary())
    for k in last.keys() - metrics.keys() - _ROW_ONLY:
        metrics[k] = last[k]  # the last evaluation's scores are the final metrics
    return result


def _grid_name(step: int, per_epoch: int, interval: str) -> str:
    if interval.endswith(("epoch", "epochs")) and step % per_epoch == 0:
        return f"epoch_{step // per_epoch:03d}.png"
    return f"step_{step:07d}.png"
