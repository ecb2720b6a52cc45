"""Experiment trackers as loggers: Weights & Biases (``wandb``) and MLflow (``mlflow``).

``loggers: [wandb]`` in a suite (or ``--logger mlflow``) gives every ganbench run one
tracker run:

- grouped by suite and cell: W&B ``group`` = the suite, ``job_type`` = the cell (its matrix
  values), ``name`` = the run id; MLflow experiment = the suite, tags ``ganbench.cell``,
  ``ganbench.cell_key`` (the same for every seed of a cell), ``ganbench.seed``;
- the resolved config as its config / parameters (MLflow: dotted keys, ``optimizer.lr``);
- every history row (losses, accuracies, learning rates, and the evaluation's metrics at
  eval points) as metrics at the row's training step; sample grids as images at theirs;
- when the run ends: its final metrics (W&B summary; MLflow metrics at the last step and a
  ``ganbench.status`` tag), its status (failed runs fail the tracker run), and the run's
  folder (history, grids, weights, traceback, run.json as far as it is known) as an artifact;
- a resumed run continues the same tracker run: its id is kept in the run's folder
  (``wandb.json`` / ``mlflow.json``), and rows the killed attempt already logged (the same
  numbers: a resumed run repeats them exactly) are not sent twice.

Both are *non-essential* loggers (``essential = False``, see ``ganbench.loggers``): a
tracker that fails (no network, a full quota, a bad URI) is one warning, recorded in
run.json's ``logger_errors``, and the run trains on without it.

Configuration is the trackers' own: ``WANDB_PROJECT`` (default ``ganbench``),
``WANDB_ENTITY``, ``WANDB_MODE=offline``, ``WANDB_DIR`` (default: the run's folder);
``MLFLOW_TRACKING_URI`` (default: ``sqlite:///<results>/mlflow.db`` beside the suites, its
artifacts in ``<results>/mlartifacts``; MLflow's own default, a ``./mlruns`` file store, is
refused by MLflow 3 without ``MLFLOW_ALLOW_FILE_STORE=true``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import uuid
from pathlib import Path

from .loggers import Logger

SKIP_ARTIFACTS = {"wandb", "mlruns", "mlartifacts", "checkpoint.pt", "checkpoint.json", "wandb.json", "mlflow.json"}
MAX_PARAM = 6000  # MLflow's limit on a parameter's value (characters)
DONE = ("complete", "diverged")
INIT_TIMEOUT_S = 30.0  # run statuses that end a tracker run as finished


def cell_of(record: dict) -> tuple[str, str]:
    """(label, key) of a run's cell: its matrix values, and a hash of its config without the seed."""
    from .config import identity

    cell = record.get("cell") or {}
    label = ",".join(f"{k}={v.get('name', v) if isinstance(v, dict) else v}" for k, v in cell.items() if k != "seed") or "base"
    config = {k: v for k, v in (record.get("config") or {}).items() if k != "seed"}
    key = hashlib.sha256(json.dumps(identity(config), sort_keys=True, default=str).encode()).hexdigest()[:8]
    return label, key


def flatten(config: dict, prefix: str = "") -> dict[str, str]:
    """{"optimizer": {"lr": 1e-3}} -> {"optimizer.lr": "0.001"}; lists as JSON."""
    out: dict[str, str] = {}
    for k, v in config.items():
        if isinstance(v, dict) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v if isinstance(v, str) else json.dumps(v, default=str)
    return out


def numbers(row: dict) -> dict[str, float]:
    """The finite numbers of a history row, without its step."""
    return {
        k: float(v)
        for k, v in row.items()
        if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))
    }


def artifact_files(run_dir: Path) -> list[Path]:
    """The run's files worth keeping with the tracker run (not the tracker's own, not the resume state)."""
    return [p for p in sorted(run_dir.rglob("*")) if p.is_file() and not (set(p.relative_to(run_dir).parts) & SKIP_ARTIFACTS)]


class _Tracker(Logger):
    """What both trackers share: the id file that lets a resumed run continue its tracker run."""

    essential = False  # a tracker's failure is a warning, never the run's failure
    STATE = ""  # file in the run's folder: {"id": ..., "step": the last step logged}
    LIBRARY = ""  # the module it needs, checked before any run starts (ganbench.loggers.unavailable)

    def __init__(self, run_dir: Path, record: dict):
        super().__init__(run_dir, record)
        try:
            self.state = json.loads((self.run_dir / self.STATE).read_text())  # an earlier attempt of this run
        except (OSError, ValueError):
            self.state = {}
        self.resuming = bool(self.state.get("id"))
        self.last_step = int(self.state.get("step", 0)) if self.resuming else 0

    def _save(self, **values) -> None:
        from .store import write_atomic

        self.state.update(values)
        write_atomic(self.run_dir / self.STATE, json.dumps(self.state))

    def _new(self, step: int) -> bool:
        """Whether a row or image at `step` is new: the killed attempt sent those up to last_step."""
        return step > self.last_step

    def _note(self, **info) -> None:
        """run.json's `trackers`: which tracker run holds this run."""
        self.record.setdefault("trackers", {})[self.name] = info


