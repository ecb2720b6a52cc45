"""One run as a job: a picklable description, the events it emits, and the worker function.

The scheduler (``ganbench.runner``) turns each pending run into a ``RunJob`` and hands it to
an executor (``ganbench.executors``); wherever the executor runs it, in this process, a
worker process or a Ray task on another machine, ``train_run`` trains and scores it into
``job.out_dir`` and returns its run.json record. Nothing in a job refers to live objects
of the scheduler: plugins are rebuilt from ``job.plugins`` (``Registry.source``), seeds come
from the run's config alone, and progress goes out as plain events through ``emit``.
"""

from __future__ import annotations

import platform
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import __version__
from .store import COMPLETE, D_WEIGHTS, DIVERGED, FAILED, G_WEIGHTS, TRACEBACK_FILE, now, save_weights


@dataclass(frozen=True)
class RunJob:
    """Everything a worker needs to train one run, and nothing it would have to share."""

    run_id: str
    suite: str
    config: dict  # resolved and validated (run.json's `config`)
    cell: dict  # the matrix values of this run
    seed: int
    out_dir: str  # where to write the run's files: the store's temporary folder for it
    device: str  # "cpu", "cuda:0", ...
    plugins: dict  # Registry.source: how to rebuild the plugin registry
    plugin_versions: dict  # distribution -> version the scheduler saw; a worker must match
    threads: int | None = None  # torch intra-op threads; None: leave the process's setting
    execution: dict = field(default_factory=dict)  # executor, runs_per_device: recorded in env
    donor: dict | None = None  # d_pretrain.from_run: {"path": absolute run folder, "run_id": ...}
    suite_info: dict = field(default_factory=dict)  # description, report: recorded for the report
    loggers: tuple = ()  # logger plugin names besides the always-on ones (ganbench.loggers)
    resume: bool = False  # out_dir holds a checkpoint to go on from (ganbench.checkpoint)


# ---------------------------------------------------------------- events (worker -> scheduler)


@dataclass
class Started:
    run_id: str
    host: str
    device: str


@dataclass
class Progress:
    run_id: str
    step: int
    total: int
    d_loss: float | None = None  # the last logged values, when a log row was just written
    g_loss: float | None = None


@dataclass
class Finished:
    run_id: str
    record: dict  # run.json's content; status complete, diverged or failed


Event = Started | Progress | Finished
Emit = Callable[[Event], None]

PROGRESS_EVERY_S = 0.25  # per-step progress sent across a process boundary at most this often


class ProgressThrottle:
    """For executors whose events cross a process boundary: passes every Started,
    Finished, log-row and last-step Progress, and other Progress at most every
    PROGRESS_EVERY_S (a tiny model makes thousands of steps a second)."""

    def __init__(self):
        self.last = 0.0

    def __call__(self, event) -> bool:
        if not isinstance(event, Progress) or event.d_loss is not None or event.step == event.total:
            return True
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_S:
            return False
        self.last = now
        return True


# ---------------------------------------------------------------- records


def base_record(job: RunJob) -> dict:
    """run.json before the run has a result."""
    record: dict = {
        "id": job.run_id,
        "suite": job.suite,
        "status": None,
        "seed": job.seed,
        "cell": job.cell,
        "config": job.config,
        "metrics": {},
        "params_g": None,
        "params_d": None,
        "started": now(),
        "finished": None,
        "env": {},
        "protocol": {},  # how the metrics were measured (samples, real split, feature spaces...)
        "notes": [],  # one-line remarks on the numbers, e.g. why Inception metrics are absent
    }
    if job.donor:
        record["d_pretrain_donor"] = job.donor
    record.update(job.suite_info)  # the suite's description and report block: the report reads them
    return record


def failed_record(job: RunJob, error: str, record: dict | None = None) -> dict:
    """The record of a run that could not finish: `error` is one line saying why."""
    record = record or base_record(job)
    record.update(status=FAILED, error=error, finished=now())
    return record


def one_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


# ---------------------------------------------------------------- the worker's side


def environment(job: RunJob, registry) -> dict:
    """What this worker's numbers depend on: versions, host, device, threads, execution."""
    import torch
    import torch_fidelity
    import torchvision

    from .build import device_name
    from .claims import hostname

    device = torch.device(job.device)
    env = {
        "ganbench": __version__,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "torch_fidelity": torch_fidelity.__version__,
        "python": platform.python_version(),
        "host": hostname(),
        "device": str(device),
        "device_name": device_name(device),
        "threads": torch.get_num_threads(),
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        **job.execution,  # executor, runs_per_device: cost metrics depend on the sharing
        "plugins": registry.distributions(),
    }
    if device.type == "cuda":
        env["device_uuid"] = str(getattr(torch.cuda.get_device_properties(device), "uuid", ""))
    return env


