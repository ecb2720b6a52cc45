"""Executors: where and how many runs of a suite train at once.

An executor is a plugin kind like architectures and losses: a factory registered with the
``register_executors`` hook, ``factory(options: ExecutorOptions) -> Executor``. The built-ins
(``ganbench.builtin.executors``) are registered through ganbench's own entry points:

- ``local``: one run at a time in the scheduler's own process (plugins registered in-process
  by tests and the plugin test kit work only here); a plugin's ``os._exit`` there fails its
  run (``exit_guard``) rather than ending ganbench;
- ``process``: a pool of worker processes, ``jobs`` per device (``ganbench.executors.process``);
- ``ray``: Ray tasks with a fractional GPU each, on a local Ray or a cluster
  (``ganbench.executors.ray``; ``pip install 'ganbench[ray]'``).

The contract is one method. ``run(jobs, report)`` pulls ``RunJob``s from the ``jobs``
iterator only when it has a free slot (pulling is what claims a run, so a run is never
claimed before it can start), sets each job's ``device`` (``dataclasses.replace``), trains
it with ``ganbench.job.train_run`` wherever it likes, and calls ``report(event)`` *from the
calling thread* with the events the job emits (``Started``, ``Progress``, ``Notice``) and
exactly one ``Finished`` per run (a job whose worker died gets a ``failed_record`` saying why).

An executor that sets ``packs = True`` may also be handed a ``PackJob``: several seeds of
one cell to train together in one worker (``pack`` in the run config; ``ganbench.engine.packed``).
It places, times and fails it like one job, trains it with ``ganbench.job.run_job`` (which
takes either kind and returns one record per run) and reports a ``Finished`` for each of its
``run_ids`` (``ganbench.job.failed_records`` when its worker died). Executors without
``packs`` get only RunJobs: the scheduler then trains every run of a cell unpacked. It returns
when ``jobs`` is exhausted and every job it pulled has finished. The scheduler holds it to
that: a run it pulled and never reported is failed "lost by executor NAME", as is every
run it holds when it raises, and returning before ``jobs`` is exhausted stops the suite
with a message (exit status 1). On KeyboardInterrupt (Ctrl-C,
SIGTERM) it stops its workers and re-raises; the scheduler cleans up what they left.

The files of a run go to ``job.out_dir`` on the scheduler's filesystem; an executor whose
workers cannot see it ships them back (see the Ray executor), and the scheduler commits.
"""

from __future__ import annotations

import contextlib
import os
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable, Iterable

from ..job import Event, RunJob


