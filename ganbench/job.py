"""One run as a job: a picklable description, the events it emits, and the worker function.

The scheduler (``ganbench.runner``) turns each pending run into a ``RunJob`` and hands it to
an executor (``ganbench.executors``); wherever the executor runs it, in this process, a
worker process or a Ray task on another machine, ``train_run`` trains and scores it into
``job.out_dir`` and returns its run.json record. Nothing in a job refers to live objects
of the scheduler: plugins are rebuilt from ``job.plugins`` (``Registry.source``), seeds come
from the run's config alone, and progress goes out as plain events through ``emit``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import platform
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .store import COMPLETE, D_WEIGHTS, DIVERGED, FAILED, G_WEIGHTS, TRACEBACK_FILE, now, save_weights
from .suggest import error_line as one_line
from .version import __version__, package_version


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

    @property
    def run_ids(self) -> list[str]:
        return [self.run_id]

    def members(self) -> list[RunJob]:
        return [self]


@dataclass(frozen=True)
class PackJob:
    """Runs of one cell that differ only in their seed, handed to an executor as one job:
    trained together in one worker, packed into one model when they can be
    (``ganbench.engine.packed``). An executor places and times it like a RunJob, trains it
    with ``run_job``, and reports one ``Finished`` per run (``run_ids``)."""

    runs: tuple[RunJob, ...]
    device: str = ""  # set by the executor, as for a RunJob
    threads: int | None = None
    execution: dict = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        """The job's name (task names, messages): its first run's id and how many more."""
        return f"{self.runs[0].run_id}+{len(self.runs) - 1}"

    @property
    def run_ids(self) -> list[str]:
        return [r.run_id for r in self.runs]

    def members(self) -> list[RunJob]:
        """Its runs, each with the device, threads and execution the executor gave the pack."""
        return [dataclasses.replace(r, device=self.device, threads=self.threads, execution=self.execution) for r in self.runs]


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


@dataclass
class Notice:
    run_id: str  # "" for an executor's line about no one run ("3 runs waiting in the SLURM queue")
    text: str  # one line for the user, e.g. why a pack trains unpacked


Event = Started | Progress | Finished | Notice
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


def failed_records(job: RunJob | PackJob, error: str) -> list[dict]:
    """One failed record per run of a job (its worker died, it timed out, it was lost)."""
    return [failed_record(m, error) for m in job.members()]


# ---------------------------------------------------------------- the worker's side


def environment(job: RunJob, registry) -> dict:
    """What this worker's numbers depend on: versions, host, device, threads, execution."""
    import torch

    from .build import device_name
    from .claims import hostname

    device = torch.device(job.device)
    env = {
        "ganbench": __version__,
        "torch": torch.__version__,
        "torchvision": package_version("torchvision"),
        "torch_fidelity": package_version("torch_fidelity"),
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
    (record,) = train_runs([job], builder, emit, pack=False)
    return record


def run_job(job: RunJob | PackJob, builder, emit: Emit = lambda event: None) -> list[dict]:
    """The worker function of either kind of job: its runs' records, in order."""
    if isinstance(job, PackJob):
        return train_runs(job.members(), builder, emit, pack=True)
    return [train_run(job, builder, emit)]


def train_runs(jobs: list[RunJob], builder, emit: Emit, pack: bool) -> list[dict]:
    """Train runs of one cell that differ only in their seed: packed into one model when
    `pack` and they can be (``ganbench.engine.packed``), else one after another. A run whose
    set-up fails fails alone; a packed step that raises fails every run of the pack."""
    from .engine import packed, train_packed, train_spec

    members = [_Member(job) for job in jobs]
    try:
        for m in members:
            m.prepare(builder, emit)
        ready = [m for m in members if m.spec is not None]
        why = _why_unpacked(ready, packed) if pack and len(ready) > 1 else None
        if why is not None:
            for m in ready:
                m.record["notes"].append(f"not packed: {why}")
            emit(Notice(ready[0].job.run_id, f"{len(ready)} seeds of one cell train one after another: {why}"))
        if pack and why is None and len(ready) > 1:
            with _failing(ready):
                results = train_packed([m.spec for m in ready], ready[0].data, ready[0].device)
                ids = [m.job.run_id for m in ready]
                for m, result in zip(ready, results):
                    m.finish(result, packed_with=[i for i in ids if i != m.job.run_id])
        else:
            for m in ready:
                with _failing([m]):
                    m.finish(train_spec(m.spec, m.data, m.device))
    finally:
        for m in members:
            m.close()
    return [m.record for m in members]


def _why_unpacked(ready: list, packed) -> str | None:
    """Why these prepared runs cannot train as one pack (one line), or None."""
    if len({m.record.get("resumed_from_step") for m in ready}) > 1:
        return "their checkpoints are at different steps"
    first = ready[0].spec
    return packed.unpackable(first.cfg, [m.spec.models for m in ready], [m.spec.loss for m in ready], first.callbacks, ready[0].device)


class _Member:
    """One run of a job in this worker: its record, and what it trains with."""

    def __init__(self, job: RunJob):
        self.job, self.record = job, base_record(job)
        self.spec: Any = None  # engine.RunSpec once prepared; None when its set-up failed
        self.data: Any = None  # contracts.GanData
        self.device: Any = None  # torch.device
        self.loggers: list = []

    def prepare(self, builder, emit: Emit) -> None:
        """Everything a run needs before its first step, built exactly as for a run alone:
        environment, data, evaluator, models from its seed, loss, loggers, callbacks."""
        import torch

        from . import checkpoint, metrics
        from .augment import make_augment
        from .build import seed_everything
        from .callbacks import make_callbacks
        from .claims import hostname
        from .engine import RunSpec, rng
        from .loggers import make_loggers
        from .speed import ieee_fp32, set_tf32

        job, record = self.job, self.record
        cfg, out_dir, device = job.config, Path(job.out_dir), torch.device(job.device)
        with _failing([self]):
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
            record["flops"] = metrics.count_run_flops(cfg, models, loss, tuple(data.train.shape[1:]), device)  # per step, counted once

            def on_step(step, total, row):
                emit(Progress(job.run_id, step, total, row and row.get("d_loss"), row and row.get("g_loss")))

            donor = Path(job.donor["path"]) if job.donor else None
            self.loggers = make_loggers(job.loggers, builder.registry, out_dir, record)
            if job.resume:
                record["resumed_from_step"] = checkpoint.saved_step(out_dir)
            callbacks = make_callbacks(cfg.get("callbacks", []), builder.registry)
            augment = make_augment(cfg.get("augment", "none"), builder.registry)
            self.spec = RunSpec(
                cfg,
                models,
                loss,
                out_dir,
                on_step,
                evaluator,
                donor,
                self.loggers,
                job.resume,
                callbacks,
                rng=rng.global_state(device),  # where its stream starts, however many runs this worker trains first
                augment=augment,
            )
            self.data, self.device = data, device

    def finish(self, result, packed_with: list[str] | None = None) -> None:
        """The record of a trained run, and its final weights (the checkpoint is dropped)."""
        import numpy as np

        from . import budget, checkpoint

        record, models, out_dir = self.record, self.spec.models, Path(self.job.out_dir)
        record["metrics"] = {k: _number(v, np) for k, v in result.metrics.items()}
        record["env"]["speed"] = result.speed  # what channels_last, fused_optimizers, tf32, pack and cuda_graphs resolved to
        record["notes"].extend(n for n in result.notes if n not in record["notes"])
        if packed_with:
            record["env"]["packed_with"] = packed_with
        record["status"] = COMPLETE if result.status == "complete" else DIVERGED
        if result.status == "diverged":
            record["diverged_at_step"] = result.diverged_at_step
        if result.best:
            record["best"] = result.best
        plugin_record(
            record, self.spec.callbacks, self.spec.evaluate, out_dir
        )  # callbacks.<name>, the scored generator, failed metrics, scoring notes
        if self.job.config.get("budget"):
            record["budget"] = budget.spent(self.job.config, record)  # the suite's budget, spent
        checkpoint.discard(out_dir)  # finished: G.pt and D.pt are what is kept
        save_weights(models.generator.state_dict(), out_dir / G_WEIGHTS)
        save_weights(models.discriminator.state_dict(), out_dir / D_WEIGHTS)
        record["finished"] = now()

    def fail(self, e: BaseException) -> None:
        try:
            (Path(self.job.out_dir) / TRACEBACK_FILE).write_text(traceback.format_exc())
        except OSError:  # a full disk: the reason still reaches run.json, or the scheduler
            pass
        failed_record(self.job, one_line(e), self.record)
        self.spec = None

    def close(self) -> None:
        if self.record["finished"] is None:
            self.record["finished"] = now()
        from .loggers import close_loggers

        close_loggers(self.loggers, self.record)  # each hears the outcome; one that raises cannot change it
        self.loggers = []


@contextlib.contextmanager
def _failing(members: list[_Member]):
    """A plugin bug, even sys.exit(), fails these runs, not the suite; Ctrl-C propagates."""
    try:
        yield
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            raise
        for m in members:
            m.fail(e)


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
