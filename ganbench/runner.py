"""Running a suite: plan the pending runs, check them, claim each, and drive an executor.

The scheduler lives in the `ganbench run` process. It never trains: it checks up front
everything that can be checked without training (bad input is exit 2 with nothing
written), builds shared caches once (the mode classifier), claims each run just before it
starts (``ganbench.claims``: two schedulers on one folder split the runs), hands it as a
``RunJob`` to an executor (``ganbench.executors``), shows the events the runs emit, and
commits each finished run into the store. A run that fails (a plugin raised, its worker
died) is recorded as failed and the suite goes on.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.console import Console

from .build import Builder, resolve_devices
from .checkpoint import saved_step
from .claims import ClaimBook
from .estimate import warn_costs
from .executors import ExecutorError, ExecutorOptions, exit_guard, resolve_executor_options
from .job import Finished, PackJob, RunJob, failed_record, one_line
from .packs import group
from .plugins import PluginError, Registry
from .preflight import SuiteInvalid, check_loggers, check_plugin_options, check_runs, warm_caches
from .progress import SuiteDisplay
from .store import FAILED, FINISHED, RUN_FILE, TRACEBACK_FILE, ResultsStore
from .suite import ALL, Run, Suite, rerun_filter


class Terminated(KeyboardInterrupt):
    """SIGTERM: handled like Ctrl-C, reported with exit status 143."""


@dataclass
class SuiteOutcome:
    counts: Counter = field(default_factory=Counter)  # status -> runs
    skipped: int = 0  # finished before this invocation
    elsewhere: int = 0  # being trained by another ganbench (a live claim)
    kept: int = 0  # a --rerun attempt failed and the previous finished run was kept
    stopped: str | None = None  # why the suite stopped early (nothing can be written)

    @property
    def exit_code(self) -> int:
        return 1 if self.counts[FAILED] or self.stopped else 0


def run_suite(
    suite: Suite,
    registry: Registry,
    results: Path,
    devices: str | torch.device | list = "cpu",
    rerun: bool | str = False,
    console: Console | None = None,
    executor: str = "local",
    jobs: int = 1,
    threads: int | None = None,
    address: str | None = None,
    loggers: list[str] = (),
    timeout: float | None = None,
    executor_options: dict | None = None,
) -> SuiteOutcome:
    """Train every run of `suite` not finished yet; see the module docstring.

    Raises SuiteInvalid (bad input found before anything ran), ExecutorError (the executor
    cannot start) and KeyboardInterrupt (Ctrl-C; Terminated for SIGTERM), leaving no
    half-written run behind.
    """
    console = console or Console(stderr=True)
    store = ResultsStore(results, suite.name)
    outcome = SuiteOutcome()
    try:
        redo = rerun_filter(rerun, suite.runs)  # --rerun: all, or the runs a pattern names
    except ValueError as e:
        raise SuiteInvalid(str(e)) from None
    pending = [r for r in suite.runs if redo(r) or store.status(r.id) not in FINISHED]
    outcome.skipped = len(suite.runs) - len(pending)
    if outcome.skipped:
        console.print(
            f"{suite.name}: skipping {outcome.skipped} of {len(suite.runs)} runs already finished (--rerun [RUN_ID] to redo them)",
            markup=False,
            highlight=False,
        )
    for run in pending:
        why = store.damage(run.id)
        if why:
            console.print(f"{run.id}: damaged ({why}); training it again", markup=False, highlight=False, soft_wrap=True)
    if not pending:
        return outcome
    device_list = _devices(devices)
    options = ExecutorOptions(
        devices=[str(d) for d in device_list], jobs=jobs, threads=threads, address=address, registry=registry, timeout=timeout
    )
    options.extra = dict(executor_options or {})  # checked against what the executor declares (make_executor)
    loggers = tuple(dict.fromkeys([*suite.loggers, *loggers]))
    with exit_guard():
        check_loggers(registry, loggers)
    ex = make_executor(registry, executor, options)
    options.builder = Builder(registry)
    try:
        with exit_guard():  # the checks run plugin code (loaders, builders) in this process
            check_runs(pending, options.builder, device_list)
            check_plugin_options(pending, options.builder)
            warn_costs(pending, options.builder, device_list, results, ex.capacity, console, suite.profiles, suite.profile)
            warm_caches(pending, options.builder, device_list[0], console)
        try:  # a file where a folder should be, a loop of links, a read-only disk: bad input
            store.create().check_writable()  # a read-only suite folder fails here, not run by run
            claims = ClaimBook(store.dir)
            with claims.lock:
                store.recover(claims.live_tokens(), keep_checkpoints=rerun not in (True, ALL))
        except OSError as e:
            raise SuiteInvalid(f"--results {results}: cannot write {store.dir}: {e.strerror or e}") from None
    except BaseException:
        ex.close()  # e.g. the Ray executor shuts down a Ray it started
        raise
    display = SuiteDisplay(console, suite.name, len(pending), ex.capacity)
    active: dict[str, tuple] = {}  # run id -> (claim, temporary folder, Run)

    def wanted(run: Run):
        return lambda: redo(run) or store.status(run.id) not in FINISHED

    def next_jobs():
        for pack in group(pending, device_list[0].type, getattr(ex, "packs", False)):
            jobs = []
            for run in pack:
                job = claim(run)
                if job is not None:
                    jobs.append(job)
                if outcome.stopped:
                    break
            if len(jobs) > 1:
                yield PackJob(tuple(jobs))
            elif jobs:
                yield jobs[0]
            if outcome.stopped:
                return

    def claim(run: Run) -> RunJob | None:
        """Claim `run` and make its job, or None when another ganbench has it or the disk is full."""
        try:
            claim, note = claims.acquire(run.id, wanted(run))
        except OSError as e:  # a full disk: nothing more can be started
            outcome.stopped = f"cannot write into {store.dir}: {e.strerror or e}"
            return None
        if claim is None:
            if note:  # another live ganbench holds it
                outcome.elsewhere += 1
                display.message(f"{run.id}: being trained by {note}; left to it")
            else:  # finished by another ganbench since we looked
                outcome.skipped += 1
            display.skip()
            return None
        if note:
            display.message(note)
        try:
            tmp = store.begin(run.id, claim.token)
        except OSError as e:
            claims.release(claim)
            outcome.stopped = f"cannot write into {store.dir}: {e.strerror or e}"
            return None
        resume = False
        source = None if redo(run) else store.resumable(run.id, claims.live_tokens())
        source = usable_checkpoint(source, run, store, options.builder, display, tmp)
        if source is not None:
            try:
                store.adopt(source, tmp)
                resume = True
                display.message(f"{run.id}: resuming from its checkpoint at step {saved_step(tmp)}")
            except OSError as e:
                display.message(f"{run.id}: cannot resume from {source} ({e.strerror or e}); starting it anew")
                tmp = store.begin(run.id, claim.token)
        active[run.id] = (claim, tmp, run)
        return make_job(run, suite, tmp, registry, ex, loggers, resume)

    def report(event):
        display.event(event)
        if not isinstance(event, Finished) or event.run_id not in active:
            return
        claim, tmp, run = active.pop(event.run_id)
        record = event.record
        try:
            path, replaced = store.commit(tmp, run.id, record, claim.token)
        except OSError as e:  # a full disk: this run fails, and nothing more is started
            store.discard(tmp)
            record = failed_record(_job_stub(run, suite, tmp), f"cannot write the run: {e.strerror or e}", record)
            path, replaced = store.path(run.id), False
            outcome.stopped = f"cannot write into {store.dir}: {e.strerror or e}"
        finally:
            claims.release(claim)
        if not replaced and record["status"] == FAILED and store.status(run.id) in FINISHED:
            outcome.kept += 1
            display.message(f"{run.id}: the new attempt failed ({record.get('error')}); the previous finished run is kept")
        outcome.counts[record["status"]] += 1
        display.finished(record, path)

    previous = _on_sigterm()
    claims.start_heartbeat()
    handed = Handed(next_jobs())
    skipped_before = outcome.skipped
    try:
        try:
            with exit_guard() if ex.in_process else contextlib.nullcontext():
                ex.run(handed, report)
            lost_why = "it returned without reporting the run finished"
        except Exception as e:  # a plugin executor's bug: the runs it holds are lost, the suite stops
            lost_why = f"it raised {one_line(e)}"
            outcome.stopped = f"executor {executor} failed: {one_line(e)}"
            _traceback_into([tmp for _, tmp, _ in active.values()])
        account_lost(executor, lost_why, active, suite, report)
        if not handed.exhausted and not outcome.stopped:
            never = len(pending) - len(handed.ids) - (outcome.skipped - skipped_before) - outcome.elsewhere
            if never > 0:
                outcome.stopped = f"executor {executor} returned before starting {never} of the runs; run the same command again"
    finally:
        for claim, tmp, _ in active.values():  # interrupted: no half-written run stays,
            if saved_step(tmp) is None:  # but one with a checkpoint is resumed next time
                store.discard(tmp)
            claims.release(claim)
        claims.stop_heartbeat()
        display.close()
        _restore_sigterm(previous)
    if outcome.stopped:
        console.print(f"{suite.name}: stopped early: {outcome.stopped}", markup=False, highlight=False)
    return outcome


class Handed:
    """The scheduler's jobs as an executor pulls them: which runs it was handed, and
    whether it pulled them all (the contract: it returns once `jobs` is exhausted)."""

    def __init__(self, jobs):
        self.jobs, self.ids, self.exhausted = iter(jobs), [], False

    def __iter__(self):
        return self

    def __next__(self):
        try:
            job = next(self.jobs)
        except StopIteration:
            self.exhausted = True
            raise
        self.ids.extend(getattr(job, "run_ids", None) or [job.run_id])  # a pack of runs, or one
        return job


def account_lost(executor: str, why: str, active: dict, suite: Suite, report) -> None:
    """Every run handed to the executor ends with a Finished: one it never reported is
    failed here, "lost by executor NAME", so it is counted, shown and retried next time."""
    for run_id, (_, tmp, run) in list(active.items()):
        report(Finished(run_id, failed_record(_job_stub(run, suite, tmp), f"lost by executor {executor}: {why}")))


def _traceback_into(folders: list[Path]) -> None:
    """The executor's traceback, for its author, in each run folder it lost."""
    import traceback

    text = traceback.format_exc()
    for folder in folders:
        try:
            (folder / TRACEBACK_FILE).write_text(text)
        except OSError:
            pass


