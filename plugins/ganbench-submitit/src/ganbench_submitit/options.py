"""The executor's options: `ganbench run --executor slurm --slurm-KEY VALUE` (ExecutorOptions.extra).

Every key is checked when the executor is made, before any run is claimed: an unknown key
or a bad value is one line and exit status 2. ``SlurmSettings.sbatch()`` is what submitit's
SlurmExecutor gets (its ``update_parameters`` names), ``local()`` what its LocalExecutor gets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ganbench.executors import ExecutorError, ExecutorOptions
from ganbench.suggest import did_you_mean

CLUSTERS = ("slurm", "local")  # local: submitit's LocalExecutor, real subprocesses on this machine
DEFAULT_TIME_MIN = 60  # SLURM's own default is the partition's limit; an hour is a safe first ask
DEFAULT_MAX_QUEUED = 256  # runs claimed and submitted at once (each holds a claim while it waits)
DEFAULT_ARRAY_PARALLELISM = 256  # submitit's default %N of an array
POLL_S = {"slurm": 15.0, "local": 0.5}  # sacct is asked at most this often (it is shared by every user)


@dataclass
class SlurmSettings:
    cluster: str = "slurm"
    partition: str | None = None
    time_min: int = DEFAULT_TIME_MIN
    gpus_per_job: int = 0
    runs_per_gpu: int = 1  # --jobs: runs at once on each GPU of a job (one SLURM task each)
    cpus_per_run: int = 2  # cpus_per_task; also each run's torch threads
    mem_gb: float | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    comment: str | None = None
    setup: list[str] = field(default_factory=list)  # shell lines before the job starts (module load, venv)
    array_parallelism: int = DEFAULT_ARRAY_PARALLELISM
    max_queued: int = DEFAULT_MAX_QUEUED
    retries: int = 1  # resubmissions of a job that ended without a result (killed, node failure)
    max_timeouts: int = 3  # requeues after a time-out (preemptions requeue without limit)
    poll_s: float = 15.0
    additional: dict = field(default_factory=dict)  # any other sbatch option: {"mail-type": "END"}

    @property
    def tasks_per_job(self) -> int:
        """Runs one job trains at once: runs_per_gpu on each of its GPUs (one on the CPU x runs_per_gpu)."""
        return self.runs_per_gpu * max(1, self.gpus_per_job)

    def sbatch(self, name: str) -> dict:
        """submitit SlurmExecutor.update_parameters(**this)."""
        out: dict = {
            "job_name": name,
            "time": self.time_min,
            "ntasks_per_node": self.tasks_per_job,
            "cpus_per_task": self.cpus_per_run,
            "array_parallelism": self.array_parallelism,
        }
        if self.gpus_per_job:
            out["gpus_per_node"] = self.gpus_per_job
        for key in ("partition", "account", "qos", "constraint", "comment"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.mem_gb is not None:
            out["mem"] = f"{int(self.mem_gb * 1024)}MB"
        if self.setup:
            out["setup"] = list(self.setup)
        if self.additional:
            out["additional_parameters"] = dict(self.additional)
        return out

    def local(self) -> dict:
        """submitit LocalExecutor.update_parameters(**this): the same job shape on this machine."""
        out: dict = {"timeout_min": self.time_min, "tasks_per_node": self.tasks_per_job, "gpus_per_node": self.gpus_per_job}
        if self.setup:
            out["setup"] = list(self.setup)
        return out


KEYS = {
    "cluster": "slurm or local (submitit's local executor: real processes here, the same code path minus sbatch)",
    "partition": "the SLURM partition",
    "time": "each job's time limit: minutes, H:MM:SS, D-HH:MM:SS, or 90m / 4h",
    "gpus_per_job": "GPUs of one job (default: 1 with --devices cuda, else 0)",
    "cpus_per_run": "CPUs of each run (a SLURM task); also its torch threads (default: --threads, else 2)",
    "mem_gb": "memory of one job, GB",
    "account": "sbatch --account",
    "qos": "sbatch --qos",
    "constraint": "sbatch --constraint",
    "comment": "sbatch --comment",
    "setup": "shell lines run before each job (a list, or one line): module load, source venv/bin/activate",
    "array_parallelism": "array tasks running at once (sbatch --array=...%N)",
    "max_queued": "runs submitted at once (each holds a claim while queued)",
    "retries": "resubmissions of a job that ended without a result (killed, node failure); it resumes from the run's checkpoint",
    "max_timeouts": "requeues after the time limit (the run resumes from its checkpoint each time)",
    "poll_s": "seconds between two looks at the queue",
    "additional": "other sbatch options as a mapping, e.g. {mail-type: END}",
}


def parse(options: ExecutorOptions) -> SlurmSettings:
    """SlurmSettings from ExecutorOptions (extra holds the --slurm-* values); ExecutorError if wrong."""
    extra = {k: v for k, v in (options.extra or {}).items() if v is not None}  # None: declared, not given
    unknown = sorted(k for k in extra if k.replace("-", "_") not in KEYS)
    if unknown:
        flags = [f"--slurm-{k.replace('_', '-')}" for k in KEYS]
        given = f"--slurm-{unknown[0].replace('_', '-')}"
        raise ExecutorError(f"--executor slurm: unknown option {given}{did_you_mean(given, flags)}; known: {', '.join(flags)}")
    extra = {k.replace("-", "_"): v for k, v in extra.items()}
    s = SlurmSettings()
    s.cluster = _choice(extra, "cluster", CLUSTERS, "slurm")
    s.partition = _text(extra, "partition")
    s.time_min = parse_time(extra["time"]) if "time" in extra else DEFAULT_TIME_MIN
    on_gpu = any(str(d).startswith("cuda") for d in options.devices)
    s.gpus_per_job = _int(extra, "gpus_per_job", 1 if on_gpu else 0, low=0)
    s.runs_per_gpu = options.jobs
    s.cpus_per_run = _int(extra, "cpus_per_run", options.threads or 2, low=1)
    if "mem_gb" in extra:
        s.mem_gb = _number(extra, "mem_gb")
    for key in ("account", "qos", "constraint", "comment"):
        setattr(s, key, _text(extra, key))
    setup = extra.get("setup", [])
    if isinstance(setup, str):
        setup = [setup]
    if not isinstance(setup, list) or not all(isinstance(x, str) for x in setup):
        raise ExecutorError(f"--slurm-setup: expected shell lines, got {setup!r}")
    s.setup = setup
    s.array_parallelism = _int(extra, "array_parallelism", DEFAULT_ARRAY_PARALLELISM, low=1)
    s.max_queued = _int(extra, "max_queued", DEFAULT_MAX_QUEUED, low=1)
    s.retries = _int(extra, "retries", 1, low=0)
    s.max_timeouts = _int(extra, "max_timeouts", 3, low=0)
    s.poll_s = _number(extra, "poll_s") if "poll_s" in extra else POLL_S[s.cluster]
    additional = extra.get("additional", {})
    if not isinstance(additional, dict):
        raise ExecutorError(f"--slurm-additional: expected a mapping of sbatch options, got {additional!r}")
    s.additional = additional
    return s


_TIME = re.compile(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?")


def parse_time(value) -> int:
    """A SLURM time limit in whole minutes (rounded up): 90, "90", "1:30:00", "2-00:00:00", "4h", "90m"."""
    text = str(value).strip()
    where = f"--slurm-time {text}"
    if isinstance(value, bool):
        raise ExecutorError(f"{where}: expected a time limit")
    unit = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([hm])", text)
    if unit:
        minutes = float(unit.group(1)) * (60 if unit.group(2) == "h" else 1)
    else:
        m = _TIME.fullmatch(text)
        if not m:
            raise ExecutorError(f"{where}: expected minutes, H:MM:SS, D-HH:MM:SS, 90m or 4h")
        days, a, b, c = m.groups()
        if days is not None:  # D-H, D-H:M, D-H:M:S
            minutes = int(days) * 1440 + int(a) * 60 + int(b or 0) + int(c or 0) / 60
        elif c is not None:  # H:M:S
            minutes = int(a) * 60 + int(b) + int(c) / 60
        elif b is not None:  # M:S
            minutes = int(a) + int(b) / 60
        else:  # M
            minutes = int(a)
    if minutes <= 0:
        raise ExecutorError(f"{where}: must be more than zero")
    return max(1, int(-(-minutes // 1)))


def _choice(extra: dict, key: str, choices, default: str) -> str:
    value = extra.get(key, default)
    if value not in choices:
        raise ExecutorError(f"--slurm-{key.replace('_', '-')} {value}: expected one of {', '.join(choices)}")
    return value


def _text(extra: dict, key: str) -> str | None:
    value = extra.get(key)
    if value is None:
        return None
    if isinstance(value, (dict, list, bool)):
        raise ExecutorError(f"--slurm-{key.replace('_', '-')}: expected text, got {value!r}")
    return str(value)


def _int(extra: dict, key: str, default: int, low: int) -> int:
    value = extra.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ExecutorError(f"--slurm-{key.replace('_', '-')}: expected an integer >= {low}, got {value!r}")
    return value


def _number(extra: dict, key: str) -> float:
    value = extra[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ExecutorError(f"--slurm-{key.replace('_', '-')}: expected a number > 0, got {value!r}")
    return float(value)
