"""`--executor slurm`: each run a SLURM task, submitted through submitit as job arrays.

The scheduler (this process, on a login node) claims runs as it pulls them, up to
``max_queued`` at once, groups them into jobs of ``tasks_per_job`` runs (``--jobs`` runs per
GPU, ``gpus_per_job`` GPUs) and submits each group of new jobs as one array (one ``sbatch``).
The tasks train into the runs' temporary folders on the shared filesystem
(``ganbench_submitit.worker``); this process watches the queue, turns each task's lease
file into Started / Progress events and queue lines, and reports one Finished per run.

A job that ends without a result (killed, out of memory, node failure) is resubmitted
``retries`` times; the new job resumes each run from its checkpoint. Preemption and time-outs
are requeued by submitit inside the job itself. Ctrl-C (or SIGTERM) cancels the jobs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ganbench.claims import hostname
from ganbench.executors import Executor, ExecutorError
from ganbench.job import Finished, Notice, Progress, Started, failed_record, failed_records, one_line

from .options import SlurmSettings, parse
from .worker import Timing, TrainTask, members, read_lease

FOLDER = ".slurm"  # under the suite's results folder: submitit's pickles and the jobs' logs
QUEUED = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "CONFIGURING", "RESIZING", "SUSPENDED", "UNKNOWN"}
RESULT_WAIT_S = {"slurm": 15, "local": 1}  # how long a missing result file is waited for (NFS caches)


@dataclass
class Flight:
    """One submitted job and what its tasks train: one RunJob or PackJob per task."""

    handle: object  # submitit Job
    runs: list  # RunJob | PackJob, one per task
    attempt: int = 1  # 1, then 2 for a resubmission...
    seen: dict = field(default_factory=dict)  # run id -> (attempt, host) already reported as Started
    steps: dict = field(default_factory=dict)  # run id -> step already reported


class SlurmExecutor(Executor):
    name = "slurm"
    packs = True  # a PackJob (seeds of a cell trained together) is one task of a job

    def __init__(self, options):
        super().__init__(options)
        self.settings: SlurmSettings = parse(options)
        try:
            import submitit
        except ImportError:
            raise ExecutorError("--executor slurm needs submitit: pip install ganbench-submitit") from None
        self.submitit = submitit
        if self.settings.cluster == "slurm" and shutil.which("sbatch") is None:
            raise ExecutorError(
                "--executor slurm: no sbatch on this machine (run on a SLURM login node); --slurm-cluster local runs the jobs here"
            )
        self.timing = Timing.from_env()
        self._backend = None
        self._beat: Path | None = None
        self._stop_beat = threading.Event()

    @property
    def capacity(self) -> int:
        return self.settings.max_queued

    def execution(self) -> dict:
        s = self.settings
        return {
            **super().execution(),
            "runs_per_device": s.runs_per_gpu,
            "slurm": {"cluster": s.cluster, "partition": s.partition, "gpus_per_job": s.gpus_per_job, "tasks_per_job": s.tasks_per_job},
        }

    # ------------------------------------------------------------ the loop

    def run(self, jobs, report) -> None:
        jobs, more = iter(jobs), True
        flights: list[Flight] = []
        counts: Counter = Counter()
        try:
            while True:
                free = self.capacity - sum(len(members(u)) for f in flights for u in f.runs)
                batch = []
                while more and len(batch) < free:
                    job = next(jobs, None)  # pulling claims the run: only when it can be queued
                    if job is None:
                        more = False
                        break
                    batch.append(self._prepare(job))  # a pack counts as its runs once it is in flight
                if batch:
                    flights += self._submit(batch, 1, report)
                if not flights:
                    return
                for f in flights:
                    self._watch(f, report)
                for f in [f for f in flights if _done(f.handle)]:
                    flights.remove(f)
                    flights += self._collect(f, report)
                now = Counter(_state(f) for f in flights for u in f.runs for _ in members(u))
                if now != counts and flights:
                    counts = now
                    queued = sum(n for s, n in now.items() if s in QUEUED)
                    running = sum(n for s, n in now.items() if s not in QUEUED)
                    report(Notice("", f"slurm: {queued} runs waiting in the queue, {running} running"))
                time.sleep(self.settings.poll_s)
        except BaseException:  # Ctrl-C, SIGTERM or our own error: nothing may go on training unseen
            for f in flights:
                try:
                    f.handle.cancel(check=False)
                except Exception:
                    pass
            raise
        finally:
            self._stop_beat.set()
            if self._beat is not None:
                self._beat.unlink(missing_ok=True)

    def _prepare(self, job):
        s = self.settings
        return dataclasses.replace(job, device="cuda" if s.gpus_per_job else "cpu", threads=s.cpus_per_run, execution=self.execution())

    def backend(self, store_dir: Path):
        """submitit's executor for this suite, its folder under the suite's results (shared)."""
        if self._backend is None:
            s, folder = self.settings, store_dir / FOLDER
            folder.mkdir(parents=True, exist_ok=True)
            self._start_beat(folder)
            name = f"ganbench-{store_dir.name}"
            try:
                if s.cluster == "local":
                    ex = self.submitit.LocalExecutor(folder, max_num_timeout=s.max_timeouts)
                    ex.update_parameters(**s.local())
                else:
                    ex = self.submitit.SlurmExecutor(folder, max_num_timeout=s.max_timeouts)
                    ex.update_parameters(**s.sbatch(name))
            except (RuntimeError, ValueError) as e:
                raise ExecutorError(f"--executor slurm: {one_line(e)}") from None
            self._backend = ex
        return self._backend

    def _start_beat(self, folder: Path) -> None:
        """A file this process touches while it lives: a job whose scheduler is gone commits itself."""
        self._beat = folder / f"scheduler-{os.getpid()}-{uuid.uuid4().hex[:8]}.beat"
        self._beat.write_text(json.dumps({"host": hostname(), "pid": os.getpid()}))

        def beat():
            while not self._stop_beat.wait(self.timing.beat_s):
                try:
                    os.utime(self._beat)
                except OSError:
                    pass

        threading.Thread(target=beat, name="ganbench-slurm-beat", daemon=True).start()

    def _submit(self, runs: list, attempt: int, report) -> list[Flight]:
        """Submit `runs` (RunJobs and PackJobs) in jobs of tasks_per_job tasks: one array (one sbatch) for them all."""
        ex = self.backend(Path(members(runs[0])[0].out_dir).parent)
        k = self.settings.tasks_per_job
        groups = [runs[i : i + k] for i in range(0, len(runs), k)]
        tasks = [TrainTask(g, self.settings.gpus_per_job, str(self._beat), self.timing) for g in groups]
        try:
            if len(tasks) == 1:
                handles = [ex.submit(tasks[0])]
            else:
                with ex.batch():
                    handles = [ex.submit(t) for t in tasks]
        except Exception as e:  # sbatch refused (a bad partition, a limit): those runs fail, the suite goes on
            for run in (m for u in runs for m in members(u)):
                report(Finished(run.run_id, failed_record(run, f"SLURM refused the job: {one_line(e)}")))
            return []
        for h in handles:
            h._results_timeout_s = RESULT_WAIT_S[self.settings.cluster]
        ids = (
            ", ".join(h.job_id for h in handles)
            if len(handles) <= 4
            else f"{handles[0].job_id} ... {handles[-1].job_id} ({len(handles)} jobs)"
        )
        again = f" (attempt {attempt})" if attempt > 1 else ""
        n = sum(len(members(u)) for u in runs)
        report(Notice("", f"slurm: submitted {n} runs as job {ids}{again}; logs in {ex.folder}"))
        return [Flight(h, g, attempt) for h, g in zip(handles, groups)]

    def _watch(self, f: Flight, report) -> None:
        """Started when a task takes a run's lease (once per attempt), then Progress from it."""
        for run in (m for u in f.runs for m in members(u)):
            lease = read_lease(Path(run.out_dir))
            if not lease or lease.get("job_id") != f.handle.job_id:
                continue
            key = (lease.get("attempt"), lease.get("host"))
            if f.seen.get(run.run_id) != key:
                f.seen[run.run_id] = key
                where = f"{lease.get('host')}, job {lease.get('job_id')}, attempt {lease.get('attempt')}"
                report(Started(run.run_id, where, lease.get("device", run.device)))
            step = lease.get("step")
            if isinstance(step, int) and f.steps.get(run.run_id) != step:
                f.steps[run.run_id] = step
                report(Progress(run.run_id, step, lease.get("total") or step, lease.get("d_loss"), lease.get("g_loss")))

    def _collect(self, f: Flight, report) -> list[Flight]:
        """Report each finished run; resubmit what a task left no result for (retries allowing)."""
        again = []
        for i, unit in enumerate(f.runs):
            task = f.handle.task(i) if self.settings.tasks_per_job > 1 else f.handle
            runs = members(unit)
            try:
                result = task.result()
                records = result if isinstance(result, list) else [result] if result is not None else None
            except self.submitit.core.utils.FailedJobError as e:  # the task raised outside train_run
                records = failed_records(unit, f"SLURM job {f.handle.job_id} failed: {_last_error(e)}")
            except self.submitit.core.utils.UncompletedJobError:
                records = None
            if records is None:
                if f.attempt <= self.settings.retries:
                    again.append(unit)
                    continue
                records = failed_records(unit, f"SLURM job {f.handle.job_id} ended without a result ({_state(f)}); see {task.paths.stderr}")
            for run, record in zip(runs, records):
                record.setdefault("slurm", {}).update(
                    job_id=f.handle.job_id, stdout=str(task.paths.stdout), stderr=str(task.paths.stderr), submissions=f.attempt
                )
                report(Finished(run.run_id, record))
        if not again:
            return []
        report(
            Notice(
                "", f"slurm: job {f.handle.job_id} ended without a result for {sum(len(members(u)) for u in again)} runs; resubmitting them"
            )
        )
        return self._submit(again, f.attempt + 1, report)


def _done(handle) -> bool:
    try:
        return handle.done()
    except Exception:
        return False


def _state(f: Flight) -> str:
    try:
        return str(f.handle.state).split(" ")[0]
    except Exception:
        return "UNKNOWN"


def _last_error(e: Exception) -> str:
    """The exception line of a submitit FailedJobError's traceback."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip() and not line.startswith("-")]
    errors = [line for line in lines if ("Error" in line or "Exception" in line) and not line.startswith(("File ", "Job ", "You can"))]
    return (errors[-1] if errors else lines[0] if lines else type(e).__name__)[:300]