def usable_checkpoint(source: Path | None, run: Run, store: ResultsStore, builder: Builder, display, tmp: Path) -> Path | None:
    """`source` when its checkpoint can be resumed from; else None, the checkpoint moved
    aside into ``<suite>/.damaged/`` (kept for inspection) and the run trained from the start.
    Either way the run keeps one checkpoint: other killed attempts' folders of it (older
    checkpoints; this scheduler holds the run's claim, so nobody writes them) are removed.

    Checked here, before a worker is handed it: a truncated file, a planted pickle or a
    checkpoint of another model once failed its run on every plain `ganbench run`, with
    only `--rerun` (every finished run of the suite) as the way out. A failed attempt
    whose error was its checkpoint's (a fault this check did not see) counts as damaged too.
    """
    from .checkpoint import checkpoint_problem

    store.drop_attempts(run.id, keep=(source, tmp))
    if source is None:
        return None
    why = None
    if source == store.path(run.id):  # a failed run's folder: did its checkpoint fail it?
        error = str(_record_of(source).get("error") or "")
        if error.startswith("CheckpointError"):
            why = error.partition(": ")[2]
    why = why or checkpoint_problem(source, run.config, builder)
    if why is None:
        return source
    try:
        where = store.set_aside(source, run.id, why)
    except OSError as e:
        display.message(
            f"{run.id}: its checkpoint cannot be resumed from ({why}) nor moved aside ({e.strerror or e}); training it from the start"
        )
        return None
    display.message(f"{run.id}: its checkpoint cannot be resumed from ({why}); moved to {where} for inspection; training it from the start")
    return None


