"""Equal budgets: a suite-level `budget:` that sets every cell's length so that each spends the same.

    budget: {g_updates: 600}       # every cell makes 600 G updates (steps)
    budget: {d_updates: 3000}      # steps = 3000 // n_disc (WGAN-GP's 5 critic steps: a fifth)
    budget: {images: 192000}       # real images D trains on: steps = N // (n_disc * batch_size)
    budget: {flops: 1.0e12}        # steps = F // FLOPs of one step (ganbench.metrics.flops)
    budget: {train_seconds: 120}   # each run trains for 120 s (see TRAIN_SECONDS_IN_LOOP)

Lucic et al. 2018 ("Are GANs Created Equal?") found that most claimed differences between
GAN variants vanish under equal computational budgets; a suite comparing losses with
different n_disc at equal `epochs` compares different amounts of work. A budget makes the
comparison fair by construction: the budget replaces whatever `epochs`/`steps` a cell set,
at suite expansion, so the resolved `steps` is in the run's config (and id) like any length.

Each run's config records the budget (`budget`, not part of the run id: `steps` is) and
run.json gets `budget: {kind, value, steps, spent: {g_updates, d_updates, images, flops,
train_seconds}}` (``spent``), so the report can state it and a reader can check it.
Division rounds down (a cell never spends more than the budget); `spent` says by how much
each fell short.
"""

from __future__ import annotations

import math
from typing import Any

from .config import BUDGET_KINDS, ConfigError, resolve, validate_budget_spec

KINDS = BUDGET_KINDS
TRAIN_SECONDS_KEY = "train_seconds"  # the resolved config key the training loop reads (None: no time limit)
# Whether the training loop honours `train_seconds` (stops at the first log row at or after S
# seconds of training, evaluation excluded, and makes that the final evaluation). Until it
# does, a `train_seconds` budget is refused rather than silently ignored.
TRAIN_SECONDS_IN_LOOP = True
# A budget's spelling is checked with the rest of a run config (config.validate_budget_spec).


def flops_per_step(config: dict, registry) -> int:
    """FLOPs of one training step of a resolved config, from its models built on the CPU."""
    import torch

    from .build import Builder
    from .metrics.flops import PER_STEP, count_step

    builder = Builder(registry)
    data = builder.data(config["dataset"])
    with torch.random.fork_rng(devices=[]):
        models = builder.models(config, data)
    return count_step(config, models, builder.loss(config), tuple(data.train.shape[1:]), torch.device("cpu"))[PER_STEP]


def steps_for(kind: str, amount: float, config: dict, registry) -> int:
    """The steps (G updates) that spend `amount` of `kind` under a resolved config (at least 1)."""
    n_disc, bs = config["n_disc"], config["batch_size"]
    per_step = {
        "g_updates": lambda: 1,
        "d_updates": lambda: n_disc,
        "images": lambda: n_disc * bs,
        "flops": lambda: flops_per_step(config, registry),
    }[kind]()
    return max(1, int(amount // per_step))


def apply(spec: Any, layers: list, config: dict, registry) -> dict:
    """The run's config with its length set by the suite's budget (the config itself when
    there is none): the budget is a last layer over the cell's own."""
    spec = validate_budget_spec(spec)
    if spec is None:
        if config.get("budget") is not None:
            raise ConfigError("budget", "is a suite-level key (`budget:` beside `base:`), which sets each cell's steps")
        return config
    ((kind, amount),) = spec.items()
    if kind == "train_seconds":
        if not TRAIN_SECONDS_IN_LOOP:
            raise ConfigError(
                "budget.train_seconds",
                "the training loop of this version cannot stop on time yet; use g_updates, d_updates, images or flops",
            )
        extra = {"budget": spec, TRAIN_SECONDS_KEY: amount}  # the cell's steps stay, as a cap
    else:
        extra = {"budget": spec, "steps": steps_for(kind, amount, config, registry)}
    return resolve([*layers, ("budget", extra)], registry)


def spent(config: dict, record: dict) -> dict | None:
    """run.json `budget`: the budget, the resolved length, and what the run spent of each kind."""
    spec = config.get("budget")
    if not spec:
        return None
    ((kind, amount),) = spec.items()
    metrics = record.get("metrics") or {}
    steps = metrics.get("steps")
    steps = int(steps) if isinstance(steps, (int, float)) and math.isfinite(steps) else config.get("steps")
    d_updates = 0 if config.get("freeze_d") == "all" else (steps or 0) * config["n_disc"]
    per_step = (record.get("flops") or {}).get("per_step")
    return {
        "kind": kind,
        "value": amount,
        "steps": config.get("steps"),
        "spent": {
            "g_updates": steps,
            "d_updates": d_updates,
            "images": d_updates * config["batch_size"],
            "flops": steps * per_step if steps is not None and per_step is not None else None,
            "train_seconds": metrics.get("train_s"),
        },
    }


def describe(spec: dict) -> str:
    """'g_updates = 600' for a report header."""
    ((kind, amount),) = spec.items()
    return f"{kind} = {amount:,.4g}" if isinstance(amount, float) else f"{kind} = {amount:,}"


def header_lines(runs) -> list[str]:
    """The report header's budget line(s): the budget of the runs' suites, and what each cell spent."""
    specs = {}
    for r in runs:
        spec = (r.config or {}).get("budget")
        if spec:
            specs.setdefault(describe(spec), []).append(r)
    lines = []
    for text, members in specs.items():
        steps = sorted({r.config.get("steps") for r in members if r.config.get("steps") is not None})
        lines.append(
            f"budget: {text} per run (a suite-level budget: each cell's length set to spend it; resolved steps {', '.join(map(str, steps))})"
        )
    return lines
