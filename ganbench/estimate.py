"""What a suite will cost before it trains: CPU time, and disk for checkpoints.

Two warnings the scheduler prints before the first run (``warn_costs``), never refusals:

- **CPU time.** A suite written at a GPU's scale (``--profile none`` of a shipped suite:
  46,850-step runs) trains on a CPU for many hours without a word. When the runs train on
  the CPU and have many steps, one training step of each distinct model is timed here
  (D's updates and G's, losses and penalties included; evaluation and data order are not)
  and the suite's training time estimated from it; above ``WARN_CPU_S`` it says so, with
  the way out (the suite's `cpu` profile, ``--set steps=N``).
- **Disk.** A run in progress keeps one checkpoint: G, D and both optimizers' states
  (Adam: two slots per parameter, so about 3x the weights), written beside the previous
  one and renamed over it (for a moment there are two), then the final weights. When the
  results disk has less free space than the runs at once need, it says what they need.
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path

import torch

from .contracts import GanData
from .schedule import total_steps

WARN_CPU_S = 3600.0  # estimated CPU training time above which the scheduler warns
PROBE_ABOVE_STEPS = 20_000  # fewer steps in all: never worth timing (a tiny suite, a test)
BYTES_PER_VALUE = 4  # fp32 weights and optimizer states
# Optimizer state tensors per parameter (torch's implementations).
SLOTS = {"adam": 2, "adamw": 2}


def warn_costs(runs, builder, devices, results: Path, capacity: int, console, profiles: list[str], profile: str | None) -> None:
    """Print the CPU-time and disk warnings that apply (see the module docstring); an
    estimate that cannot be made is left out, never an error."""
    try:
        _warn(runs, builder, devices, results, capacity, console, profiles, profile)
    except BaseException as e:  # even a plugin's sys.exit(): its run fails with it later
        if isinstance(e, KeyboardInterrupt):
            raise


def _warn(runs, builder, devices, results: Path, capacity: int, console, profiles: list[str], profile: str | None) -> None:
    models = _models(runs, builder)
    if all(torch.device(d).type == "cpu" for d in devices):
        seconds, detail = cpu_estimate(runs, builder, models)
        if seconds > WARN_CPU_S:
            way = "--profile cpu (the suite's reduced variant) or " if "cpu" in profiles and profile != "cpu" else ""
            console.print(
                f"warning: on the CPU these runs need about {_duration(seconds)} of training ({detail}); "
                f"for a quick look use {way}--set steps=N",
                markup=False,
                highlight=False,
            )
    need, per_run = disk_need(runs, models, capacity)
    free = _free_bytes(results)
    if need and free is not None and free < need:
        console.print(
            f"warning: {results} has {_size(free)} free, and {min(capacity, len(runs))} run(s) at once need about {_size(need)} "
            f"({per_run}); set checkpoint_every: none to train without checkpoints, or free space",
            markup=False,
            highlight=False,
        )


def _models(runs, builder) -> dict[str, tuple]:
    """One (models, data, loss) per distinct model of the runs, built on the CPU; those
    that cannot be built are left out (their runs fail with the reason)."""
    out: dict[str, tuple] = {}
    for run in runs:
        cfg = run.config
        key = _key(cfg)
        if key in out:
            continue
        try:
            data = builder.data(cfg["dataset"])
            with torch.random.fork_rng(devices=[]):
                out[key] = (builder.models(cfg, data), data, builder.loss(cfg))
        except BaseException as e:  # SystemExit included: the run fails with it, not the estimate
            if isinstance(e, KeyboardInterrupt):
                raise
            continue
    return out


def _key(cfg: dict) -> str:
    return repr((cfg["dataset"], cfg["architecture"], cfg["z_dim"], cfg["loss"]))


def cpu_estimate(runs, builder, models: dict | None = None) -> tuple[float, str]:
    """(seconds of CPU training for `runs`, one line saying how it was estimated).

    Nothing is timed when the runs have fewer than PROBE_ABOVE_STEPS steps in all."""
    models = _models(runs, builder) if models is None else models
    steps = {}
    for run in runs:
        key = _key(run.config)
        if key in models:
            steps.setdefault(key, []).append((run, total_steps(len(models[key][1].train), run.config)))
    if sum(n for pairs in steps.values() for _, n in pairs) < PROBE_ABOVE_STEPS:
        return 0.0, ""
    seconds, per_step = 0.0, []
    for key, pairs in steps.items():
        m, data, loss = models[key]
        for cfg in {repr((r.config["batch_size"], r.config["n_disc"])): r.config for r, _ in pairs}.values():
            try:
                t = step_seconds(m, data, loss, cfg["batch_size"], cfg["z_dim"], cfg["n_disc"])
            except BaseException as e:  # a model that cannot take a step here: its run says why
                if isinstance(e, KeyboardInterrupt):
                    raise
                continue
            n = sum(s for r, s in pairs if (r.config["batch_size"], r.config["n_disc"]) == (cfg["batch_size"], cfg["n_disc"]))
            seconds += t * n
            per_step.append(t)
    if not per_step:
        return 0.0, ""
    longest = max(n for pairs in steps.values() for _, n in pairs)
    rate = f"~{max(per_step):.2g} s a step" if len(per_step) == 1 else f"{min(per_step):.2g} to {max(per_step):.2g} s a step"
    return seconds, f"{len(runs)} runs of up to {longest:,} steps at {rate}, timed here; evaluation not included"


def step_seconds(models, data: GanData, loss, batch_size: int, z_dim: int, n_disc: int) -> float:
    """Seconds of one training step on the CPU: n_disc D updates and one G update (forward
    and backward, the loss's penalty included), timed after one warm-up step."""
    G, D = models.generator, models.discriminator
    real = GanData.as_float(data.train[:batch_size])  # (B, *shape)
    gen = torch.Generator().manual_seed(0)

    def step():
        for _ in range(n_disc):
            fake = G(torch.randn(batch_size, z_dim, generator=gen)).detach()
            d = loss.d_loss(D(real), D(fake))
            penalty = loss.penalty(D, real, fake)
            (d + penalty if penalty is not None else d).backward()
        loss.g_loss(D(G(torch.randn(batch_size, z_dim, generator=gen))), D(real).detach() if loss.g_needs_real else None).backward()

    with torch.random.fork_rng(devices=[]):
        step()  # warm-up: allocations, kernel selection
        t0 = time.perf_counter()
        step()
        return time.perf_counter() - t0


def disk_need(runs, models: dict, capacity: int) -> tuple[int, str]:
    """(bytes the runs at once need on the results disk at their peak, how), 0 if unknown."""
    needs = []
    for run in runs:
        cfg = run.config
        if cfg["checkpoint_every"] == "none" or _key(cfg) not in models:
            continue
        m = models[_key(cfg)][0]
        g, d = (sum(p.numel() for p in x.state_dict().values() if isinstance(p, torch.Tensor)) for x in (m.generator, m.discriminator))
        checkpoint = (g + d) * (1 + optimizer_slots(cfg["optimizer"])) * BYTES_PER_VALUE
        ema = any(c["name"] == "ema" for c in cfg.get("callbacks") or [])
        final = (g * (2 if ema else 1) + d + ((g + d) if cfg["keep_best"] != "none" else 0)) * BYTES_PER_VALUE
        needs.append((2 * checkpoint + final, checkpoint))
    if not needs:
        return 0, ""
    needs.sort(reverse=True)
    at_once = needs[: max(1, capacity)]
    biggest = at_once[0][1]
    return sum(n for n, _ in at_once), f"a {_size(biggest)} checkpoint each, written beside the previous one, and the final weights"


def optimizer_slots(spec: dict) -> int:
    """State tensors per parameter of the run's optimizer (Adam: exp_avg, exp_avg_sq)."""
    name = spec.get("name")
    if name in SLOTS:
        return SLOTS[name]
    if name == "rmsprop":
        return 1 + bool(spec.get("centered")) + bool(spec.get("momentum"))
    return 1 if spec.get("momentum") else 0  # sgd: a momentum buffer


def _free_bytes(results: Path) -> int | None:
    path = Path(results).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.3g} TB"


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min"