@dataclass
class ExecutorOptions:
    """What `ganbench run` was asked for; an executor uses what applies to it."""

    devices: list[str] = field(default_factory=lambda: ["cpu"])  # placed round-robin
    jobs: int = 1  # runs at once per device
    threads: int | None = None  # torch threads per run; None: OMP_NUM_THREADS or cores // runs at once
    address: str | None = None  # a cluster to join (Ray: auto, HOST:PORT); None: start a local one
    registry: object = None  # the scheduler's live Registry (in-process executors use it as is)
    builder: object = None  # the scheduler's Builder, its datasets already loaded (in-process only)
    timeout: float | None = None  # seconds one run may take before it is stopped and failed
    # The executor's own options (a SLURM partition): `--executor-option KEY=VALUE`, or
    # `--<executor>-<key> VALUE` (cli.run.executor_extras; values are YAML), and
    # api.run_suite(executor_options={...}). An executor declares the ones it takes, with
    # their defaults, as `executor_options` on its factory (a class attribute of an
    # Executor subclass); the scheduler refuses unknown keys and values of another type
    # (exit 2) and gives the executor the declared defaults overlaid with what was asked.
    # Its constructor may refuse a value with ValueError (exit 2, one line).
    extra: dict = field(default_factory=dict)

    def slots(self) -> list[str]:
        """One device per concurrent run, alternating devices: cuda:0, cuda:1, cuda:0, ..."""
        return [d for _ in range(self.jobs) for d in self.devices]

    def threads_per_run(self) -> int:
        """Intra-op threads for one of `len(slots())` concurrent CPU runs.

        Oversubscribed cores make small models many times slower (two threads on two busy
        cores ran 12x slower than one), and results depend on the thread count: it is
        recorded in each run's env.
        """
        if self.threads:
            return self.threads
        env = os.environ.get("OMP_NUM_THREADS", "")
        if env.isdigit() and int(env) > 0:
            return int(env)
        return max(1, available_cores() // len(self.slots()))


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class ExecutorError(Exception):
    """An executor cannot start (its library is missing, its cluster unreachable): exit 2."""


class Executor(ABC):
    """Runs RunJobs; see the module docstring for the contract."""

    name = "executor"
    in_process = False  # True: jobs see the scheduler's live registry and process state
    packs = False  # True: it takes PackJobs too (several seeds of a cell as one job, ganbench.job.run_job)
    executor_options: dict = {}  # the options it takes ({name: default}), found in options.extra

    def __init__(self, options: ExecutorOptions):
        self.options = options

    @property
    def capacity(self) -> int:
        """How many runs it trains at once (for the progress display)."""
        return len(self.options.slots())

    def execution(self) -> dict:
        """Recorded in each run's env: cost metrics depend on how runs shared a device."""
        out = {"executor": self.name, "runs_per_device": self.options.jobs}
        if self.options.timeout:
            out["timeout_s"] = self.options.timeout
        if self.options.extra:
            out["executor_options"] = dict(self.options.extra)
        return out

    @abstractmethod
    def run(self, jobs: Iterable[RunJob], report: Callable[[Event], None]) -> None: ...

    def close(self) -> None:
        """Release what the constructor acquired (a cluster connection) when `run` is never
        called, e.g. because the suite was refused after the executor was made."""


def resolve_executor_options(name: str, factory, given: dict) -> dict:
    """The declared options of executor `name` (``factory.executor_options``: {key: default})
    overlaid with `given`; ExecutorError naming the key for one it does not declare or a
    value of another type than its default's (None: any)."""
    from ..suggest import did_you_mean

    declared = getattr(factory, "executor_options", None) or {}
    if not isinstance(declared, dict):
        raise ExecutorError(f"executor {name}: executor_options must be a dict of option -> default, got {type(declared).__name__}")
    for key, value in given.items():
        if key not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise ExecutorError(
                f"--executor-option {key}: not an option of executor {name}{did_you_mean(key, declared)}; its options: {known}"
            )
        default = declared[key]
        if default is None or value is None:
            continue
        numbers = isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool)
        if not numbers and (type(value) is not type(default)):
            raise ExecutorError(
                f"--executor-option {key}: must be a {type(default).__name__} (like its default {default!r}), got {value!r}"[:300]
            )
    return {**declared, **given}


class PluginExit(SystemExit):
    """os._exit() called by a plugin in the scheduler's process (see exit_guard)."""


@contextlib.contextmanager
def exit_guard():
    """Make a plugin's os._exit() in this process fail its run instead of ending ganbench.

    os._exit ends a process at once, without unwinding: with an in-process executor (the
    default `local`), a plugin calling it mid-run ended `ganbench run` with the plugin's
    status (0: "success"), no message, the next runs never tried. Within this block, a call
    from this thread of this process raises PluginExit instead, which fails the run like
    any exception a plugin raises (``ganbench.job.train_run``). Another thread, or a child
    process a plugin forked, still exits as asked. What Python cannot intercept (a segfault,
    kill -9, a C library's exit()) still ends the process, with a non-zero status for the
    signals; the process executor (``--jobs N``, ``--executor process``) contains those too.
    """
    real, pid, thread = os._exit, os.getpid(), threading.get_ident()

    def guarded(code: int) -> None:
        if os.getpid() == pid and threading.get_ident() == thread:
            raise PluginExit(f"a plugin called os._exit({code}), which would have ended ganbench")
        real(code)

    os._exit = guarded  # type: ignore[assignment]
    try:
        yield
    finally:
        os._exit = real
