"""The training loop: step, and tell each run what fell due.

    for step in range(first, total + 1):
        scalars.append(train_step(step))     # D's n_disc updates and G's, on the device
        schedulers at epoch ends; progress
        grid / history row (divergence, evaluation, checkpoint) when due, untimed

``train`` trains one run; ``train_packed`` trains several seeds of one cell packed into one
stacked model (``engine.packed``). Steps
and epochs are defined in ``ganbench.schedule``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from ..contracts import GanData, Loss, Models
from ..metrics.cost import StepTimer
from ..optimizers import build_optimizer, keep_implementation
from ..schedule import every, steps_per_epoch, total_steps
from . import graphs, packed
from .batches import StackedBatches
from .rng import OwnStreams
from .run import Evaluator, Run, RunSpec, TrainResult
from .setup import prepare
from .step import Callbacks, Precision, Step


@dataclass(frozen=True)
class Plan:
    """When things fall due, in generator steps (shared by the runs of a pack)."""

    per_epoch: int
    total: int
    log_every: int | None
    grid_every: int | None
    eval_every: int | None

    @classmethod
    def of(cls, cfg: dict, data: GanData, evaluated: bool) -> Plan:
        per_epoch = steps_per_epoch(len(data.train), cfg)
        grid = every(cfg["grid_every"], per_epoch) if data.kind == "image" else None
        evals = every(cfg["eval"]["every"], per_epoch) if evaluated else None
        return cls(per_epoch, total_steps(len(data.train), cfg), every(cfg["log_every"], per_epoch), grid, evals)

    def due(self, step: int) -> tuple[bool, bool, bool]:
        """(history row, sample grid, evaluation) at this step; the last step has all."""
        last = step == self.total
        evals = bool(self.eval_every) and (last or step % self.eval_every == 0)
        row = last or bool(self.log_every) and step % self.log_every == 0 or evals
        grid = bool(self.grid_every) and (last or step % self.grid_every == 0)
        return row, grid, evals


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
    return train_spec(RunSpec(cfg, models, loss, Path(out_dir), on_step, evaluate, donor, loggers, resume, callbacks), data, device)


def train_spec(spec: RunSpec, data: GanData, device: torch.device) -> TrainResult:
    """Train one run given as a RunSpec (its `rng`: the global generators' state it starts from)."""
    plan = Plan.of(spec.cfg, data, spec.evaluate is not None)
    run = prepare(spec, data, data.train.to(device), device, plan)
    step = graphed([run], plain_step(run, device), run.batches, device)
    drive([run], step, plan, run.sched, device)
    assert run.result is not None
    return run.result


def train_packed(specs: list[RunSpec], data: GanData, device: torch.device) -> list[TrainResult]:
    """Train runs of one cell that differ only in their seed as one pack (``engine.packed``;
    the caller has checked ``packed.unpackable``). Each spec's `rng` is the state of the
    global generators its run starts from, captured right after its models were built from
    its seed: each seed is set up as its unpacked run would be (D pretraining, resume),
    then keeps its stream apart. Returns the results in the specs' order."""
    plan = Plan.of(specs[0].cfg, data, specs[0].evaluate is not None)
    x_train = data.train.to(device)
    runs = []
    for spec in specs:
        run = prepare(spec, data, x_train, device, plan, packed=True)
        run.state.parts["rng"] = OwnStreams.capture(device)
        runs.append(run)
    step, schedulers = packed_step(runs, device)
    step = graphed(runs, step, StackedBatches([r.batches for r in runs]), device)
    drive(runs, step, plan, schedulers, device)
    step.pair.release()
    return [run.result for run in runs]


def graphed(runs: list[Run], step: Step, batches, device: torch.device):
    """`step`, captured in a CUDA graph when the runs ask for it and it can be (engine.graphs)."""
    cfg = runs[0].cfg
    on = graphs.wanted(cfg.get("cuda_graphs", "auto"), device)
    why = graphs.unsupported(cfg, list(runs[0].spec.callbacks), step.pair, [step.opt_g, step.opt_d]) if on else None
    for run in runs:
        run.speed["cuda_graphs"] = on and why is None
        if why:
            run.notes.append(f"cuda_graphs: the step runs eagerly: {why}")
    return graphs.GraphedStep(step, batches, list(runs[0].spec.callbacks), device) if on and why is None else step


def plain_step(run: Run, device: torch.device) -> Step:
    """One run's step: its own G, D, optimizers and batches."""
    cfg = run.cfg
    return Step(
        run.pair,
        run.loop.opt_g,
        run.loop.opt_d,
        run.d_params,
        cfg,
        Precision(cfg.get("precision", "fp32"), device),
        Callbacks([(run.loop, list(run.spec.callbacks))]),
        run.real,
        StepTimer(device),
    )


def packed_step(runs: list[Run], device: torch.device) -> tuple[Step, list]:
    """The step of K seeds packed: their models stacked, one optimizer per model over the
    stacked tensors carrying the seeds' stacked states, each seed's run rebound to its slice."""
    cfg, first = runs[0].cfg, runs[0]
    G, D = packed.Stack([r.loop.G for r in runs]), packed.Stack([r.loop.D for r in runs])
    d_params = D.named(first.d_params)
    capturable = graphs.wanted(cfg.get("cuda_graphs", "auto"), device)
    opt_g = build_optimizer(list(G.params.values()), cfg["optimizer"], cfg["optimizer"]["lr"], first.speed["optimizer_g"], capturable)
    packed.load_stacked(opt_g, [r.loop.opt_g for r in runs])
    opt_d = None
    if first.loop.opt_d is not None:
        opt_d = build_optimizer(
            d_params, cfg["optimizer"], cfg["optimizer"]["lr"] * cfg["lr_ratio"], first.speed["optimizer_d"], capturable
        )
        packed.load_stacked(opt_d, [r.loop.opt_d for r in runs])
    for opt in (opt_g, opt_d):
        if opt is not None:
            keep_implementation(opt)
    schedulers = [torch.optim.lr_scheduler.ExponentialLR(o, cfg["lr_decay"]) for o in (opt_g, opt_d) if o]
    for mine, theirs in zip(schedulers, first.sched):
        mine.load_state_dict(theirs.state_dict())
    for k, run in enumerate(runs):
        run.loop.opt_g = run.state.parts["opt_g"] = packed.OptimizerSlice(opt_g, k)
        run.loop.opt_d = run.state.parts["opt_d"] = packed.OptimizerSlice(opt_d, k) if opt_d else None
        run.state.parts["sched"] = run.sched = schedulers
        run.speed["pack"] = len(runs)
    pair = packed.StackedPair(
        G, D, [r.spec.loss for r in runs], [r.state.parts["rng"] for r in runs], cfg["batch_size"], cfg["z_dim"], device
    )
    step = Step(
        pair,
        opt_g,
        opt_d,
        d_params,
        cfg,
        Precision(cfg.get("precision", "fp32"), device),
        Callbacks([(r.loop, list(r.spec.callbacks)) for r in runs]),
        StackedBatches([r.batches for r in runs]).__next__,
        StepTimer(device),
    )
    return step, schedulers


def drive(runs: list[Run], step: Step, plan: Plan, schedulers: list, device: torch.device) -> None:
    """Train `runs` with `step` from their next step to the end: the loop itself.

    step(i) returns (4,) scalars for one run, (K, 4) for K packed runs; they stay on the
    device until a history row needs them (one host sync per row). A run that diverges is
    finished at that row and masked out of the step; the others go on."""
    first = runs[0].state.step + 1
    scalars: list[torch.Tensor] = []  # per step: (K, 4) or (4,), on the device
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda device: None
    sync(device)
    t0 = time.perf_counter()
    for i in range(first, plan.total + 1):
        scalars.append(step(i))
        if i % plan.per_epoch == 0:
            for s in schedulers:
                s.step()
        live = [run for run in runs if run.live]
        for run in live:
            run.progress(i)
        is_row, is_grid, is_eval = plan.due(i)
        if not (is_row or is_grid):
            continue
        sync(device)  # ---- bookkeeping, outside the timed training segments
        seg = time.perf_counter() - t0
        for run in live:
            run.state.clock.add(seg, i, plan.total)
        if is_grid:
            for run in live:
                run.grid(i)
        if is_row:
            vals = torch.stack(scalars).cpu()  # (S, 4) or (S, K, 4): one device sync per row
            scalars.clear()
            vals = vals.view(len(vals), -1, 4)  # (S, K, 4)
            for k, run in enumerate(runs):
                if run.live:
                    out_of_time = run.out_of_time()  # a train_seconds budget: this row is the last
                    run.log(i, vals[:, k], is_eval or out_of_time, final=out_of_time)
                    if run.status == "diverged" or out_of_time:
                        run.finish(step.timer)
            step.keep([run.live for run in runs])
        if not any(run.live for run in runs):
            break
        sync(device)
        t0 = time.perf_counter()
    for run in runs:
        if run.live:
            run.finish(step.timer)
