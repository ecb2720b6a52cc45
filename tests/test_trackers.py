"""The W&B and MLflow loggers, read back: W&B's offline run files (WANDB_MODE=offline), MLflow's
local file store through MlflowClient. A tracker that fails is one warning; the run goes on."""

from __future__ import annotations

import json
import struct
import types
from pathlib import Path

import pandas as pd
import pytest
from conftest import TINY_BASE
from rich.console import Console

from ganbench import hookimpl
from ganbench.callbacks import Callback
from ganbench.loggers import Logger
from ganbench.runner import run_suite
from ganbench.suite import expand
from ganbench.testing import make_registry

# grids at steps 3 and 6, rows every 2 steps, an evaluation (its metrics in the row) at step 6
BASE = {**TINY_BASE, "eval": {"every": "6 steps", "samples": 100}}
# killed at step 7 after rows 2, 4, 6 and a checkpoint at 4: the resumed attempt redoes 5 and 6
RESUMED = {**TINY_BASE, "steps": 8, "grid_every": "4 steps", "checkpoint_every": "4 steps", "callbacks": [{"name": "stop-once"}]}


class StopOnce(Callback):
    """Ctrl-C at step 7 of a run's first attempt (its marker file says it happened)."""

    def __init__(self, marker: str = "", at: int = 7):
        self.marker, self.at = Path(marker), at

    def after_g_step(self, loop, step):
        if step == self.at and not self.marker.exists():
            self.marker.touch()
            raise KeyboardInterrupt


class Flaky(Logger):
    """A non-essential logger whose second row raises."""

    essential = False
    rows = 0

    def log_row(self, row):
        Flaky.rows += 1
        if Flaky.rows >= 2:
            raise ConnectionError("tracker unreachable")


def registry_with_test_plugins():
    module = types.ModuleType("tracker_test_plugins")
    module.register_callbacks = hookimpl(lambda register: register("stop-once", StopOnce))
    module.register_loggers = hookimpl(lambda register: register("flaky", Flaky))
    return make_registry(module)


def train(tmp_path, registry, base, loggers, seeds=1, name="tracked"):
    suite = expand({"name": name, "base": base, "seeds": seeds, "loggers": loggers}, registry)
    return run_suite(suite, registry, tmp_path / "results", "cpu", console=Console(quiet=True))


def run_dirs(tmp_path, name="tracked") -> list[Path]:
    return sorted(p for p in (tmp_path / "results" / name).glob("[!.]*") if (p / "run.json").is_file())


# ---------------------------------------------------------------- W&B