class WandbLogger(_Tracker):
    name = "wandb"
    STATE = "wandb.json"
    LIBRARY = "wandb"

    def __init__(self, run_dir: Path, record: dict):
        super().__init__(run_dir, record)
        try:
            import wandb
        except ImportError:
            raise RuntimeError("the wandb logger needs Weights & Biases: pip install 'ganbench[wandb]'") from None
        self.wandb = wandb
        label, key = cell_of(record)
        run_id = self.state.get("id") or uuid.uuid4().hex[:12]
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "ganbench"),
            group=record.get("suite"),
            job_type=label[:64],
            name=record.get("id"),
            id=run_id,
            resume="allow",  # the same id: a resumed ganbench run continues its W&B run
            dir=os.environ.get("WANDB_DIR") or str(self.run_dir),
            config=record.get("config", {}),
            tags=[str(record.get("suite")), f"cell:{key}", f"seed:{record.get('seed')}"],
            reinit="create_new",  # several runs in one process (the local executor): one W&B run each
            settings=wandb.Settings(
                console="off",  # the process's output is the scheduler's (local executor), not the tracker's
                # an unreachable service delays the run's start by at most this (W&B's default: 90 s)
                init_timeout=float(os.environ.get("WANDB_INIT_TIMEOUT", INIT_TIMEOUT_S)),
            ),
        )
        self._save(id=run_id, step=self.last_step)
        self._note(id=run_id, project=self.run.project, url=getattr(self.run, "url", None))

    def log_row(self, row: dict) -> None:
        step = int(row["step"])
        if self._new(step):
            self.run.log(numbers(row), step=step)
            self._save(step=step)

    def log_image(self, tag: str, path: Path, step: int) -> None:
        if self._new(step):  # a grid is drawn just before its step's row
            self.run.log({tag: self.wandb.Image(str(path))}, step=step)

    def close(self) -> None:
        status = self.record.get("status")
        metrics = {k: v for k, v in (self.record.get("metrics") or {}).items() if v is not None}
        self.run.summary.update({**metrics, "status": status or "interrupted"})
        if status is not None:  # finished (any outcome): the run's folder goes with it
            artifact = self.wandb.Artifact(f"run-{self.record['id']}", type="ganbench-run", metadata={"status": status})
            for path in artifact_files(self.run_dir):
                artifact.add_file(str(path), name=path.relative_to(self.run_dir).as_posix())
            with artifact.new_file("run.json") as f:
                f.write(json.dumps(self.record, indent=2, default=str))
            self.run.log_artifact(artifact)
        else:  # interrupted (Ctrl-C, preemption): it will be resumed into this same W&B run
            self.run.mark_preempting()
        self.run.finish(exit_code=0 if status in DONE else 1)


class MlflowLogger(_Tracker):
    name = "mlflow"
    STATE = "mlflow.json"
    LIBRARY = "mlflow"

    def __init__(self, run_dir: Path, record: dict):
        super().__init__(run_dir, record)
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise RuntimeError("the mlflow logger needs MLflow: pip install 'ganbench[mlflow]'") from None
        from mlflow.entities import Param

        uri, artifacts = self._where()
        self.client = MlflowClient(tracking_uri=uri)
        if self.resuming:
            self.run_id = self.state["id"]
            self.client.update_run(self.run_id, status="RUNNING")
        else:
            suite = str(record.get("suite"))
            found = self.client.get_experiment_by_name(suite)
            experiment = found.experiment_id if found else self.client.create_experiment(suite, artifact_location=artifacts)
            label, key = cell_of(record)
            tags = {
                "ganbench.suite": suite,
                "ganbench.cell": label,
                "ganbench.cell_key": key,
                "ganbench.run_id": str(record.get("id")),
                "ganbench.seed": str(record.get("seed")),
            }
            self.run_id = self.client.create_run(experiment, run_name=record.get("id"), tags=tags).info.run_id
            params = [Param(k, v[:MAX_PARAM]) for k, v in flatten(record.get("config") or {}).items()]
            for i in range(0, len(params), 100):  # MLflow takes at most 100 parameters a batch
                self.client.log_batch(self.run_id, params=params[i : i + 100])
        self._save(id=self.run_id, step=self.last_step)
        self._note(id=self.run_id, tracking_uri=uri)

    def _where(self) -> tuple[str, str | None]:
        """(tracking URI, artifact location for a new experiment): the user's, else a SQLite
        store beside the suites' folders (the run's folder is <results>/<suite>/<run>)."""
        if os.environ.get("MLFLOW_TRACKING_URI"):
            return os.environ["MLFLOW_TRACKING_URI"], None
        results = self.run_dir.resolve().parent.parent
        return f"sqlite:///{results / 'mlflow.db'}", (results / "mlartifacts").as_uri()

    def _metrics(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        batch = [Metric(k, v, stamp, step) for k, v in values.items()]
        for i in range(0, len(batch), 1000):  # MLflow's batch limit
            self.client.log_batch(self.run_id, metrics=batch[i : i + 1000])

    def log_row(self, row: dict) -> None:
        step = int(row["step"])
        if self._new(step):
            self._metrics(numbers(row), step)
            self._save(step=step)

    def log_image(self, tag: str, path: Path, step: int) -> None:
        if self._new(step):
            import numpy as np
            from PIL import Image

            self.client.log_image(self.run_id, np.asarray(Image.open(path).convert("RGB")), key=tag, step=step)

    def close(self) -> None:
        status = self.record.get("status")
        metrics = {k: float(v) for k, v in (self.record.get("metrics") or {}).items() if v is not None}
        if metrics:
            self._metrics(metrics, max(self.last_step, int(metrics.get("steps", 0))))
        self.client.set_tag(self.run_id, "ganbench.status", status or "interrupted")
        if status is not None:
            for path in artifact_files(self.run_dir):
                folder = path.parent.relative_to(self.run_dir).as_posix()
                self.client.log_artifact(self.run_id, str(path), f"run/{folder}" if folder != "." else "run")
            self.client.log_text(self.run_id, json.dumps(self.record, indent=2, default=str), "run/run.json")
        self.client.set_terminated(self.run_id, "FINISHED" if status in DONE else "FAILED" if status else "KILLED")
