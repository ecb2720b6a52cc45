"""Training callbacks: code that runs inside the training loop at fixed points.

A callback is a plugin kind: a factory registered with the ``register_callbacks`` hook,
``make(**options) -> Callback``, named in a run's config as ``callbacks: [{name: ema,
decay: 0.999}]`` (a loss may bring its own through its ``defaults``: the ``wgan`` loss
brings ``weight-clip``). The built-ins (``ganbench.builtin.callbacks``):

- ``ema``: an exponential moving average of G's weights (Karras et al. 2018; the
  evaluation generator of StudioGAN and BigGAN-style benchmarks). Every metric, sample
  grid and ``ganbench eval`` scores the average; it is saved as ``G_ema.pt`` and run.json
  says which generator was scored (``generator_file``, ``protocol.generator``).
- ``weight-clip``: clamps every parameter of D to [-c, c] after each of D's updates
  (WGAN, Arjovsky et al. 2017, c = 0.01).

Everything a callback keeps must be in its ``state_dict`` (checkpoints save it). What its
``finish`` returns is recorded in run.json under ``callbacks.<name>``: a plugin cannot
overwrite the run's own fields (``status``, ``seed``...); a key that names one is refused
with a note (``record_callbacks``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn


@dataclass
class Loop:
    """What a callback may touch: the models and optimizers of the run, and its config."""

    G: nn.Module
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None  # None when D is frozen
    cfg: dict
    device: torch.device


class Callback:
    """Override what you need; every method is a no-op by default.

    packable: True when the callback may run on one seed of a pack (``engine.packed``):
    it reads and writes only loop.G's and loop.D's parameters and buffers (in place), which
    are views of that seed's slice of the pack's tensors, and draws no random numbers;
    loop.opt_g/opt_d are then the pack's shared learning rates and that seed's slice of the
    optimizer state, read-only. A run whose callbacks are not all packable trains unpacked."""

    packable = False
    # graph_safe_after: the step after which the callback's Python code takes the same
    # branches at every step, so a CUDA graph captured then replays it faithfully
    # (ganbench.engine.graphs); None: never (the run's step is not graphed).
    graph_safe_after: int | None = None

    def setup(self, loop: Loop) -> None:
        """Before the first step (after D pretraining), or before resuming from a checkpoint."""

    def after_d_step(self, loop: Loop, step: int) -> None:
        """After each of D's updates (n_disc per step)."""

    def after_g_step(self, loop: Loop, step: int) -> None:
        """After G's update of `step`."""

    def generator(self, loop: Loop) -> nn.Module | None:
        """The generator to evaluate, draw grids from and keep, instead of loop.G; None: G."""
        return None

    def finish(self, loop: Loop, out_dir: Path) -> dict:
        """The run ended (complete or diverged): write files into out_dir; return what
        run.json should record of this callback: it goes under ``callbacks.<name>``
        (JSON values). ``generator_file`` (a file this callback wrote into out_dir) and
        ``generator`` (a description) name the generator that was scored: they are also
        recorded at the top of run.json and in ``protocol.generator``."""
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class EMA(Callback):
    """G_ema = decay * G_ema + (1 - decay) * G after each of G's updates, from step `start`
    (before it, G_ema follows G exactly); BatchNorm running statistics are copied."""

    FILE = "G_ema.pt"
    packable = True  # reads loop.G's parameters and buffers, writes its own copy

    def __init__(self, decay: float = 0.999, start: int = 0):  # 0.999: StudioGAN's default
        if not 0 < decay < 1:
            raise ValueError(f"ema: decay must be in (0, 1), got {decay}")
        if start < 0:
            raise ValueError(f"ema: start must be >= 0, got {start}")
        self.decay, self.start = decay, start
        self.graph_safe_after = start  # before `start` the average copies G: another branch
        self._G: nn.Module | None = None

    @property
    def G(self) -> nn.Module:
        """The average (made by setup from the run's G)."""
        if self._G is None:
            raise RuntimeError("ema: setup() has not run")
        return self._G

    def setup(self, loop: Loop) -> None:
        if self._G is None:
            self._G = copy.deepcopy(loop.G).requires_grad_(False)

    @torch.no_grad()
    def after_g_step(self, loop: Loop, step: int) -> None:
        decay = self.decay if step > self.start else 0.0
        for avg, p in zip(self.G.parameters(), loop.G.parameters()):
            avg.lerp_(p, 1 - decay)
        for mean, b in zip(self.G.buffers(), loop.G.buffers()):  # BatchNorm statistics: copied
            mean.copy_(b)

    def generator(self, loop: Loop) -> nn.Module:
        return self.G

    def finish(self, loop: Loop, out_dir: Path) -> dict:
        from .store import save_weights

        save_weights(self.G.state_dict(), out_dir / self.FILE)
        return {"generator_file": self.FILE, "generator": f"ema(decay={self.decay:g}, start={self.start})"}

    def state_dict(self) -> dict:
        return {"G": self._G.state_dict() if self._G is not None else None}

    def load_state_dict(self, state: dict) -> None:
        if state.get("G") is not None:
            self.G.load_state_dict(state["G"])


