"""The process executor: `jobs` worker processes per device, each training one run at a time.

Workers are started with the spawn method (each has its own CUDA context, and nothing of
the scheduler's state leaks in), live as long as the suite, and keep their datasets loaded
between runs. Each talks to the scheduler over its own pipe, so a worker killed mid-write
(kill -9, a segfault, a plugin calling os._exit) breaks only its own channel: its run is
recorded failed with the reason, a fresh worker takes its slot, and the suite goes on.
A worker whose scheduler dies stops at its next step instead of training on unseen.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import signal
import time
from multiprocessing.connection import wait

from ..job import Finished, ProgressThrottle, failed_records
from . import Executor


class ProcessExecutor(Executor):
    name = "process"
    packs = True

    def run(self, jobs, report) -> None:
        ctx = mp.get_context("spawn")
        threads = self.options.threads_per_run()
        slots = [_Slot(ctx, device, threads, self.options.registry.source) for device in self.options.slots()]
        jobs = iter(jobs)
        more = True
        try:
            while True:
                for slot in slots:  # fill free slots in order: devices alternate
                    if more and slot.job is None:
                        job = next(jobs, None)
                        if job is None:
                            more = False
                        else:
                            slot.start(dataclasses.replace(job, device=slot.device, threads=threads, execution=self.execution()))
                busy = [s for s in slots if s.job is not None]
                if not busy:
                    return
                wait([w for s in busy for w in (s.conn, s.proc.sentinel)], timeout=1.0)
                for slot in busy:
                    slot.drain(report)
                    if slot.job is not None and self.options.timeout and time.monotonic() - slot.since > self.options.timeout:
                        slot.abandon(report, f"timed out after {self.options.timeout:g} s (--timeout): its worker was stopped")
        finally:
            for slot in slots:
                slot.stop()


class _Slot:
    """One worker process and the job it is training."""

    def __init__(self, ctx, device: str, threads: int, plugins: dict):
        self.ctx, self.device, self.threads, self.plugins = ctx, device, threads, plugins
        self.proc = self.conn = self.job = None
        self.pending: set[str] = set()

    def start(self, job) -> None:
        if self.proc is None or not self.proc.is_alive():
            self.conn, child = self.ctx.Pipe()
            self.proc = self.ctx.Process(
                target=_worker,
                args=(child, self.device, self.threads, self.plugins, os.getpid()),
                name=f"ganbench-worker-{self.device}",
            )
            self.proc.start()
            child.close()  # ours is closed: EOF on self.conn means the worker is gone
        self.job, self.since = job, time.monotonic()
        self.pending = set(job.run_ids)  # runs of the job without a Finished yet
        self.conn.send(job)

    def drain(self, report) -> None:
        """Pass on what the worker sent; if it died, fail its run with the reason."""
        try:
            while self.job is not None and self.conn.poll():
                event = self.conn.recv()
                if isinstance(event, Finished):
                    self.pending.discard(event.run_id)
                    if not self.pending:
                        self.job = None
                report(event)
        except (EOFError, OSError):
            pass
        if self.job is not None and not self.proc.is_alive():
            self.proc.join()
            code, job, self.job = self.proc.exitcode, self.job, None
            self.conn.close()
            self.proc = None  # a fresh worker takes the slot at the next job
            self._fail(job, report, f"worker process died: {_exit_reason(code)}")

    def abandon(self, report, reason: str) -> None:
        """Stop the worker in the middle of its run (a hung plugin) and fail the run."""
        job, self.job = self.job, None
        self.stop(hung=True)
        self._fail(job, report, reason)

    def _fail(self, job, report, reason: str) -> None:
        """Fail the runs of `job` that have not finished (a pack may have reported some)."""
        for record in failed_records(job, reason):
            if record["id"] in self.pending:
                report(Finished(record["id"], record))
        self.pending = set()

    def stop(self, hung: bool = False) -> None:
        """End the worker: an idle one is told goodbye and let go; one in a run, or hung
        (it would never read the goodbye), is terminated, then killed."""
        if self.proc is None:
            return
        if self.job is None and not hung and self.proc.is_alive():
            try:
                self.conn.send(None)  # a clean goodbye
            except OSError:
                pass
            self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.proc.terminate()  # a run in progress: its temporary folder is cleaned up by the scheduler
            self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()
        self.proc = None


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "unknown exit"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _worker(conn, device: str, threads: int, plugins: dict, parent: int) -> None:
    """A worker process: rebuild the registry once, then train the jobs it is sent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the scheduler decides
    import torch

    from ..build import Builder
    from ..job import run_job
    from ..plugins import rebuild_registry

    torch.set_num_threads(threads)
    builder = Builder(rebuild_registry(plugins))
    wanted = ProgressThrottle()

    def emit(event) -> None:
        if os.getppid() != parent:  # the scheduler is gone: nobody will commit this run
            os._exit(3)
        if wanted(event):
            conn.send(event)

    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        for record in run_job(job, builder, emit):
            conn.send(Finished(record["id"], record))
