"""The Ray executor: each run is a Ray task, on a local Ray or across a cluster.

On CUDA each task asks for ``1/jobs`` of a GPU, so Ray packs ``jobs`` runs onto every GPU
of the cluster (a task sees its GPU as ``cuda:0``); on the CPU each asks for as many CPUs
as it has torch threads. A worker may be on another machine, so a task trains into a
node-local temporary folder and returns the run's files as bytes, which the scheduler
writes into ``job.out_dir`` before it commits; a ``d_pretrain.from_run`` donor's D.pt, and
a resumed run's checkpoint, travel the other way. (Checkpoints taken on a worker reach
the scheduler with the finished run only: a run whose node dies restarts, or resumes from
a checkpoint the scheduler already had.) A task whose worker dies (killed, a segfault) is retried once;
any other Ray error fails its run with the reason, and the suite goes on.

Without ``--address`` a local Ray is started for the suite, and shut down after it: on
the loopback interface, without dashboard or usage stats, so nothing leaves the machine.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

from ..job import Finished, Notice, Progress, ProgressThrottle, Started, failed_record, failed_records, one_line
from ..store import D_WEIGHTS, GRID_DIR
from . import Executor, ExecutorError, available_cores

TMP_PREFIX = "ganbench-ray-"  # + worker pid: a task's node-local folder
WAIT_S = 0.25  # the driver wakes this often: for progress, and for Ctrl-C/SIGTERM handlers


def _import_ray():
    # Ray reads this when it starts a cluster: usage stats would be sent to Ray's servers.
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    try:
        import ray
    except ImportError as e:
        broken = f" (Ray is installed but {one_line(e)})" if e.name not in (None, "ray") else ""
        raise ExecutorError(f"--executor ray needs Ray: pip install 'ganbench[ray]'{broken}") from None
    return ray


def start_local_ray(**init_kw) -> None:
    """ray.init a fresh local Ray that only this machine can reach (the tests use it too).

    `_node_ip_address="127.0.0.1"` alone is not enough on Linux: Ray swaps a loopback
    address for the machine's outward one unless its Windows/macOS "no cluster" switch is
    off, and its servers bind to the node address. The switch is read at call time, so it
    is flipped for ray.init only (joining a real cluster later in this process still works).
    """
    ray = _import_ray()
    import ray._private.ray_constants as constants

    before, sigterm = getattr(constants, "ENABLE_RAY_CLUSTER", None), signal.getsignal(signal.SIGTERM)
    constants.ENABLE_RAY_CLUSTER = False
    try:
        ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.1", logging_level="warning", **init_kw)
    finally:
        constants.ENABLE_RAY_CLUSTER = before
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, sigterm)  # ray.init installs sys.exit on SIGTERM; the runner decides


class RayExecutor(Executor):
    name = "ray"
    packs = True  # a pack is one task with 1/jobs of a GPU

    def __init__(self, options):
        super().__init__(options)
        self.ray = _import_ray()
        self.owned = False  # shut down only a Ray we started: a caller's stays up
        if not self.ray.is_initialized():
            try:
                if options.address:
                    self.ray.init(address=options.address, logging_level="warning")
                else:
                    start_local_ray(num_cpus=available_cores())
            except Exception as e:
                if self.ray.is_initialized():
                    self.ray.shutdown()
                where = f"join the Ray cluster at {options.address}" if options.address else "start a local Ray"
                raise ExecutorError(f"--executor ray: cannot {where}: {one_line(e)}") from None
            self.owned = True
        self.gpu = any(d.startswith("cuda") for d in options.devices)
        self.threads = options.threads_per_run()
        if self.gpu and not self._cluster("GPU"):
            self.close()
            raise ExecutorError("--executor ray: the Ray cluster has no GPU; use --devices cpu")

    def _cluster(self, resource: str) -> int:
        return int(self.ray.cluster_resources().get(resource, 0))

    @property
    def capacity(self) -> int:
        """Runs kept in flight: `jobs` per GPU of the cluster, or its CPUs // threads per run."""
        if self.gpu:
            return max(1, self._cluster("GPU") * self.options.jobs)
        return max(1, self._cluster("CPU") // self.threads)

    def execution(self) -> dict:
        # "local" rather than the local Ray's address: its port changes with every suite.
        return {**super().execution(), "ray_address": self.options.address or "local"}

    def close(self) -> None:
        if self.owned and self.ray.is_initialized():
            self.ray.shutdown()
        self.owned = False

    def run(self, jobs, report) -> None:
        ray, jobs, more = self.ray, iter(jobs), True
        inflight: dict = {}  # ObjectRef -> the job it trains
        donors: dict = {}  # donor folder -> ObjectRef of its D.pt: put once, shared by its runs
        events = _event_queue(ray)
        task = _remote(ray, 1 / self.options.jobs if self.gpu else 0)  # jobs runs share a GPU
        resources = {} if self.gpu else {"num_cpus": self.threads}
        paths = [os.path.abspath(p) for p in sys.path if isinstance(p, str)]
        raised, previous = _keep_sigterm_exception()
        try:
            while True:
                capacity = self.capacity if more else 0  # the cluster may have grown or shrunk
                while more and len(inflight) < capacity:
                    job = next(jobs, None)  # pulling claims the run: only when it can start
                    if job is None:
                        more = False
                        break
                    job = dataclasses.replace(job, device="cuda:0" if self.gpu else "cpu", threads=self.threads, execution=self.execution())
                    ref = task.options(name=f"ganbench:{job.run_id}", **resources).remote(
                        job, _donor(ray, job, donors), paths, events, _resume_files(job)
                    )
                    inflight[ref] = job
                if not inflight:
                    return
                done, _ = ray.wait(list(inflight), num_returns=1, timeout=WAIT_S)
                _drain(events, {i for j in inflight.values() for i in j.run_ids}, report)  # a run's events before its Finished
                for ref in done:
                    job = inflight.pop(ref)
                    for record in self._collect(ref, job):
                        report(Finished(record["id"], record))
        except BaseException as e:  # Ctrl-C, SIGTERM, or the scheduler's own error: stop what runs
            for ref in inflight:  # the scheduler discards their folders
                try:
                    ray.cancel(ref, force=True)
                except Exception:
                    pass
            if raised and isinstance(e, KeyboardInterrupt) and e is not raised[0]:
                raise raised[0] from None  # the SIGTERM handler's exception, e.g. the runner's Terminated
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            if events is not None:
                try:
                    events.shutdown(force=True)
                except Exception:
                    pass
            self.close()
            _sweep_temporary_folders()  # what killed workers left on this machine

    def _collect(self, ref, job) -> list[dict]:
        """The task's records, their files written into each run's out_dir; a Ray error
        fails every run of the job."""
        ray = self.ray
        try:
            results = ray.get(ref)
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as e:
            return failed_records(job, f"Ray worker lost twice: {one_line(e)}")
        except ray.exceptions.RayTaskError as e:  # our task code raised, outside train_run
            return failed_records(job, f"Ray task failed: {one_line(e.cause or e)}")
        except Exception as e:  # cancelled, out of memory, object lost...
            return failed_records(job, f"Ray task failed: {one_line(e)}")
        records = []
        for member, (record, files) in zip(job.members(), results):
            out = Path(member.out_dir)
            try:
                for name, data in files.items():
                    path = out / name
                    if Path(name).is_absolute() or ".." in Path(name).parts:
                        raise OSError(f"unexpected file name {name!r}")
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
            except OSError as e:
                record = failed_record(member, f"cannot write the run's files: {e.strerror or e}", record)
            records.append(record)
        return records


def _keep_sigterm_exception():
    """Wrap the SIGTERM handler to remember what it raises: ([exception], previous handler).

    A signal handler that raises inside ray.wait or ray.get reaches the caller as a bare
    KeyboardInterrupt (Ray maps any interruption to it), which would turn the runner's
    Terminated (exit 143) into an interrupt (exit 130).
    """
    raised: list = []
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous) or threading.current_thread() is not threading.main_thread():
        return raised, None

    def on_sigterm(signum, frame):
        try:
            previous(signum, frame)
        except BaseException as e:
            raised.append(e)
            raise

    signal.signal(signal.SIGTERM, on_sigterm)
    return raised, previous