def train_run(job: RunJob, builder, emit: Emit = lambda event: None) -> dict:
    """Train and score one run into job.out_dir; return its run.json record.

    Anything a plugin raises, SystemExit included, fails this run with its reason (the
    traceback goes to traceback.txt) and the caller goes on; only KeyboardInterrupt
    propagates. A diverged run is an outcome, not a failure.
    """
    import numpy as np
    import torch

    from . import checkpoint, metrics
    from .build import seed_everything
    from .callbacks import make_callbacks
    from .claims import hostname
    from .loggers import close_loggers, make_loggers
    from .speed import ieee_fp32, set_tf32
    from .train import train

    cfg, out_dir, device = job.config, Path(job.out_dir), torch.device(job.device)
    record = base_record(job)
    loggers = []
    try:
        set_tf32(cfg.get("tf32", "off"))  # process-wide: set before env records the flags
        record["env"] = environment(job, builder.registry)
        emit(Started(job.run_id, hostname(), str(device)))
        if record["env"]["plugins"] != job.plugin_versions:
            raise RuntimeError(f"this worker's plugins {record['env']['plugins']} differ from the scheduler's {job.plugin_versions}")
        data = builder.data(cfg["dataset"])
        # Before seeding: building the evaluator may train (and cache) a classifier, and
        # whether it had to must not change this run's random numbers.
        with ieee_fp32():  # a classifier trained here is cached for every run: never in TF32
            evaluator = metrics.make_evaluator(cfg, data, device, builder.registry) if cfg["eval"]["every"] != "none" else None
        record["protocol"] = dict(getattr(evaluator, "protocol", {}))
        record["notes"] = list(getattr(evaluator, "notes", []))
        seed_everything(cfg["seed"])  # from the run's seed alone: any worker, any slot
        models = builder.models(cfg, data)
        loss = builder.loss(cfg)
        record["params_g"] = sum(p.numel() for p in models.generator.parameters())
        record["params_d"] = sum(p.numel() for p in models.discriminator.parameters())

        def on_step(step, total, row):
            emit(Progress(job.run_id, step, total, row and row.get("d_loss"), row and row.get("g_loss")))

        donor = Path(job.donor["path"]) if job.donor else None
        loggers = make_loggers(job.loggers, builder.registry, out_dir, record)
        if job.resume:
            record["resumed_from_step"] = checkpoint.saved_step(out_dir)
        callbacks = make_callbacks(cfg.get("callbacks", []), builder.registry)
        result = train(
            cfg,
            data,
            models,
            loss,
            device,
            out_dir,
            on_step,
            evaluator,
            donor=donor,
            loggers=loggers,
            resume=job.resume,
            callbacks=callbacks,
        )
        record["metrics"] = {k: _number(v, np) for k, v in result.metrics.items()}
        record["env"]["speed"] = result.speed  # what channels_last, fused_optimizers and tf32 resolved to
        record["status"] = COMPLETE if result.status == "complete" else DIVERGED
        if result.status == "diverged":
            record["diverged_at_step"] = result.diverged_at_step
        if result.best:
            record["best"] = result.best
        plugin_record(record, callbacks, evaluator, out_dir)  # callbacks.<name>, the scored generator, failed metrics
        checkpoint.discard(out_dir)  # finished: G.pt and D.pt are what is kept
        save_weights(models.generator.state_dict(), out_dir / G_WEIGHTS)
        save_weights(models.discriminator.state_dict(), out_dir / D_WEIGHTS)
    except BaseException as e:  # a plugin bug, even sys.exit(), fails this run, not the suite
        if isinstance(e, KeyboardInterrupt):
            raise
        try:
            (out_dir / TRACEBACK_FILE).write_text(traceback.format_exc())
        except OSError:  # a full disk: the reason still reaches run.json, or the scheduler
            pass
        failed_record(job, one_line(e), record)
    finally:
        record["finished"] = now()
        close_loggers(loggers, record)  # each hears the outcome; one that raises cannot change it
    record["finished"] = now()
    return record


def plugin_record(record: dict, callbacks, evaluator, out_dir: Path) -> None:
    """What plugins add to run.json once the run has trained: each callback's record under
    ``callbacks.<name>`` (``ganbench.callbacks.record_callbacks``) and the metrics that
    failed, ``metric_failures: {name: reason}`` (the run keeps its training: ``ganbench
    eval`` scores them again), with the evaluator's notes made while scoring."""
    from .callbacks import record_callbacks

    record_callbacks(record, callbacks, out_dir)
    failed = dict(getattr(evaluator, "failed", None) or {})
    if failed:
        record["metric_failures"] = failed
    notes = record.setdefault("notes", [])
    notes.extend(n for n in list(getattr(evaluator, "notes", None) or []) if n not in notes)


def _number(v, np):
    v = float(v)
    return v if np.isfinite(v) else None  # JSON has no NaN: a missing value is null
