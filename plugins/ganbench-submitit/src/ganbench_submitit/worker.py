"""What a SLURM job runs: one ganbench run per task, guarded so that no run trains twice.

The scheduler (``ganbench run`` on the login node) has claimed each run and made its
temporary folder in the results store (``.<run id>.tmp-<token>``, on the shared
filesystem); the task trains it there with ``ganbench.job.train_run``. Around that call:

- **The claim stays live while the task trains**, even if the scheduler that made it dies:
  the task writes its own host and pid into the claim (keeping its token) and touches it
  every ``heartbeat_s``, so another ``ganbench run`` on the folder leaves the run to it.
  A task whose claim was taken over meanwhile (its scheduler died while the job was still
  queued, and another scheduler claimed the run) does not train.
- **A lease in the run's folder** (``slurm.json``: job id, host, pid, attempt, progress)
  says which task trains the run. A task that finds another job's live lease waits until
  that job finishes (and returns its record) or goes silent (and takes over); a requeued
  attempt of the same job takes over at once.
- **A requeued or resubmitted job resumes** from the run's checkpoint (``checkpoint.json``):
  on preemption or time-out SLURM (through submitit) signals the task; the signal stops
  training at once (the checkpoint of the last ``checkpoint_every`` is what is kept) and
  submitit requeues the job, whose new attempt finds the checkpoint and goes on from it.
- **A finished run is not trained again**: its record is kept in ``slurm-result.json``
  until the run is committed, and an attempt that finds it returns it.
- **An orphaned job commits its own run**: when the scheduler's heartbeat file has gone
  silent (the login session ended), the task moves the finished run into place itself,
  exactly as the scheduler would (``ResultsStore.commit``), and releases the claim.

A pack (several seeds of a cell trained in one process, ``ganbench.job.PackJob``) is one
task; every guard here applies to each of its runs' folders, and the runs still to train
train together (``ganbench.job.run_job``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import submitit
from filelock import FileLock

from ganbench.claims import CLAIM_DIR, hostname, pid_alive, process_start
from ganbench.job import RunJob, failed_record
from ganbench.store import ResultsStore, write_atomic

LEASE_FILE = "slurm.json"  # which task trains the run, and how far it is
RESULT_FILE = "slurm-result.json"  # the finished run's record, until it is committed
TMP_MARK = ".tmp-"  # the store's temporary folders: .<run id>.tmp-<claim token>
HEARTBEAT_ENV = "GANBENCH_SLURM_HEARTBEAT_S"
HEARTBEAT_S = 30.0  # like ganbench's claims; tests make it short
PROGRESS_EVERY_S = 1.0  # the lease is rewritten with the step at most this often


@dataclass(frozen=True)
class Timing:
    """Every interval follows from one heartbeat, so the scheduler and all tasks agree."""

    heartbeat_s: float = HEARTBEAT_S

    @classmethod
    def from_env(cls) -> "Timing":
        try:
            return cls(max(0.1, float(os.environ.get(HEARTBEAT_ENV, HEARTBEAT_S))))
        except ValueError:
            return cls()

    @property
    def beat_s(self) -> float:  # the scheduler touches its beat file this often
        return self.heartbeat_s / 3

    @property
    def orphan_after_s(self) -> float:  # a beat file older than this: the scheduler is gone
        return self.heartbeat_s * 2

    @property
    def lease_timeout_s(self) -> float:  # a lease untouched this long: its task is gone
        return self.heartbeat_s * 4


class Preempted(KeyboardInterrupt):
    """SLURM's preemption / time-out signal, raised in the training loop to stop it at once.

    A KeyboardInterrupt so that ``train_run`` lets it through (it records any other
    exception as the run's failure)."""


class TrainTask(submitit.helpers.Checkpointable):
    """The callable submitted as one SLURM job: task `rank` trains ``jobs[rank]``, a RunJob or
    a PackJob (several seeds of a cell trained together: one task, one lease per run).

    Checkpointable: on preemption or time-out submitit requeues the job with this same
    callable; the new attempt resumes each run from its checkpoint."""

    def __init__(self, jobs: list, gpus: int, beat: str, timing: Timing):
        self.jobs, self.gpus, self.beat, self.timing = list(jobs), gpus, beat, timing

    def __call__(self):
        env = submitit.JobEnvironment()
        if env.global_rank >= len(self.jobs):  # the last job of an array may have fewer runs than tasks
            return None
        unit = self.jobs[env.global_rank]
        records = train_task(members(unit), env, self.gpus, Path(self.beat), self.timing, pack=not isinstance(unit, RunJob))
        return records if not isinstance(unit, RunJob) else records[0]


def members(unit) -> list[RunJob]:
    """The runs of a RunJob or a PackJob."""
    return [unit] if isinstance(unit, RunJob) else unit.members()


def train_task(jobs: list[RunJob], env, gpus: int, beat: Path, timing: Timing, pack: bool = False) -> list[dict]:
    """Train `jobs` (one run, or a pack's) in this task with every guard of the module
    docstring, each run's guards its own; their records, in order."""
    info = {
        "job_id": str(env.job_id),
        "task": env.global_rank,
        "host": hostname(),
        "pid": os.getpid(),
        "cluster": env.cluster,
        "device": f"cuda:{env.local_rank % gpus}" if gpus else "cpu",
        "stdout": str(env.paths.stdout),
        "stderr": str(env.paths.stderr),
    }
    records: dict[str, dict] = {}
    guarded: list[tuple[RunJob, Lease, AdoptedClaim]] = []
    for job in jobs:
        out = Path(job.out_dir)
        why = check_claim(out, job)
        if why:
            records[job.run_id] = _refused(job, info, why)
            continue
        earlier = wait_for_lease(out, info, timing)
        if earlier is not None:  # another job of this run finished it meanwhile
            records[job.run_id] = earlier
            continue
        lease, claim = Lease(out, info, timing), AdoptedClaim(out, job, info)
        lease.take()
        claim.adopt()
        lease.start(claim.path)
        guarded.append((job, lease, claim))
    try:
        trained = _train([job for job, _, _ in guarded], env, {job.run_id: lease for job, lease, _ in guarded}, pack) if guarded else []
    except Preempted:
        for _, lease, claim in guarded:
            lease.stop(preempted=True)
            claim.restore()
        _requeue(env)
        raise SystemExit(-1)  # outside submitit: end this attempt
    except BaseException:
        for _, lease, claim in guarded:
            lease.stop()
            claim.restore()
        raise
    gone = scheduler_gone(beat, timing)
    for (job, lease, claim), record in zip(guarded, trained):
        out = Path(job.out_dir)
        record["slurm"] = {**info, "attempt": lease.attempt}
        write_atomic(out / RESULT_FILE, json.dumps(record, default=str))
        lease.stop()
        if gone:
            record["slurm"]["committed_by"] = "job"
            commit_orphan(out, job, record)
        else:
            claim.restore()
        records[job.run_id] = record
    return [records[job.run_id] for job in jobs]


def _train(jobs: list[RunJob], env, leases: dict, pack: bool) -> list[dict]:
    import torch

    from ganbench import checkpoint
    from ganbench.build import Builder
    from ganbench.job import PackJob, run_job
    from ganbench.plugins import rebuild_registry

    device = next(iter(leases.values())).info["device"]
    jobs = [dataclasses.replace(j, device=device, resume=checkpoint.saved_step(j.out_dir) is not None) for j in jobs]
    if jobs[0].threads:
        torch.set_num_threads(jobs[0].threads)
    builder = Builder(rebuild_registry(jobs[0].plugins))
    unit = PackJob(tuple(jobs), device, jobs[0].threads, jobs[0].execution) if pack and len(jobs) > 1 else jobs[0]

    def emit(event) -> None:  # each run's progress into its own lease
        lease = leases.get(getattr(event, "run_id", None))
        if lease is not None:
            lease.progress(event)

    sig = env._usr_sig()  # the signal submitit's sbatch asks SLURM to send before a time-out or preemption
    _PREVIOUS[sig] = signal.getsignal(sig)
    signal.signal(sig, _raise_preempted)
    try:
        return run_job(unit, builder, emit)
    finally:
        signal.signal(sig, _PREVIOUS[sig])


_PREVIOUS: dict = {}  # the handler submitit had installed, called once training has stopped


def _raise_preempted(signum, frame):
    raise Preempted(signal.Signals(signum).name)


def _requeue(env) -> None:
    """Hand the signal to submitit now that training stopped: it dumps this callable again
    and requeues the job (SLURM: scontrol requeue; local: exit status 144), then exits."""
    handler = _PREVIOUS.get(env._usr_sig())
    if callable(handler):
        handler(env._usr_sig(), None)


# ---------------------------------------------------------------- the claim


def token_of(out: Path, run_id: str) -> str:
    prefix = f".{run_id}{TMP_MARK}"
    return out.name[len(prefix) :] if out.name.startswith(prefix) else ""


def check_claim(out: Path, job: RunJob) -> str | None:
    """Why this task must not train `job` (its claim is no longer this scheduler's), or None."""
    if not out.is_dir():
        return f"its run folder {out} is gone (the run was discarded or taken over)"
    path = out.parent / CLAIM_DIR / f"{job.run_id}.json"
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return f"its claim {path} is gone (the scheduler released it)"
    if holder.get("token") != token_of(out, job.run_id):
        return f"the run was claimed meanwhile by {holder.get('host', '?')} pid {holder.get('pid', '?')}"
    return None


class AdoptedClaim:
    """The scheduler's claim of the run, with this task's host and pid while it trains.

    A claim is stale when its pid is gone on its host; the scheduler's pid may be (its
    login session ended) while this task trains, so the task stands in for it."""

    def __init__(self, out: Path, job: RunJob, info: dict):
        self.path = out.parent / CLAIM_DIR / f"{job.run_id}.json"
        self.lock = FileLock(str(out.parent / CLAIM_DIR / ".lock"))
        self.token, self.info, self.original = token_of(out, job.run_id), info, None

    def _rewrite(self, change) -> None:
        with self.lock:
            try:
                body = json.loads(self.path.read_text())
            except (OSError, ValueError):
                return
            if body.get("token") != self.token:
                return  # not ours any more: leave it to its holder
            write_atomic(self.path, json.dumps(change(body)))

    def adopt(self) -> None:
        def change(body):
            # The job's pid and its start time (ganbench.claims tells a reused pid by it), so
            # another `ganbench run` sees the claim held by a live process: this job.
            self.original = {k: body.get(k) for k in ("host", "pid", "pid_start")}
            mine = {"host": self.info["host"], "pid": self.info["pid"], "pid_start": process_start(self.info["pid"])}
            return {**body, **mine, "slurm_job": self.info["job_id"]}

        self._rewrite(change)

    def restore(self) -> None:
        if self.original:
            original = self.original

            def change(body):
                body = {k: v for k, v in body.items() if k != "slurm_job" and k not in original}
                return {**body, **{k: v for k, v in original.items() if v is not None}}

            self._rewrite(change)


def commit_orphan(out: Path, job: RunJob, record: dict) -> None:
    """Commit the run as its scheduler would have (it is gone), and release the claim."""
    store = ResultsStore(out.parent.parent, out.parent.name)
    claims = out.parent / CLAIM_DIR
    token = token_of(out, job.run_id)
    with FileLock(str(claims / ".lock")):
        try:
            holder = json.loads((claims / f"{job.run_id}.json").read_text())
        except (OSError, ValueError):
            holder = {}
        if holder.get("token") != token:
            return  # someone else holds the run now: it decides
        store.commit(out, job.run_id, record, token)
        (claims / f"{job.run_id}.json").unlink(missing_ok=True)
    print(f"ganbench-submitit: the scheduler is gone; committed {job.run_id} into {store.path(job.run_id)}", file=sys.stderr)


def scheduler_gone(beat: Path, timing: Timing) -> bool:
    """Whether the scheduler that submitted this job is gone: on its own host by its pid,
    from another host by its beat file's age (it is touched every ``beat_s``)."""
    try:
        who = json.loads(beat.read_text())
        age = time.time() - beat.stat().st_mtime
    except (OSError, ValueError):
        return True
    if isinstance(who, dict) and who.get("host") == hostname():
        return not _alive(who.get("pid"))
    return age > timing.orphan_after_s


# ---------------------------------------------------------------- the lease


def read_lease(out: Path) -> dict | None:
    try:
        body = json.loads((out / LEASE_FILE).read_text())
        return body if isinstance(body, dict) else None
    except (OSError, ValueError):
        return None


def lease_age(out: Path) -> float:
    try:
        return time.time() - (out / LEASE_FILE).stat().st_mtime
    except OSError:
        return float("inf")


def wait_for_lease(out: Path, info: dict, timing: Timing) -> dict | None:
    """Wait while another job's task holds a live lease on the run.

    Returns the run's record if it finished meanwhile (or before: a requeued attempt after
    the run ended), else None: this task may train it."""
    while True:
        try:
            return json.loads((out / RESULT_FILE).read_text())
        except (OSError, ValueError):
            pass
        lease = read_lease(out)
        if lease is None or lease.get("preempted") or lease.get("job_id") == info["job_id"]:
            return None  # nobody, a stopped attempt, or an earlier attempt of this same job
        if lease.get("host") == info["host"] and not _alive(lease.get("pid")):
            return None
        if lease_age(out) > timing.lease_timeout_s:
            return None
        print(
            f"ganbench-submitit: {out.name} is being trained by job {lease.get('job_id')} on {lease.get('host')}; waiting", file=sys.stderr
        )
        time.sleep(timing.heartbeat_s / 2)


def _alive(pid) -> bool:
    """ganbench.claims.pid_alive, for a pid read from a file: not a number, cannot tell."""
    return not isinstance(pid, int) or pid_alive(pid)  # cannot tell: judged by the lease's age


class Lease:
    """slurm.json in the run's folder: this task's identity, attempt and progress."""

    def __init__(self, out: Path, info: dict, timing: Timing):
        self.out, self.info, self.timing = out, info, timing
        self.attempt, self.state = 1, {}
        self.last = 0.0
        self._stop = threading.Event()
        self._thread = None

    def take(self) -> None:
        earlier = read_lease(self.out) or {}
        self.attempt = int(earlier.get("attempt", 0)) + 1
        self.state = {**self.info, "attempt": self.attempt, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self._write()

    def _write(self) -> None:
        write_atomic(self.out / LEASE_FILE, json.dumps(self.state))

    def progress(self, event) -> None:
        """train_run's emit: the step and last losses, into the lease at most every PROGRESS_EVERY_S."""
        step = getattr(event, "step", None)
        if step is None:
            return
        d = getattr(event, "d_loss", None)
        if d is not None:
            self.state.update(d_loss=d, g_loss=event.g_loss)
        self.state.update(step=step, total=event.total)
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S or step == event.total:
            self.last = now
            try:
                self._write()
            except OSError:
                pass  # progress is for show; the heartbeat keeps the lease live

    def start(self, claim: Path) -> None:
        """Touch the lease and the claim every heartbeat, from a daemon thread."""

        def beat():
            while not self._stop.wait(self.timing.heartbeat_s):
                for path in (self.out / LEASE_FILE, claim):
                    try:
                        os.utime(path)
                    except OSError:
                        pass

        self._thread = threading.Thread(target=beat, name="ganbench-slurm-lease", daemon=True)
        self._thread.start()

    def stop(self, preempted: bool = False) -> None:
        self._stop.set()
        if preempted:  # the next attempt (this job requeued, or another) may take over at once
            self.state["preempted"] = True
            try:
                self._write()
            except OSError:
                pass


def _refused(job: RunJob, info: dict, why: str) -> dict:
    print(f"ganbench-submitit: not training {job.run_id}: {why}", file=sys.stderr)
    record = failed_record(job, f"not trained by SLURM job {info['job_id']}: {why}")
    record["slurm"] = {**info, "refused": True}
    return record
