"""One run inside the engine: its events, and what listens to them.

The loop (``engine.loop``) steps and, when something falls due, tells each run: a step
was trained (``progress``), a sample grid is due (``grid``), a history row is due
(``log``: divergence, evaluation, keep_best, checkpoint follow from it), the run ended
(``finish``). A run passes each event on to what listens: its loggers (rows, images), the
scheduler's progress callback, its evaluator, its checkpointer and its callbacks.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch

from .. import checkpoint
from ..keys import LOWER
from ..sampling import sample
from ..schedule import every
from ..speed import ieee_fp32
from .state import RunState

GRID_SAMPLES = 64  # an 8x8 sample grid from a fixed noise batch
ROW_ONLY = {"step", "epoch", "wall_s", "train_s", "lr_g", "lr_d"}  # history columns that are not metrics

# evaluate(generator, step) -> {metric: number}; supplied by the metrics layer.
Evaluator = Callable[[torch.nn.Module, int], dict]


@dataclass
class RunSpec:
    """One run as a caller hands it to the engine (``train``'s arguments)."""

    cfg: dict
    models: object  # contracts.Models, built from the run's seed
    loss: object  # contracts.Loss
    out_dir: Path
    on_step: Callable[[int, int, dict | None], None] = lambda step, total, row: None
    evaluate: Evaluator | None = None
    donor: Path | None = None  # d_pretrain.from_run's folder as this process sees it
    loggers: Sequence = ()
    resume: bool = False  # go on from out_dir's checkpoint
    callbacks: Sequence = ()
    rng: dict | None = None  # the global generators' state the run starts from (engine.rng.global_state); None: as they are
    augment: object = None  # ganbench.augment.Augment applied to D's inputs, or None


@dataclass
class TrainResult:
    status: str  # "complete" or "diverged"
    history: list[dict] = field(default_factory=list)  # one row per log interval / eval
    metrics: dict[str, float] = field(default_factory=dict)
    diverged_at_step: int | None = None
    best: dict | None = None  # keep_best: {metric, direction, value, step, file}
    record: dict = field(default_factory=dict)  # what callbacks add to run.json (generator_file...)
    speed: dict = field(default_factory=dict)  # how the speed settings resolved (run.json env.speed)
    notes: list[str] = field(default_factory=list)  # one-line remarks for run.json (why a speed setting did not apply)


def _save_image():
    from torchvision.utils import save_image

    return save_image


class Checkpoints:
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


class Run:
    """One run's side of the loop: see the module docstring. Built by ``engine.setup``."""

    def __init__(self, spec: RunSpec, state: RunState, plan, loop, G_scored, fixed_z, speed: dict):
        self.spec, self.cfg, self.out_dir = spec, spec.cfg, Path(spec.out_dir)
        self.state, self.plan, self.loop = state, plan, loop  # loop: the callbacks' view (callbacks.Loop)
        self.G_scored, self.fixed_z, self.speed = G_scored, fixed_z, speed
        # a conditional G's grid: row r drawn for class r (mod K), so each row shows one class
        classes = getattr(G_scored, "num_classes", None) if spec.models.conditional else None
        self.grid_labels = (torch.arange(len(fixed_z), device=fixed_z.device) // 8) % classes if classes else None
        self.saver = Checkpoints(self.cfg, plan.per_epoch)
        # torchvision (and the torch._dynamo it imports) costs a process ~1.5 s: imported
        # here, before the clock starts, and only by a run that writes grids
        self.save_image = _save_image() if plan.grid_every else None
        if state.step:  # resumed: the next checkpoint is due counting from the restored one
            self.saver.done(state.step)
        self.status, self.diverged_at_step = "complete", None
        self.result: TrainResult | None = None  # set by finish()
        self.notes: list[str] = []

    @property
    def live(self) -> bool:
        return self.result is None

    def progress(self, step: int) -> None:
        self.state.step = step
        self.spec.on_step(step, self.plan.total, None)

    def grid(self, step: int) -> None:
        """An 8x8 grid of the scored generator on the fixed noise batch, as a PNG."""
        path = self.out_dir / "grids" / _grid_name(step, self.plan.per_epoch, self.cfg["grid_every"])
        images = sample(self.G_scored, self.fixed_z, self.cfg["eval"].get("g_mode", "eval"), self.grid_labels)
        self.save_image(images, path, nrow=8, normalize=True, value_range=(-1, 1))
        for logger in self.spec.loggers:
            logger.log_image("samples", path, step)

    def out_of_time(self) -> bool:
        """`train_seconds` (a time budget, ganbench.budget): training time has reached it."""
        limit = self.cfg.get("train_seconds")
        return limit is not None and self.state.clock.train_s >= limit

    def log(self, step: int, vals: torch.Tensor, evaluate: bool, final: bool = False) -> None:
        """A history row from the step scalars since the last row, vals (S, 4) on the CPU;
        the run diverges if a loss stopped being finite, else it may be evaluated and
        checkpointed. final: the run stops at this row before its last step (out of time):
        its evaluation is the final one."""
        row = {
            "step": step,
            "epoch": round(step / self.plan.per_epoch, 4),
            "wall_s": round(self.state.clock.wall_s(), 3),
            "train_s": round(self.state.clock.train_s, 3),
            "d_loss": vals[:, 0].mean().item(),
            "g_loss": vals[:, 1].mean().item(),
            "d_acc_real": vals[:, 2].mean().item(),
            "d_acc_fake": vals[:, 3].mean().item(),
            "lr_g": self.loop.opt_g.param_groups[0]["lr"],
            "lr_d": self.loop.opt_d.param_groups[0]["lr"] if self.loop.opt_d else math.nan,  # frozen D: no optimizer
        }
        if self.spec.augment is not None:
            row.update(self.spec.augment.log())  # e.g. ADA's p and r_t
        bad = (~torch.isfinite(vals[:, :2])).any(dim=1).nonzero()
        if len(bad):
            self.status, self.diverged_at_step = "diverged", self.state.last_row + int(bad[0]) + 1
            self._append(row)
            return
        if evaluate and self.spec.evaluate is not None:
            with ieee_fp32():  # scores must not depend on the GPU or on `tf32`
                row.update(self.spec.evaluate(self.G_scored, step, **({"final": True} if final else {})))
            self._keep_best(row)
        self._append(row)
        self.state.last_row = step
        self.spec.on_step(step, self.plan.total, row)
        if step < self.plan.total and not final and self.saver.due(step):
            checkpoint.save(self.out_dir, self.state.state_dict())
            self.saver.done(step)

    def _append(self, row: dict) -> None:
        self.state.history.append(row)
        for logger in self.spec.loggers:
            logger.log_row(row)

    def _keep_best(self, row: dict) -> None:
        """keep_best: METRIC[:lower|higher] -> best.pt holds the weights of the best evaluation."""
        spec = self.cfg.get("keep_best", "none")
        if spec in (None, "none"):
            return
        metric, _, how = spec.partition(":")  # the direction is resolved by validation
        value = row.get(metric)
        if value is None or not math.isfinite(value):
            return
        best = self.state.best
        if best is None or (value < best["value"] if how == LOWER else value > best["value"]):
            weights = {"G": self.G_scored.state_dict(), "D": self.loop.D.state_dict()}
            checkpoint.save(self.out_dir, {"step": row["step"], "metric": metric, "value": value, **weights}, checkpoint.BEST_FILE)
            self.state.best = {"metric": metric, "direction": how, "value": value, "step": row["step"], "file": checkpoint.BEST_FILE}

    def finish(self, timer) -> TrainResult:
        """The run ended (complete, or diverged): its final metrics, and its callbacks' records.

        Throughput is the steady state's: images of the training schedule (D's real
        batches) per second, the warm-up segment excluded when there was more than one."""
        state, clock, cfg = self.state, self.state.clock, self.cfg
        history = state.history
        done = history[-1]["step"] if history else 0
        steady_steps, steady_s = (done - clock.warm_steps, clock.train_s - clock.warm_s) if clock.warm_steps else (done, clock.train_s)
        img_per_step = cfg["batch_size"] * cfg["n_disc"]
        last = history[-1] if history else {}
        metrics: dict[str, float] = {
            "d_pretrain_s": state.d_pretrain_s,
            "train_img_per_s": img_per_step * steady_steps / steady_s if steady_s > 0 else math.nan,
            "train_s": clock.train_s,
            "wall_s": clock.wall_s(),
            "steps": done,
            "epochs": done / self.plan.per_epoch,
            "d_loss": last.get("d_loss", math.nan),
            "g_loss": last.get("g_loss", math.nan),
            "d_acc_real": last.get("d_acc_real", math.nan),
            "d_acc_fake": last.get("d_acc_fake", math.nan),
        }
        metrics.update(timer.summary())
        for k in last.keys() - metrics.keys() - ROW_ONLY:
            metrics[k] = last[k]  # the last evaluation's scores are the final metrics
        result = TrainResult(self.status, history, metrics, self.diverged_at_step, state.best, speed=self.speed, notes=self.notes)
        for cb in self.spec.callbacks:
            result.record.update(cb.finish(self.loop, self.out_dir))
        self.result = result
        return result


def _grid_name(step: int, per_epoch: int, interval: str) -> str:
    if interval.endswith(("epoch", "epochs")) and step % per_epoch == 0:
        return f"epoch_{step // per_epoch:03d}.png"
    return f"step_{step:07d}.png"