class WeightClip(Callback):
    """Clamp D's parameters to [-c, c] after each of its updates: WGAN's Lipschitz bound."""

    packable = True  # clamps loop.D's parameters in place
    graph_safe_after = 0

    def __init__(self, c: float = 0.01):  # 0.01: Arjovsky et al. 2017
        if not c > 0:
            raise ValueError(f"weight-clip: c must be > 0, got {c}")
        self.c = c

    @torch.no_grad()
    def after_d_step(self, loop: Loop, step: int) -> None:
        for p in loop.D.parameters():
            p.clamp_(-self.c, self.c)


def make_callbacks(specs: list[dict], registry) -> list[Callback]:
    """Instantiate a run config's `callbacks` list from the registry.

    Each callback's ``finish`` is wrapped to keep what it returns on the callback
    (``finished_record``), so that ``record_callbacks`` can record it under the callback's
    own name, whatever loop calls it.
    """
    out = []
    for spec in specs:
        entry = registry.get("callback", spec["name"])
        cb = entry.factory(**{k: v for k, v in spec.items() if k != "name"})
        if not isinstance(cb, Callback):
            raise TypeError(f"callback {entry.name!r} ({entry.plugin}) returned {type(cb).__name__}, not Callback")
        _keep_finish(cb, entry.name)
        out.append(cb)
    return out


def _keep_finish(cb: Callback, name: str) -> None:
    finish = cb.finish

    def finish_and_keep(loop: Loop, out_dir: Path) -> dict:
        out = finish(loop, out_dir)
        cb.finished_record = out  # type: ignore[attr-defined]
        return out

    cb.registered_name = name  # type: ignore[attr-defined]
    cb.finish = finish_and_keep  # type: ignore[method-assign]


# What a callback's record may name beyond its own namespace: the generator that was scored.
GENERATOR_KEYS = ("generator_file", "generator")
# run.json's own top-level fields (ganbench.job.base_record and what a finished run adds):
# a callback returning one of them is refused, with a note, rather than recorded.
RESERVED_KEYS = frozenset(
    {"id", "suite", "status", "seed", "cell", "config", "metrics", "params_g", "params_d", "started", "finished", "env"}
    | {"protocol", "notes", "error", "diverged_at_step", "best", "resumed_from_step", "d_pretrain_donor", "description"}
    | {"report", "profile", "callbacks", "metric_failures", "earlier", "rescored"}
)


def record_callbacks(record: dict, callbacks, out_dir: Path) -> None:
    """Record what each callback's finish returned under ``record["callbacks"][name]``,
    and the scored generator (``generator_file``, ``generator``) at the top and in
    ``protocol.generator``. Refused, with a note in ``record["notes"]``: a key naming one of
    run.json's own fields, a ``generator_file`` that is not a file the callback wrote into
    out_dir, and a second callback naming the scored generator."""
    notes = record.setdefault("notes", [])
    if not isinstance(notes, list):
        notes = record["notes"] = [str(notes)]
    scored_by = None
    for cb in callbacks:
        name = getattr(cb, "registered_name", type(cb).__name__)
        out = getattr(cb, "finished_record", None)
        if out is None:
            continue
        if not isinstance(out, dict):
            notes.append(f"callback {name}: finish returned {type(out).__name__}, not a dict: not recorded")
            continue
        own = {}
        for key, value in out.items():
            key = str(key)
            if key in RESERVED_KEYS:
                notes.append(f"callback {name}: returned {key!r}, a field of run.json ganbench writes: refused, not recorded")
                continue
            own[key] = value
        if any(k in own for k in GENERATOR_KEYS):
            problem = _generator_problem(own, out_dir, scored_by)
            if problem:
                notes.append(f"callback {name}: {problem}: refused")
                for k in GENERATOR_KEYS:
                    own.pop(k, None)
            else:
                scored_by = name
                for k in GENERATOR_KEYS:
                    if k in own:
                        record[k] = own[k]
                if "generator" in own and record.get("protocol"):
                    record["protocol"]["generator"] = own["generator"]  # which G was scored is part of how
        if own:
            record.setdefault("callbacks", {})[name] = own


def _generator_problem(own: dict, out_dir: Path, scored_by: str | None) -> str | None:
    if scored_by is not None:
        return f"names the scored generator, which callback {scored_by} already named"
    file = own.get("generator_file")
    if file is not None and (not isinstance(file, str) or Path(file).name != file or not (Path(out_dir) / file).is_file()):
        return f"generator_file {str(file)[:80]!r} is not a file it wrote into the run folder"
    return None