def wandb_records(path: Path):
    """The protobuf records of a W&B offline run file (`run-<id>.wandb`): a LevelDB-style log of
    32 KiB blocks, each record a 7-byte header (CRC, length, type) and its bytes."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, block = path.read_bytes(), 32 * 1024
    assert data[:4] == b":W&B"
    pos, buf = 7, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # a block's tail too short for a header is padding
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if length == 0 and kind == 0:
            pos += left
            continue
        buf += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST: a whole record
            record = pb.Record()
            record.ParseFromString(buf)
            buf = b""
            yield record


def wandb_run(run_dir: Path) -> dict:
    """What the offline run files of one run folder say: run, config, history by step, summary, artifacts."""
    out = {"runs": [], "config": {}, "history": {}, "rows": [], "summary": {}, "artifacts": [], "exit": []}
    for path in sorted(run_dir.glob("wandb/offline-run-*/run-*.wandb")):
        for r in wandb_records(path):
            kind = r.WhichOneof("record_type")
            if kind == "run":
                out["runs"].append(r.run)
                out["config"].update({u.key: json.loads(u.value_json) for u in r.run.config.update})
            elif kind == "history":
                row = {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in r.history.item}
                out["history"].setdefault(r.history.step.num, {}).update(row)
                if "d_loss" in row:  # a history row, in the order it was sent (an image alone is not)
                    out["rows"].append(r.history.step.num)
            elif kind == "summary":
                out["summary"].update({(u.key or "/".join(u.nested_key)): json.loads(u.value_json) for u in r.summary.update})
            elif kind == "artifact":
                out["artifacts"].append(r.artifact)
            elif kind == "exit":
                out["exit"].append(r.exit.exit_code)
    return out


@pytest.fixture
def wandb_offline(tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="the wandb logger needs `pip install 'ganbench[wandb]'`")
    for name in ("WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR"):  # its staging copies stay out of ~
        monkeypatch.setenv(name, str(tmp_path / "wandb-home"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_DIR", raising=False)


def test_wandb_logs_config_rows_evaluations_grids_summary_and_the_run_folder(tmp_path, registry, wandb_offline):
    assert train(tmp_path, registry, BASE, ["wandb"]).counts == {"complete": 1}
    (run_dir,) = run_dirs(tmp_path)
    record = json.loads((run_dir / "run.json").read_text())
    w = wandb_run(run_dir)
    (run,) = w["runs"]
    assert (run.run_group, run.job_type, run.display_name) == ("tracked", "base", record["id"])
    assert run.run_id == record["trackers"]["wandb"]["id"]
    assert w["config"]["optimizer"] == record["config"]["optimizer"] and w["config"]["z_dim"] == 8
    history = pd.read_csv(run_dir / "history.csv")
    rows = sorted(s for s, row in w["history"].items() if "d_loss" in row)
    assert rows == list(history["step"]) == [2, 4, 6]
    for _, row in history.iterrows():  # every row, evaluation metrics included, at its step
        logged = w["history"][int(row["step"])]
        assert logged["d_loss"] == pytest.approx(row["d_loss"]) and logged["lr_g"] == pytest.approx(row["lr_g"])
    assert w["history"][6]["modes_covered"] == pytest.approx(history["modes_covered"].iloc[-1])
    images = {s for s, row in w["history"].items() if row.get("samples/_type") == "image-file"}
    assert images == {3, 6}  # grid_every: 3 steps
    assert w["summary"]["status"] == "complete" and w["summary"]["modes_covered"] == pytest.approx(record["metrics"]["modes_covered"])
    (artifact,) = w["artifacts"]
    files = {e.path for e in artifact.manifest.contents}
    assert {"run.json", "history.csv", "G.pt", "grids/step_0000003.png"} <= files and not any(f.startswith("wandb/") for f in files)
    assert w["exit"] == [0]


def test_wandb_resume_continues_the_same_run_without_sending_a_row_twice(tmp_path, wandb_offline):
    registry = registry_with_test_plugins()
    base = {**RESUMED, "callbacks": [{"name": "stop-once", "marker": str(tmp_path / "stopped")}]}
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, registry, base, ["wandb"])
    assert train(tmp_path, registry, base, ["wandb"]).counts == {"complete": 1}
    (run_dir,) = run_dirs(tmp_path)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["resumed_from_step"] == 4
    w = wandb_run(run_dir)
    first, second = w["runs"]
    assert first.run_id == second.run_id == record["trackers"]["wandb"]["id"] and second.resume
    assert w["rows"] == [2, 4, 6, 8]  # 6 was sent once, by the killed attempt
    assert w["history"][8]["d_loss"] == pytest.approx(pd.read_csv(run_dir / "history.csv")["d_loss"].iloc[-1])
    assert w["exit"] == [1, 0]  # the interrupted attempt, then the finished run


# ---------------------------------------------------------------- MLflow


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="the mlflow logger needs `pip install 'ganbench[mlflow]'`")
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps its file store behind this switch
    return MlflowClient(tracking_uri=uri)


def test_mlflow_logs_one_run_per_seed_grouped_by_suite_and_cell(tmp_path, registry, mlflow_store):
    assert train(tmp_path, registry, BASE, ["mlflow"], seeds=2).counts == {"complete": 2}
    experiment = mlflow_store.get_experiment_by_name("tracked")
    runs = {r.data.tags["ganbench.run_id"]: r for r in mlflow_store.search_runs([experiment.experiment_id])}
    dirs = run_dirs(tmp_path)
    assert sorted(runs) == [d.name for d in dirs]
    assert len({r.data.tags["ganbench.cell_key"] for r in runs.values()}) == 1  # one cell, two seeds
    assert sorted(r.data.tags["ganbench.seed"] for r in runs.values()) == ["0", "1"]
    for run_dir in dirs:
        record = json.loads((run_dir / "run.json").read_text())
        run = runs[run_dir.name]
        assert run.info.run_id == record["trackers"]["mlflow"]["id"] and run.info.status == "FINISHED"
        assert run.data.params["optimizer.lr"] == str(record["config"]["optimizer"]["lr"])
        assert run.data.params["architecture.name"] == "dcgan" and run.data.tags["ganbench.status"] == "complete"
        history = pd.read_csv(run_dir / "history.csv")
        d_loss = mlflow_store.get_metric_history(run.info.run_id, "d_loss")
        assert [m.step for m in d_loss][:3] == [2, 4, 6]  # then the final value, at the last step
        assert [m.value for m in d_loss][:3] == pytest.approx(list(history["d_loss"]))
        modes = mlflow_store.get_metric_history(run.info.run_id, "modes_covered")
        assert modes[0].step == 6 and run.data.metrics["modes_covered"] == pytest.approx(record["metrics"]["modes_covered"])
        images = [a.path for a in mlflow_store.list_artifacts(run.info.run_id, "images")]
        assert any("samples+step+3+" in p for p in images) and any("samples+step+6+" in p for p in images)
        kept = {a.path for a in mlflow_store.list_artifacts(run.info.run_id, "run")}
        assert {"run/run.json", "run/history.csv", "run/G.pt", "run/grids"} <= kept


def test_mlflow_resume_continues_the_same_run(tmp_path, mlflow_store):
    registry = registry_with_test_plugins()
    base = {**RESUMED, "callbacks": [{"name": "stop-once", "marker": str(tmp_path / "stopped")}]}
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, registry, base, ["mlflow"])
    (killed,) = mlflow_store.search_runs([mlflow_store.get_experiment_by_name("tracked").experiment_id])
    assert killed.info.status == "KILLED" and killed.data.tags["ganbench.status"] == "interrupted"
    assert train(tmp_path, registry, base, ["mlflow"]).counts == {"complete": 1}
    (run,) = mlflow_store.search_runs([mlflow_store.get_experiment_by_name("tracked").experiment_id])
    assert run.info.run_id == killed.info.run_id and run.info.status == "FINISHED"
    assert [m.step for m in mlflow_store.get_metric_history(run.info.run_id, "g_loss")] == [2, 4, 6, 8, 8]  # rows, then the final


# ---------------------------------------------------------------- failures


def test_a_failing_tracker_is_one_warning_and_the_run_goes_on(tmp_path, monkeypatch, capfd):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)  # MLflow 3 refuses its file store: mlflow fails when made
    Flaky.rows = 0
    registry = registry_with_test_plugins()
    assert train(tmp_path, registry, TINY_BASE, ["mlflow", "flaky"]).counts == {"complete": 1}
    (run_dir,) = run_dirs(tmp_path)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["logger_errors"]["mlflow"].startswith("start: MlflowException")
    assert record["logger_errors"]["flaky"] == "log_row: ConnectionError: tracker unreachable"
    assert Flaky.rows == 2  # switched off after its failure: not called for the third row
    err = capfd.readouterr().err
    assert err.count("warning: logger flaky failed") == 1 and err.count("warning: logger mlflow failed") == 1
    assert len(pd.read_csv(run_dir / "history.csv")) == 3  # the run's own history is whole


def test_an_essential_logger_that_raises_still_fails_its_run(tmp_path):
    Flaky.rows = 0
    registry = registry_with_test_plugins()
    Flaky.essential = True
    try:
        outcome = train(tmp_path, registry, TINY_BASE, ["flaky"])
    finally:
        Flaky.essential = False
    assert outcome.counts == {"failed": 1}


def test_a_tracker_whose_library_is_missing_is_refused_before_any_run(tmp_path):
    from ganbench.runner import SuiteInvalid

    class Missing(Flaky):
        LIBRARY = "no_such_tracker_library"

    module = types.ModuleType("missing_tracker")
    module.register_loggers = hookimpl(lambda register: register("missing", Missing))
    registry = make_registry(module)
    with pytest.raises(SuiteInvalid, match=r"logger missing needs no_such_tracker_library: pip install 'ganbench\[missing\]'"):
        train(tmp_path, registry, TINY_BASE, ["missing"])
    assert not (tmp_path / "results").exists()


def test_history_csv_is_what_pandas_writes():
    """history.csv is written without pandas (a worker's ~0.4 s of imports) and reads back
    as pandas wrote it: sparse rows, gaps, NaN, inf, integer columns with a gap or a float,
    flags, text needing quotes."""
    import math

    import numpy as np

    from ganbench.loggers import history_csv

    rows = [
        {"step": 2, "d_loss": 0.1 + 0.2, "g_loss": 3, "epoch": 0},
        {"step": 4, "d_loss": float("nan"), "g_loss": 2.5, "epoch": 0, "fid_domain": 12.25, "note": "a, b"},
        {"step": 6, "d_loss": -1e-12, "epoch": 1, "fid_domain": float("inf"), "best": True, "evals": 2},
        {"step": 8, "d_loss": math.pi, "g_loss": None, "epoch": 1, "evals": 3, "note": 'say "x"'},
        # what an augment's log may hand over: numpy scalars, a NaN among them
        {"step": 10, "d_loss": np.float32(0.1), "g_loss": np.float32("nan"), "evals": np.int64(4), "p_aug": np.float64(0.25)},
    ]
    assert history_csv(rows) == pd.DataFrame(rows).to_csv(index=False)
