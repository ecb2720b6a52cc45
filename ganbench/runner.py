"""Running a suite: each run built from its plugins, trained, scored and stored.

A run that raises is recorded as failed (its traceback in the run folder) and the suite
goes on; a run whose losses stop being finite is recorded as diverged.
"""

from __future__ import annotations

import json
import platform
import random
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from . import __version__, metrics
from .contracts import Discriminator, GanData, Loss, Models
from .plugins import Registry
from .store import (
    COMPLETE, D_WEIGHTS, DIVERGED, FAILED, FINISHED, G_WEIGHTS, HISTORY_FILE, TRACEBACK_FILE, ResultsStore, now,
)
from .suite import Run, Suite
from .train import train


@dataclass
class SuiteOutcome:
    counts: Counter = field(default_factory=Counter)  # status -> runs
    skipped: int = 0

    @property
    def exit_code(self) -> int:
        return 1 if self.counts[FAILED] else 0


def resolve_device(spec: str) -> torch.device:
    """auto -> the GPU when there is one; cuda[:N] must exist."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ValueError(f"--device: unknown device {spec!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {spec}: CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s)")
    elif device.type != "cpu":
        raise ValueError(f"--device: unsupported device {spec!r}; use auto, cpu, cuda or cuda:N")
    return device


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def environment(device: torch.device, registry: Registry) -> dict:
    import torchvision
    import torch_fidelity

    return {
        "ganbench": __version__,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "torch_fidelity": torch_fidelity.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "device_name": device_name(device),
        "plugins": registry.distributions(),
    }


class Builder:
    """Instantiates a run's dataset, models and loss from the registry.

    Datasets are loaded once per distinct dataset config and shared by a suite's runs.
    """

    def __init__(self, registry: Registry):
        self.registry = registry
        self._data: dict[str, GanData] = {}

    def data(self, spec: dict) -> GanData:
        key = json.dumps(spec, sort_keys=True)
        if key not in self._data:
            entry = self.registry.get("dataset", spec["name"])
            data = entry.factory(**_options(spec))
            _expect(data, GanData, "dataset", entry)
            self._data[key] = data
        return self._data[key]

    def models(self, cfg: dict, data: GanData) -> Models:
        entry = self.registry.get("architecture", cfg["architecture"]["name"])
        models = entry.factory(data.spec, cfg["z_dim"], **_options(cfg["architecture"]))
        _expect(models, Models, "architecture", entry)
        _expect(models.discriminator, Discriminator, "architecture's discriminator", entry)
        return models

    def loss(self, cfg: dict) -> Loss:
        entry = self.registry.get("loss", cfg["loss"]["name"])
        loss = entry.factory(**_options(cfg["loss"]))
        _expect(loss, Loss, "loss", entry)
        return loss


def _options(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k != "name"}


def _expect(obj, cls, what, entry):
    if not isinstance(obj, cls):
        raise TypeError(f"{what} {entry.name!r} ({entry.plugin}) returned {type(obj).__name__}, not {cls.__name__}")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # CPU and every CUDA device


def execute_run(run: Run, suite: Suite, builder: Builder, device, out_dir: Path, env: dict, on_step) -> dict:
    """Train and score one run into `out_dir`; return its run.json record."""
    cfg = run.config
    record = {
        "id": run.id,
        "suite": suite.name,
        "status": None,
        "seed": run.seed,
        "cell": run.cell,
        "config": cfg,
        "metrics": {},
        "params_g": None,
        "params_d": None,
        "started": now(),
        "finished": None,
        "env": env,
        "protocol": {},  # how the metrics were measured (samples, real split, feature spaces...)
        "notes": [],  # one-line remarks on the numbers, e.g. why Inception metrics are absent
    }
    try:
        data = builder.data(cfg["dataset"])
        # Before seeding: building the evaluator may train (and cache) a classifier, and
        # whether it had to must not change this run's random numbers.
        evaluator = metrics.make_evaluator(cfg, data, device)
        record["protocol"] = dict(getattr(evaluator, "protocol", {}))
        record["notes"] = list(getattr(evaluator, "notes", []))
        seed_everything(cfg["seed"])
        models = builder.models(cfg, data)
        loss = builder.loss(cfg)
        record["params_g"] = sum(p.numel() for p in models.generator.parameters())
        record["params_d"] = sum(p.numel() for p in models.discriminator.parameters())
        result = train(cfg, data, models, loss, device, out_dir, on_step, evaluator)
        record["metrics"] = {k: _number(v) for k, v in result.metrics.items()}
        record["status"] = COMPLETE if result.status == "complete" else DIVERGED
        if result.status == "diverged":
            record["diverged_at_step"] = result.diverged_at_step
        pd.DataFrame(result.history).to_csv(out_dir / HISTORY_FILE, index=False)
        torch.save(models.generator.state_dict(), out_dir / G_WEIGHTS)
        torch.save(models.discriminator.state_dict(), out_dir / D_WEIGHTS)
    except Exception as e:  # a plugin bug fails this run, not the suite
        (out_dir / TRACEBACK_FILE).write_text(traceback.format_exc())
        record["status"] = FAILED
        record["error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    record["finished"] = now()
    return record


def _number(v):
    v = float(v)
    return v if np.isfinite(v) else None  # JSON has no NaN: a missing value is null


def run_suite(
    suite: Suite,
    registry: Registry,
    results: Path,
    device: torch.device,
    rerun: bool = False,
    console: Console | None = None,
) -> SuiteOutcome:
    console = console or Console(stderr=True)
    store = ResultsStore(results, suite.name)
    outcome = SuiteOutcome()
    pending = [r for r in suite.runs if rerun or store.status(r.id) not in FINISHED]
    outcome.skipped = len(suite.runs) - len(pending)
    if outcome.skipped:
        msg = f"{suite.name}: skipping {outcome.skipped} of {len(suite.runs)} runs already finished (--rerun to redo them)"
        console.print(msg, markup=False, highlight=False)
    if not pending:
        return outcome
    builder = Builder(registry)
    env = environment(device, registry)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        suite_task = progress.add_task(f"suite {suite.name}", total=len(pending))
        for i, run in enumerate(pending, 1):
            run_task = progress.add_task(f"  {run.id}", total=None)

            def on_step(step, total, _task=run_task):
                progress.update(_task, completed=step, total=total)

            tmp = store.begin(run.id)
            record = execute_run(run, suite, builder, device, tmp, env, on_step)
            store.commit(tmp, run.id, record)
            outcome.counts[record["status"]] += 1
            progress.remove_task(run_task)
            progress.advance(suite_task)
            console.print(_run_line(i, len(pending), record, store.path(run.id)), markup=False, highlight=False)
    return outcome


def _run_line(i: int, n: int, record: dict, path: Path) -> str:
    m = record["metrics"]
    status = record["status"]
    if status == FAILED:
        detail = f"{record['error']} (see {path / TRACEBACK_FILE})"
    else:
        ips = m.get("train_img_per_s")
        detail = f"{m.get('wall_s', 0):.1f} s, {ips or 0:.0f} img/s"
        if status == DIVERGED:
            detail += f", diverged at step {record['diverged_at_step']}"
    return f"[{i}/{n}] {record['id']}: {status} ({detail})"
