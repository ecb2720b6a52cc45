"""The training loop: D and G alternate, curves are logged, divergence stops a run.

Steps and epochs are defined in ``ganbench.schedule``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from torchvision.utils import save_image

from . import checkpoint
from .callbacks import Loop
from .contracts import GanData, Loss, Models
from .metrics.cost import StepTimer
from .metrics.keys import LOWER
from .optimizers import build_optimizer, implementation, keep_implementation
from .pretrain import pretrain_discriminator
from .sampling import sample
from .schedule import every, steps_per_epoch, total_steps
from .speed import ieee_fp32, set_tf32, to_channels_last, use_channels_last
from .steps import Precision, d_step

GRID_SAMPLES = 64  # an 8x8 sample grid from a fixed noise batch
_ROW_ONLY = {"step", "epoch", "wall_s", "train_s", "lr_g", "lr_d"}  # history columns that are not metrics

# evaluate(generator, step) -> {metric: number}; supplied by the metrics layer.
Evaluator = Callable[[torch.nn.Module, int], dict]


@dataclass
class TrainResult:
    status: str  # "complete" or "diverged"
    history: list[dict] = field(default_factory=list)  # one row per log interval / eval
    metrics: dict[str, float] = field(default_factory=dict)
    diverged_at_step: int | None = None
    best: dict | None = None  # keep_best: {metric, direction, value, step, file}
    record: dict = field(default_factory=dict)  # what callbacks add to run.json (generator_file...)
    speed: dict = field(default_factory=dict)  # how the speed settings resolved (run.json env.speed)


class Batches:
    """Real batches sliced from a tensor held on the device, reshuffled every epoch."""

    def __init__(self, x: torch.Tensor, batch_size: int, seed: int, channels_last: bool = False):
        if len(x) < batch_size:
            raise ValueError(f"batch_size {batch_size} is larger than the dataset ({len(x)} samples)")
        # channels_last: the data are stored NHWC once; a batch is made so if indexing lost it
        self.format = torch.channels_last if channels_last else torch.contiguous_format
        self.x, self.bs = x.contiguous(memory_format=self.format), batch_size
        self.rng = torch.Generator().manual_seed(seed)  # its own stream: data order per seed
        self.order, self.pos = None, len(x)

    def __next__(self) -> torch.Tensor:
        if self.pos + self.bs > len(self.x):  # drop the last partial batch, reshuffle
            order = torch.randperm(len(self.x), generator=self.rng)  # (N,), on the CPU: the same order on any device
            if self.x.is_cuda:  # from pinned memory the copy needs no host sync (pageable memory would)
                order = order.pin_memory()
            self.order = order.to(self.x.device, non_blocking=True)
            self.pos = 0
        idx = self.order[self.pos : self.pos + self.bs]
        self.pos += self.bs
        return GanData.as_float(self.x[idx]).contiguous(memory_format=self.format)  # (B, *shape) in [-1, 1]

    def state_dict(self) -> dict:
        return {"rng": self.rng.get_state(), "order": self.order, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.rng.set_state(state["rng"])
        self.order, self.pos = state["order"], state["pos"]


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
    loggers: Sequence = (),
    resume: bool = False,
    callbacks: Sequence = (),
) -> TrainResult:
    """Train one run into out_dir.

    on_step(step, total, row) after every step (row: the history row just logged, or None).
    donor: d_pretrain.from_run's folder as this process sees it. loggers: receive each
    history row and sample grid as they are made (``ganbench.loggers``). resume: go on from
    out_dir's checkpoint (``ganbench.checkpoint``) instead of starting at step 1. callbacks:
    ``ganbench.callbacks`` run after D's and G's updates and may choose the scored generator.
    """
    G, D = models.generator.to(device), models.discriminator.to(device)
    x_train = data.train.to(device)
    # ---- speed settings (ganbench.speed): how the recipe executes, not what it computes
    speed = {"tf32": cfg.get("tf32", "off"), **set_tf32(cfg.get("tf32", "off"))}
    speed["channels_last"] = use_channels_last(cfg.get("channels_last", "auto"), device, G, D, x_train.dim() == 4)
    if speed["channels_last"]:
        to_channels_last(G, D)  # before the optimizers and callbacks see the parameters
    per_epoch = steps_per_epoch(len(x_train), cfg)
    total = total_steps(len(x_train), cfg)
    log_every = every(cfg["log_every"], per_epoch)
    grid_every = every(cfg["grid_every"], per_epoch) if data.kind == "image" else None
    eval_every = every(cfg["eval"]["every"], per_epoch) if evaluate else None
    batches = Batches(x_train, cfg["batch_size"], cfg["seed"], speed["channels_last"])
    bs, z_dim = cfg["batch_size"], cfg["z_dim"]
    fixed_z = torch.randn(GRID_SAMPLES, z_dim, generator=torch.Generator().manual_seed(cfg["seed"])).to(device)
    saver = _Checkpoints(cfg, per_epoch)
    reuse_fake = not cfg.get("g_step_fresh_fake", True)  # configs from before the option: fresh
    precision = Precision(cfg.get("precision", "fp32"), device)
    best_metric = cfg.get("keep_best", "none")

    lr_g = cfg["optimizer"]["lr"]
    fused = cfg.get("fused_optimizers", "auto")
    speed["optimizer_g"] = implementation(cfg["optimizer"], G.parameters(), device, fused)
    opt_g = build_optimizer(G.parameters(), cfg["optimizer"], lr_g, speed["optimizer_g"])
    wall0 = time.perf_counter()
    state = checkpoint.load(out_dir, device) if resume else None
    metrics: dict[str, float] = {
        "d_pretrain_s": state["metrics"]["d_pretrain_s"] if state else pretrain_discriminator(cfg, D, G, loss, data, batches, device, donor)
    }

    # Freezing: `all` skips D's updates entirely, `trunk` trains only D's last layer.
    # Frozen parts run in eval mode, so their BatchNorm statistics stay fixed too.
    freeze = cfg["freeze_d"]
    d_trainable = [] if freeze == "all" else (list(D.head.parameters()) if freeze == "trunk" else list(D.parameters()))
    for p in D.parameters():
        p.requires_grad_(False)
    speed["optimizer_d"] = implementation(cfg["optimizer"], d_trainable, device, fused) if d_trainable else None
    opt_d = build_optimizer(d_trainable, cfg["optimizer"], lr_g * cfg["lr_ratio"], speed["optimizer_d"]) if d_trainable else None
    sched = [torch.optim.lr_scheduler.ExponentialLR(o, cfg["lr_decay"]) for o in (opt_g, opt_d) if o]

    def d_mode():
        D.train(freeze == "none")
        if freeze == "trunk":
            D.head.train()

    G.train()
    d_mode()
    loop = Loop(G, D, opt_g, opt_d, cfg, device)
    for cb in callbacks:
        cb.setup(loop)
    # The generator that is evaluated, drawn in grids and kept as best: G, or e.g. its EMA.
    G_scored = next((g for g in (cb.generator(loop) for cb in callbacks) if g is not None), G)
    history: list[dict] = []
    buf: list[torch.Tensor] = []  # per step: [d_loss, g_loss, acc_real, acc_fake], on device
    result = TrainResult("complete", history, metrics, speed=speed)
    train_s = warm_s = 0.0
    warm_steps = 0
    last_row = 0  # step of the last history row
    first = 1
    if state:  # ---- resume: every piece of state the loop reads, as it was at the checkpoint
        checkpoint.restore_into(
            state,
            {
                "G": G,
                "D": D,
                "opt_g": opt_g,
                "opt_d": opt_d,
                "loss": loss if hasattr(loss, "load_state_dict") else None,
                "evaluator": evaluate if hasattr(evaluate, "load_state_dict") else None,
            },
            device,
        )
        for opt in (opt_g, opt_d):
            if opt:
                keep_implementation(opt)
        for cb, cb_state in zip(callbacks, state.get("callbacks") or []):
            cb.load_state_dict(cb_state)
        for s_, st in zip(sched, state["sched"]):
            s_.load_state_dict(st)
        batches.load_state_dict(state["batches"])
        history.extend(state["history"])
        train_s, warm_s, warm_steps, last_row = state["train_s"], state["warm_s"], state["warm_steps"], state["last_row"]
        wall0 -= state["wall_s"]
        result.best = state["best"]
        first = state["step"] + 1
        checkpoint.set_rng_state(state["rng"], device)
        for logger in loggers:
            logger.resumed(history)
        saver.done(state["step"])

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def snapshot(step: int) -> dict:
        return {
            "step": step,
            "history": history,
            "metrics": {"d_pretrain_s": metrics["d_pretrain_s"]},
            "train_s": train_s,
            "warm_s": warm_s,
            "warm_steps": warm_steps,
            "last_row": last_row,
            "wall_s": time.perf_counter() - wall0,
            "best": result.best,
            "G": G.state_dict(),
            "D": D.state_dict(),
            "opt_g": opt_g.state_dict(),
            "opt_d": opt_d.state_dict() if opt_d else None,
            "sched": [s_.state_dict() for s_ in sched],
            "batches": batches.state_dict(),
            "rng": checkpoint.rng_state(device),
            "loss": loss.state_dict() if hasattr(loss, "state_dict") else None,
            "evaluator": evaluate.state_dict() if hasattr(evaluate, "state_dict") else None,
            "callbacks": [cb.state_dict() for cb in callbacks],
        }

    timer = StepTimer(device)  # d_step_ms, g_step_ms, peak_mem_mb from a sample of steps
    sync()
    t0 = time.perf_counter()
    for step in range(first, total + 1):
        timer.start(step)
        # ---- discriminator: n_disc updates on fresh real batches. The last one's fake
        # batch keeps G's graph and is reused for G's update (one G forward per D update,
        # as in the DCGAN tutorial), unless g_step_fresh_fake asks for a fresh one.
        fake = None
        for i in range(cfg["n_disc"] if opt_d else 0):
            for p in d_trainable:
                p.requires_grad_(True)
            if reuse_fake and i == cfg["n_disc"] - 1:
                with precision.autocast():
                    fake = G(torch.randn(bs, z_dim, device=device))  # (B, *shape), with G's graph
            d_loss, real_s, fake_s = d_step(D, G, loss, opt_d, next(batches), z_dim, fake, precision)
            for p in d_trainable:  # G's update must not spend time on D's gradients
                p.requires_grad_(False)
            for cb in callbacks:
                cb.after_d_step(loop, step)
        if not opt_d:  # frozen D: still measure it, for the accuracy curves
            real = next(batches)
            with precision.autocast():
                fake = G(torch.randn(bs, z_dim, device=device)) if reuse_fake else None
                with torch.no_grad():
                    real_s = D(real).float()
                    fake_s = D(fake.detach() if fake is not None else G(torch.randn(bs, z_dim, device=device))).float()
            with torch.no_grad():
                d_loss = loss.d_loss(real_s, fake_s)
        acc_real, acc_fake = loss.accuracy(real_s.detach(), fake_s.detach())
        timer.mid()

        # ---- generator: one update through D
        with precision.autocast():
            fake_s = D(fake if fake is not None else G(torch.randn(bs, z_dim, device=device))).float()
            real_for_g = D(next(batches)).detach().float() if loss.g_needs_real else None
        g_loss = loss.g_loss(fake_s, real_for_g)
        precision.step(g_loss, opt_g)
        for cb in callbacks:
            cb.after_g_step(loop, step)
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
            path = out_dir / "grids" / _grid_name(step, per_epoch, cfg["grid_every"])
            save_image(sample(G_scored, fixed_z, cfg["eval"].get("g_mode", "eval")), path, nrow=8, normalize=True, value_range=(-1, 1))
            for logger in loggers:
                logger.log_image("samples", path, step)
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
                "lr_d": opt_d.param_groups[0]["lr"] if opt_d else math.nan,  # frozen D: no optimizer
            }
            bad = (~torch.isfinite(vals[:, :2])).any(dim=1).nonzero()
            if len(bad):
                result.status, result.diverged_at_step = "diverged", last_row + int(bad[0]) + 1
                history.append(row)
                for logger in loggers:
                    logger.log_row(row)
                break
            if is_eval:
                with ieee_fp32():  # scores must not depend on the GPU or on `tf32`
                    row.update(evaluate(G_scored, step))
                _keep_best(best_metric, row, result, G_scored, D, out_dir)
            history.append(row)
            last_row = step
            for logger in loggers:
                logger.log_row(row)
            on_step(step, total, row)
            if step < total and saver.due(step):
                checkpoint.save(out_dir, snapshot(step))
                saver.done(step)
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
    for cb in callbacks:
        result.record.update(cb.finish(loop, out_dir))
    return result


class _Checkpoints:
    """When to checkpoint: at the first log row at or after each `checkpoint_every`."""

    def __init__(self, cfg: dict, per_epoch: int):
        spec = cfg.get("checkpoint_every", "none")
        self.auto = spec == "auto"
        self.every = None if spec in ("auto", "none") else every(spec, per_epoch)
        self.last_step, self.last_t = 0, time.perf_counter()

    def due(self, step: int) -> bool:
        if self.auto:
            return time.perf_counter() - self.last_t >= checkpoint.AUTO_EVERY_S
        return bool(self.every) and step // self.every > self.last_step // self.every

    def done(self, step: int) -> None:
        self.last_step, self.last_t = step, time.perf_counter()


def _keep_best(spec: str, row: dict, result: TrainResult, G, D, out_dir: Path) -> None:
    """keep_best: METRIC[:lower|higher] -> best.pt holds the weights of the best evaluation."""
    if spec in (None, "none"):
        return
    metric, _, how = spec.partition(":")  # the direction is resolved by validation
    value = row.get(metric)
    if value is None or not math.isfinite(value):
        return
    best = result.best
    if best is None or (value < best["value"] if how == LOWER else value > best["value"]):
        checkpoint.save(
            out_dir, {"step": row["step"], "metric": metric, "value": value, "G": G.state_dict(), "D": D.state_dict()}, checkpoint.BEST_FILE
        )
        result.best = {"metric": metric, "direction": how, "value": value, "step": row["step"], "file": checkpoint.BEST_FILE}


def _grid_name(step: int, per_epoch: int, interval: str) -> str:
    if interval.endswith(("epoch", "epochs")) and step % per_epoch == 0:
        return f"epoch_{step // per_epoch:03d}.png"
    return f"step_{step:07d}.png"