def _donor(ray, job, donors):
    """The donor's D.pt as an object (the worker may not see the scheduler's disk), or None.
    The runs of a pack differ only in their seed: one donor."""
    job = job.members()[0]
    if not job.donor:
        return None
    weights = Path(job.donor["path"]) / D_WEIGHTS
    if not weights.is_file():
        return None  # the worker reads the path itself and fails the run naming it
    if job.donor["path"] not in donors:
        donors[job.donor["path"]] = ray.put(weights.read_bytes())
    return donors[job.donor["path"]]


def _resume_files(job) -> list[dict | None]:
    """Each run's folder (on the scheduler's disk) as {relative path: bytes} when it is
    resumed, else None."""
    out: list[dict | None] = []
    for member in job.members():
        folder = Path(member.out_dir)
        out.append(
            {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()} if member.resume else None
        )
    return out


def _event_queue(ray):
    """A queue actor for Started/Progress (cheap: one small actor, a round trip per event)."""
    try:
        from ray.util.queue import Queue

        return Queue(actor_options={"num_cpus": 0})
    except Exception:
        return None  # no progress display, the runs still train


def _drain(events, live: set, report) -> None:
    if events is None:
        return
    try:
        n = events.qsize()
        items = events.get_nowait_batch(n) if n else []
    except Exception:
        return
    kinds = {"Started": Started, "Progress": Progress, "Notice": Notice}
    for kind, fields in items:
        if fields["run_id"] in live:  # not a leftover of a run already reported
            report(kinds[kind](**fields))