def _record_of(folder: Path) -> dict:
    import json

    try:
        out = json.loads((folder / RUN_FILE).read_text())
        return out if isinstance(out, dict) else {}
    except (OSError, ValueError):
        return {}


def _devices(devices) -> list[torch.device]:
    if isinstance(devices, torch.device):
        return [devices]
    if isinstance(devices, str):
        return resolve_devices(devices)
    return [torch.device(d) for d in devices]


def make_executor(registry: Registry, name: str, options: ExecutorOptions):
    """The executor plugin `name`, built with `options`; ExecutorError (exit 2, one line)
    when it cannot start, or when its constructor refuses the options (a ValueError)."""
    try:
        entry = registry.get("executor", name)
    except PluginError as e:
        raise ExecutorError(f"--executor: {e}") from None
    if options.jobs < 1:
        raise ExecutorError(f"--jobs must be >= 1, got {options.jobs}")
    options.extra = resolve_executor_options(name, entry.factory, dict(options.extra))
    try:
        with exit_guard():
            return entry.factory(options)
    except (ValueError, TypeError) as e:
        raise ExecutorError(f"--executor {name}: {one_line(e)}") from None


def make_job(run: Run, suite: Suite, tmp: Path, registry: Registry, ex, loggers=(), resume=False) -> RunJob:
    cfg = run.config
    donor = None
    if isinstance(cfg["d_pretrain"], dict) and "from_run" in cfg["d_pretrain"]:
        folder = Path(cfg["d_pretrain"]["from_run"]).resolve()
        donor = {"path": str(folder), "run_id": _run_id_of(folder)}
    return RunJob(
        run_id=run.id,
        suite=suite.name,
        config=cfg,
        cell=run.cell,
        seed=run.seed,
        out_dir=str(tmp.resolve()),
        device="",
        plugins=registry.source,
        plugin_versions=registry.distributions(),
        execution=ex.execution(),
        donor=donor,
        loggers=tuple(loggers),
        resume=resume,
        # the profile applied (a name, or "none": the suite as written), when the suite declares any
        suite_info={
            k: v
            for k, v in (("description", suite.description), ("report", suite.report), ("profile", suite.profile), ("search", run.search))
            if v
        },
    )


def _job_stub(run: Run, suite: Suite, tmp: Path) -> RunJob:
    return RunJob(run.id, suite.name, run.config, run.cell, run.seed, str(tmp), "", {}, {})


def _run_id_of(folder: Path) -> str | None:
    import json

    try:
        return json.loads((folder / RUN_FILE).read_text()).get("id")
    except (OSError, ValueError, AttributeError):
        return None


# ---------------------------------------------------------------- signals


def _raise_terminated(signum, frame):
    raise Terminated()


def _on_sigterm():
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


def _restore_sigterm(previous) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)
