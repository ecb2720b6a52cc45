"""A run's mutable state as one object, and the clock that times its training.

``RunState`` holds everything of a run that changes while it trains, by name: models,
optimizers, schedulers, data order, random streams, the loss's, evaluator's and callbacks'
state, the history, the best evaluation so far and the clock. ``state_dict()`` is exactly
what a checkpoint holds (``ganbench.checkpoint`` writes it with the step), and
``load_state_dict`` restores it; nothing is listed twice. The mapping is the same for a
packed seed (whose parts are views of the pack's tensors) as for an unpacked run, so
either kind of run resumes from either kind of checkpoint.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ..checkpoint import CheckpointError
from ..optimizers import keep_implementation

# The parts of a run's state, by their names in a checkpoint (format 1): each an object
# with state_dict()/load_state_dict(), a list of them, or None (a frozen D has no optimizer,
# a stateless loss nothing to keep). The random streams come last: nothing restored after
# them may draw.
PARTS = ("G", "D", "opt_g", "opt_d", "sched", "batches", "loss", "evaluator", "callbacks", "augment", "rng")


class Clock:
    """A run's training time: the segments between bookkeeping (grids, rows, evaluations)
    that the loop measures, the first counted as warm-up; and the wall time since set-up."""

    def __init__(self):
        self.train_s = self.warm_s = 0.0
        self.warm_steps = 0
        self.wall0 = time.perf_counter()

    def add(self, seconds: float, step: int, total: int) -> None:
        """A training segment that ended at `step`."""
        self.train_s += seconds
        if self.warm_steps == 0 and step < total:  # the first segment is warm-up
            self.warm_s, self.warm_steps = seconds, step

    def wall_s(self) -> float:
        return time.perf_counter() - self.wall0

    def state_dict(self) -> dict:
        return {"train_s": self.train_s, "warm_s": self.warm_s, "warm_steps": self.warm_steps, "wall_s": self.wall_s()}

    def load_state_dict(self, state: dict) -> None:
        self.train_s, self.warm_s, self.warm_steps = state["train_s"], state["warm_s"], state["warm_steps"]
        self.wall0 = time.perf_counter() - state["wall_s"]


@dataclass
class RunState:
    parts: dict  # name (PARTS) -> stateful object, list of them, or None
    clock: Clock
    step: int = 0  # the last step trained
    last_row: int = 0  # the step of the last history row
    history: list[dict] = field(default_factory=list)
    best: dict | None = None  # keep_best: {metric, direction, value, step, file}
    d_pretrain_s: float = 0.0

    def state_dict(self) -> dict:
        out = {name: _state(part) for name, part in self.parts.items()}
        out.update(
            step=self.step,
            last_row=self.last_row,
            history=self.history,
            best=self.best,
            metrics={"d_pretrain_s": self.d_pretrain_s},
            **self.clock.state_dict(),
        )
        return out

    def load_state_dict(self, state: dict) -> None:
        """Restore from a checkpoint; CheckpointError (one line) when a part does not fit
        this run (another architecture or width, a damaged file)."""
        for name, part in self.parts.items():
            if part is None or state.get(name) is None:
                continue
            try:
                if isinstance(part, list):
                    for p, s in zip(part, state[name]):
                        p.load_state_dict(s)
                else:
                    part.load_state_dict(state[name])
                    if isinstance(part, torch.optim.Optimizer):
                        keep_implementation(part)
            except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as e:
                from ..store import mismatch_detail

                raise CheckpointError(
                    f"the checkpoint's {name} does not fit this run ({mismatch_detail(e)}); run the same command again to move it aside and start the run anew"
                ) from None
        self.step, self.last_row = state["step"], state["last_row"]
        self.history[:] = state["history"]
        self.best = state["best"]
        self.d_pretrain_s = state["metrics"]["d_pretrain_s"]
        self.clock.load_state_dict(state)


def _state(part):
    if part is None:
        return None
    if isinstance(part, list):
        return [p.state_dict() for p in part]
    return part.state_dict()