# ---------------------------------------------------------------- the task (on a Ray worker)

_BUILDERS = {}  # repr(Registry.source) -> Builder: a worker rebuilds plugins and data once


@functools.cache
def _remote(ray, num_gpus: float = 0):
    """The task: a lost worker is retried once (a plugin's exception is already a failed record).

    A GPU task gets a fresh worker (max_calls=1, which only @ray.remote can set): a reused
    one keeps the GPU it first initialised CUDA on, whichever GPU Ray assigns it next.
    No CPU is reserved for it: a node's core count must not hold its GPUs idle.
    """
    retry = {"max_retries": 1, "retry_exceptions": False}
    if num_gpus:
        return ray.remote(num_gpus=num_gpus, num_cpus=0, max_calls=1, **retry)(_train_task)
    return ray.remote(**retry)(_train_task)


def _train_task(job, donor: bytes | None, paths: list[str], events, resume: list | None = None):
    """Train a job's runs into a temporary folder; return [(record, {relative path: bytes})]
    in the job's order.

    resume: per run, the files of a killed attempt (its checkpoint, history, grids), or None."""
    # Modules registered by hand (tests, notebooks) are imported by name: append, never
    # prepend, the scheduler's paths, so they cannot shadow this worker's own packages.
    sys.path.extend(p for p in paths if p not in sys.path)
    import torch

    from ..build import Builder
    from ..job import PackJob, run_job
    from ..plugins import rebuild_registry

    _sweep_temporary_folders()
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-"))
    try:
        members, outs = job.members(), []
        donor_dir = None
        if donor is not None:
            (tmp / "donor").mkdir()
            (tmp / "donor" / D_WEIGHTS).write_bytes(donor)
            donor_dir = str(tmp / "donor")
        local = []
        for i, (member, files) in enumerate(zip(members, resume or [None] * len(members))):
            out = tmp / f"run{i}"
            (out / GRID_DIR).mkdir(parents=True)
            for name, data in (files or {}).items():
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                (out / name).write_bytes(data)
            changes = {"out_dir": str(out)}
            if donor_dir is not None:
                changes["donor"] = {**member.donor, "path": donor_dir}
            local.append(dataclasses.replace(member, **changes))
            outs.append(out)
        key = repr(members[0].plugins)
        try:
            if key not in _BUILDERS:
                _BUILDERS[key] = Builder(rebuild_registry(members[0].plugins))
        except Exception as e:
            return [(failed_record(m, f"cannot load the plugins on this Ray worker: {one_line(e)}"), {}) for m in members]
        if job.threads:
            torch.set_num_threads(job.threads)
        task = dataclasses.replace(job, runs=tuple(local)) if isinstance(job, PackJob) else local[0]
        records = run_job(task, _BUILDERS[key], _emitter(events))
        results = []
        for member, record, out in zip(members, records, outs):
            if member.donor:
                record["d_pretrain_donor"] = member.donor  # the scheduler's path, not our copy's
            files = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
            results.append((record, files))
        return results
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _sweep_temporary_folders() -> None:
    """Remove the folders of tasks whose worker was killed (no `finally` ran in it)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}*-*"):
        pid = folder.name[len(TMP_PREFIX) :].split("-")[0]
        try:
            os.kill(int(pid), 0)  # signal 0: is that worker still alive?
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, OSError):  # not ours to judge: not a pid, someone else's process
            pass


def _emitter(events):
    wanted = ProgressThrottle()

    def emit(event) -> None:
        if events is None or not wanted(event):
            return
        try:  # waits for the actor: the run's events are queued before its result returns
            events.put_nowait((type(event).__name__, dataclasses.asdict(event)))
        except Exception:
            pass  # progress is for show; losing it must not fail the run

    return emit
