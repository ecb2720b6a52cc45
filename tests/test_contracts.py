"""Contracts that cannot lie (issue 26): every run handed out is accounted for, what plugins
add to run.json cannot overwrite it, a dying plugin fails its run with a reason, claims
are judged by who really holds them. Each test is a defect that once passed silently.

The plugin is this module (a tiny pair on two 2-D blobs: a run takes ~0.1 s), registered
in-process; the runs go through the real scheduler.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import pytest
import torch
from rich.console import Console
from torch import nn

from ganbench import hookimpl
from ganbench.build import Builder
from ganbench.callbacks import Callback
from ganbench.contracts import Discriminator, GanData, Models
from ganbench.executors import Executor, ExecutorError
from ganbench.job import Finished, train_run
from ganbench.loggers import Logger
from ganbench.metrics.plugin import Metric
from ganbench.runner import SuiteInvalid, run_suite
from ganbench.suite import expand
from ganbench.testing import make_registry

THIS = sys.modules[__name__]


# ---------------------------------------------------------------- the plugin


class TinyD(Discriminator):
    def __init__(self, n: int):
        super().__init__()
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(n, 8), nn.LeakyReLU(0.2))
        self.head = nn.Linear(8, 1)

    def features(self, x):  # (B, *shape) -> (B, 8)
        return self.trunk(x)


class ExitsG(nn.Module):
    """A generator that calls os._exit(0) at its first training forward (a careless plugin)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, z):
        if self.training:
            os._exit(0)
        return self.inner(z)


def tiny_pair(data, z_dim: int, width: int = 8, exits: bool = False) -> Models:
    n = int(torch.tensor(data.shape).prod())
    g = nn.Sequential(nn.Linear(z_dim, width), nn.ReLU(), nn.Linear(width, n), nn.Unflatten(1, data.shape))
    return Models(ExitsG(g) if exits else g, TinyD(n))


def blobs(n: int = 128) -> GanData:
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 2
    x = torch.stack([y * 2.0 - 1, torch.zeros(n)], 1) + 0.05 * torch.randn(n, 2, generator=g)  # (N, 2)
    return GanData(x, "points", y, num_classes=2)


class _InProcess(Executor):
    in_process = True

    @property
    def capacity(self):
        return 1

    def train(self, job, report):
        job = dataclasses.replace(job, device="cpu", execution=self.execution())
        return Finished(job.run_id, train_run(job, self.options.builder or Builder(self.options.registry), report))


class Serial(_InProcess):
    name = "c-serial"

    def run(self, jobs, report):
        for job in jobs:
            report(self.train(job, report))


class DropsLast(_InProcess):
    """Trains every job but never reports the last one's Finished."""

    name = "drops-last"

    def run(self, jobs, report):
        jobs = list(jobs)
        for job in jobs:
            finished = self.train(job, report)
            if job is not jobs[-1]:
                report(finished)


class PullsTwoAndQuits(_InProcess):
    """Pulls two jobs (claiming their runs) and returns without training them."""

    name = "pulls-two"

    def run(self, jobs, report):
        next(jobs), next(jobs)


class Crashes(_InProcess):
    """Pulls a job and raises: a bug in an executor plugin."""

    name = "crashes"

    def run(self, jobs, report):
        next(jobs)
        raise RuntimeError("the cluster went away")


class Picky(Serial):
    """Takes executor options; refuses one value in its constructor, as a SLURM executor
    refuses a partition that does not exist."""

    name = "c-picky"
    executor_options = {"partition": "debug", "slots": 1}

    def __init__(self, options):
        super().__init__(options)
        if options.extra["partition"] == "nope":
            raise ValueError("no partition 'nope' on this cluster")


class NeedsToken(Logger):
    """A logger for a service: without its token it cannot work, and says so up front."""

    @classmethod
    def check(cls):
        if not os.environ.get("C_TOKEN"):
            raise RuntimeError("set C_TOKEN to log to the service")

    def log_row(self, row):
        pass


class Events(Logger):
    """Remembers what it was told, in order."""

    seen: list = []

    def started(self, record):
        Events.seen.append(("started", record["id"], record["env"]["device"], record["params_g"]))

    def log_row(self, row):
        Events.seen.append(("row", row["step"]))

    def finished(self, record):
        Events.seen.append(("finished", record["status"], record.get("error")))

    def close(self):
        Events.seen.append(("close",))


class Offset(Metric):
    directions = {"c_offset": "lower"}
    ranges = {"c_offset": (0.0, None)}
    kinds = ("points",)

    def __init__(self, policy: str = "mean"):
        if policy not in ("mean", "median"):
            raise ValueError(f"policy must be mean or median, got {policy!r}")
        self.policy = policy

    def __call__(self, samples, ctx):
        centre = samples.mean(0) if self.policy == "mean" else samples.median(0).values
        return {"c_offset": float((centre - ctx.data.train.mean(0)).norm())}


class Raises(Callback):
    def after_g_step(self, loop, step):
        raise RuntimeError(f"step {step} went wrong")


class FailsOnce(Callback):
    """Fails its run at step 3 while armed: a fault after the checkpoint at step 2."""

    armed = False

    def after_g_step(self, loop, step):
        if FailsOnce.armed and step == 3:
            raise RuntimeError("a fault at step 3")


class Flaky(Metric):
    """Raises at the final evaluation while armed: a metric plugin's bug."""

    directions = {"c_flaky": "lower"}
    kinds = ("points",)
    armed = False

    def __call__(self, samples, ctx):
        if Flaky.armed and ctx.final:
            raise RuntimeError("the metric's library broke")
        return {"c_flaky": float(samples.std())}


class Hijack(Callback):
    """Returns keys that name run.json's own fields."""

    def finish(self, loop, out_dir):
        return {"status": "hacked", "seed": 99, "steps_seen": 4}


@hookimpl
def register_architectures(register):
    register("c-tiny", tiny_pair)


@hookimpl
def register_datasets(register):
    register("c-blobs", blobs)


@hookimpl
def register_executors(register):
    for cls in (DropsLast, PullsTwoAndQuits, Crashes, Picky):
        register(cls.name, cls)


@hookimpl
def register_loggers(register):
    register("c-needs-token", NeedsToken)
    register("c-events", Events)


@hookimpl
def register_metrics(register):
    register("c-offset", Offset)
    register("c-flaky", Flaky)


@hookimpl
def register_callbacks(register):
    register("c-hijack", Hijack)
    register("c-raises", Raises)
    register("c-fails-once", FailsOnce)


SUITE = {
    "name": "c",
    "base": {
        "dataset": "c-blobs",
        "architecture": "c-tiny",
        "batch_size": 16,
        "z_dim": 4,
        "steps": 4,
        "log_every": "2 steps",
        "eval": {"every": "none"},
    },
}


@pytest.fixture
def registry():
    return make_registry(THIS)


def suite_of(registry, seeds=1, **base):
    return expand({**SUITE, "base": {**SUITE["base"], **base}, "seeds": seeds}, registry)


def go(registry, results, suite=None, **kw):
    suite = suite or suite_of(registry)
    return run_suite(suite, registry, results, "cpu", console=Console(quiet=True), **kw)


def records(results: Path) -> dict[str, dict]:
    return {p.name: json.loads((p / "run.json").read_text()) for p in (results / "c").glob("[!.]*")}


# ---------------------------------------------------------------- every run handed out is accounted for


def test_a_run_the_executor_never_reports_is_failed_as_lost(tmp_path, registry):
    outcome = go(registry, tmp_path, suite_of(registry, seeds=3), executor="drops-last")
    assert outcome.counts == {"complete": 2, "failed": 1} and outcome.exit_code == 1
    (lost,) = [r for r in records(tmp_path).values() if r["status"] == "failed"]
    assert lost["error"] == "lost by executor drops-last: it returned without reporting the run finished"


def test_runs_pulled_and_dropped_are_lost_not_nothing_to_run(tmp_path, registry):
    outcome = go(registry, tmp_path, suite_of(registry, seeds=3), executor="pulls-two")
    assert outcome.counts == {"failed": 2} and outcome.exit_code == 1
    assert "returned before starting 1 of the runs" in outcome.stopped
    assert all(r["error"].startswith("lost by executor pulls-two") for r in records(tmp_path).values())
    assert not list((tmp_path / "c" / ".claims").glob("*.json"))  # every claim released


def test_an_executor_that_raises_loses_its_runs_and_stops_the_suite(tmp_path, registry):
    outcome = go(registry, tmp_path, executor="crashes")
    assert outcome.counts == {"failed": 1} and outcome.exit_code == 1
    assert outcome.stopped == "executor crashes failed: RuntimeError: the cluster went away"
    ((run_id, lost),) = records(tmp_path).items()
    assert lost["error"] == "lost by executor crashes: it raised RuntimeError: the cluster went away"
    assert "the cluster went away" in (tmp_path / "c" / run_id / "traceback.txt").read_text()


# ---------------------------------------------------------------- what plugins add cannot overwrite the record


def test_a_callback_cannot_overwrite_the_runs_record(tmp_path, registry):
    # {"status": "hacked", "seed": 99} once made the CLI print "1 hacked" and `status` show it
    outcome = go(registry, tmp_path, suite_of(registry, callbacks=["c-hijack", {"name": "ema", "decay": 0.5}]))
    assert outcome.counts == {"complete": 1}
    (record,) = records(tmp_path).values()
    assert record["status"] == "complete" and record["seed"] == 0
    assert record["callbacks"]["c-hijack"] == {"steps_seen": 4}  # namespaced; the reserved keys refused
    assert any("c-hijack: returned 'status', a field of run.json" in n for n in record["notes"])
    # the scored generator is still named where `ganbench eval` and the report read it
    assert record["generator_file"] == "G_ema.pt" == record["callbacks"]["ema"]["generator_file"]
    assert record["generator"] == "ema(decay=0.5, start=0)"


# ---------------------------------------------------------------- checked up front: exit 2, nothing written


@pytest.mark.parametrize(
    "kw, fragment",
    [
        ({"loggers": ["c-needs-token"]}, "--logger c-needs-token: RuntimeError: set C_TOKEN to log to the service"),
        ({"base": {"callbacks": [{"name": "ema", "decay": 2}]}}, "callbacks[0] ema: ValueError: ema: decay must be in (0, 1), got 2"),
        (
            {"base": {"eval": {"every": "2 steps", "metrics": {"c-offset": {"policy": "zoom"}}}}},
            "eval.metrics: ValueError: policy must be mean or median",
        ),
    ],
)
def test_plugin_options_and_dependencies_are_checked_before_anything_is_written(tmp_path, registry, monkeypatch, kw, fragment):
    # each of these once failed every run of the suite, one after another
    monkeypatch.delenv("C_TOKEN", raising=False)
    suite = suite_of(registry, **kw.get("base", {}))
    with pytest.raises(SuiteInvalid) as e:
        go(registry, tmp_path / "r", suite, loggers=kw.get("loggers", ()))
    assert fragment in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "r").exists()


def test_tensorboard_missing_is_refused_up_front(tmp_path, registry, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if TensorBoard were not installed
    with pytest.raises(SuiteInvalid, match="--logger tensorboard: RuntimeError: the tensorboard logger needs TensorBoard"):
        go(registry, tmp_path / "r", loggers=["tensorboard"])
    assert not (tmp_path / "r").exists()


def test_executor_options_are_declared_checked_and_recorded(tmp_path, registry):
    for given, fragment in (
        ({"partiton": "gpu"}, "--executor-option partiton: not an option of executor c-picky (did you mean 'partition'?)"),
        ({"slots": "two"}, "--executor-option slots: must be a int"),
        ({"partition": "nope"}, "--executor c-picky: ValueError: no partition 'nope' on this cluster"),
        ({"x": 1}, "not an option of executor local"),
    ):
        with pytest.raises(ExecutorError) as e:
            go(registry, tmp_path / "r", executor="local" if "x" in given else "c-picky", executor_options=given)
        assert fragment in str(e.value), str(e.value)
        assert not (tmp_path / "r").exists()
    outcome = go(registry, tmp_path / "r", executor="c-picky", executor_options={"partition": "gpu"})
    assert outcome.counts == {"complete": 1}
    (record,) = records(tmp_path / "r").values()
    assert record["env"]["executor_options"] == {"partition": "gpu", "slots": 1}  # the defaults filled in


def test_a_gpu_scale_suite_on_the_cpu_is_warned_about_with_an_estimate(tmp_path, registry):
    # `--profile none` once started 46,850-step runs on a CPU, ~14 h for the suite, without a word
    from ganbench import estimate

    console = Console(record=True, width=300)
    long = suite_of(registry, seeds=2, steps=50_000_000)
    estimate.warn_costs(long.runs, Builder(registry), ["cpu"], tmp_path, 1, console, ["cpu"], "none")
    text = console.export_text()
    assert "warning: on the CPU these runs need about" in text and "2 runs of up to 50,000,000 steps" in text
    assert "--profile cpu" in text and "--set steps=N" in text
    seconds, _ = estimate.cpu_estimate(suite_of(registry, seeds=2).runs, Builder(registry))
    assert seconds == 0.0  # a short suite is not even timed
    console = Console(record=True, width=300)
    estimate.warn_costs(long.runs, Builder(registry), ["cuda:0"], tmp_path, 1, console, ["cpu"], "none")
    assert "on the CPU" not in console.export_text()


def test_a_disk_too_small_for_the_checkpoints_is_warned_about_with_their_size(tmp_path, registry, monkeypatch):
    from ganbench import estimate

    monkeypatch.setattr(estimate, "_free_bytes", lambda results: 1_000)
    console = Console(record=True, width=300)
    outcome = run_suite(suite_of(registry), registry, tmp_path, "cpu", console=console)
    assert outcome.counts == {"complete": 1}  # a warning, not a refusal
    text = console.export_text()
    assert f"warning: {tmp_path} has 1 KB free" in text and "checkpoint each, written beside the previous one" in text
    assert "checkpoint_every: none" in text
    # a tiny pair: (G 4*8+8 + 8*2+2, D 2*8+8 + 8+1) = 91 values, x3 for Adam's two slots
    (need, how) = estimate.disk_need(suite_of(registry).runs, estimate._models(suite_of(registry).runs, Builder(registry)), 1)
    assert need == (2 * 3 * 91 + 91) * 4 and "a 1.09 KB checkpoint" in how


# ---------------------------------------------------------------- the plugin contract, as documented


def test_loggers_hear_when_the_run_starts_and_how_it_ended(tmp_path, registry):
    Events.seen = []
    go(registry, tmp_path / "a", loggers=["c-events"])
    (record,) = records(tmp_path / "a").values()
    assert Events.seen == [
        ("started", record["id"], "cpu", record["params_g"]),
        ("row", 2),
        ("row", 4),
        ("finished", "complete", None),
        ("close",),
    ]
    Events.seen = []
    go(registry, tmp_path / "b", suite_of(registry, callbacks=["c-raises"]), loggers=["c-events"])
    assert Events.seen == [
        ("started", Events.seen[0][1], "cpu", Events.seen[0][3]),
        ("finished", "failed", "RuntimeError: step 1 went wrong"),
        ("close",),
    ]


# ---------------------------------------------------------------- recoverable failures


def test_a_checkpoint_of_another_model_is_moved_aside_and_the_run_starts_over(tmp_path, registry):
    from ganbench import checkpoint

    suite = suite_of(registry)
    (run,) = suite.runs
    dead = tmp_path / "c" / f".{run.id}.tmp-otherhost-1-dead"  # a killed attempt's folder
    (dead / "grids").mkdir(parents=True)
    wide = tiny_pair(blobs().spec, 4, width=16)  # another width: its G and D do not fit
    state = {"step": 2, "history": [], "G": wide.generator.state_dict(), "D": wide.discriminator.state_dict()}
    checkpoint.save(dead, {**state, "opt_g": {}, "sched": [], "batches": {}, "rng": {}})
    console = Console(record=True, width=400)
    outcome = run_suite(suite, registry, tmp_path, "cpu", console=console)
    assert outcome.counts == {"complete": 1}  # once: failed, and again on every plain run after
    said = console.export_text()
    assert f"{run.id}: its checkpoint cannot be resumed from (its G does not fit this run's model (size mismatch for" in said
    assert "training it from the start" in said and "resuming" not in said
    (kept,) = (tmp_path / "c" / ".damaged").glob(f"{run.id}-*")
    assert (kept / "checkpoint.pt").is_file() and "size mismatch" in (kept / "why.txt").read_text()
    assert "resumed_from_step" not in records(tmp_path)[run.id]


def test_rerun_with_a_run_id_redoes_that_run_only(tmp_path, registry):
    suite = suite_of(registry, seeds=3)
    go(registry, tmp_path, suite)
    before = {k: r["finished"] for k, r in records(tmp_path).items()}
    first, second, third = (r.id for r in suite.runs)
    outcome = go(registry, tmp_path, suite, rerun=second)
    assert outcome.counts == {"complete": 1} and outcome.skipped == 2
    assert go(registry, tmp_path, suite, rerun="s2-*").counts == {"complete": 1}  # a glob
    after = records(tmp_path)
    assert after[first]["finished"] == before[first]  # untouched
    with pytest.raises(SuiteInvalid, match=r"--rerun s7: matches none of the suite's 3 runs"):
        go(registry, tmp_path, suite, rerun="s7")


# ---------------------------------------------------------------- small things a plugin author hit


def test_a_raw_pickle_weights_file_is_one_clear_line_without_torchs_warning(tmp_path):
    import pickle
    import warnings

    from ganbench.store import WeightsError, load_weights

    (tmp_path / "G.pt").write_bytes(pickle.dumps({"net.0.weight": [1.0]}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(WeightsError) as e:
            load_weights(tmp_path / "G.pt")
    assert "not a torch archive: truncated, or a raw pickle" in str(e.value)
    assert not caught  # torch's "Detected pickle protocol 4" was the first line on stderr


def test_a_checkpoint_that_does_not_fit_says_what_does_not_fit(registry):
    from ganbench.checkpoint import CheckpointError
    from ganbench.engine.state import Clock, RunState

    narrow, wide = tiny_pair(blobs().spec, 4), tiny_pair(blobs().spec, 4, width=16)
    state = RunState({"G": narrow.generator}, Clock())
    with pytest.raises(CheckpointError) as e:
        state.load_state_dict({**state.state_dict(), "G": wide.generator.state_dict()})  # a checkpoint of a wider G
    # the message once stopped at "Error(s) in loading state_dict for Sequential:"
    assert "size mismatch for 0.weight" in str(e.value) and "--rerun" not in str(e.value)


def test_a_run_keeps_one_checkpoint_resuming_from_the_furthest(tmp_path, registry, monkeypatch):
    import shutil

    suite = suite_of(registry, callbacks=["c-fails-once"], checkpoint_every="2 steps")
    (run,) = suite.runs
    monkeypatch.setattr(FailsOnce, "armed", True)
    assert go(registry, tmp_path, suite).counts == {"failed": 1}
    failed = tmp_path / "c" / run.id  # holds its checkpoint at step 2
    older = tmp_path / "c" / f".{run.id}.tmp-otherhost-1-dead"  # a killed attempt's, further back
    shutil.copytree(failed, older)
    (older / "checkpoint.json").write_text(json.dumps({"step": 1}))
    monkeypatch.setattr(FailsOnce, "armed", False)
    assert go(registry, tmp_path, suite).counts == {"complete": 1}
    assert records(tmp_path)[run.id]["resumed_from_step"] == 2
    assert not list((tmp_path / "c").glob(f".{run.id}.tmp-*"))  # the older checkpoint is gone, not kept beside


def test_a_metric_that_raises_keeps_the_trained_run_and_eval_scores_it_later(tmp_path, registry, monkeypatch):
    # it once failed the whole run, its training lost
    from ganbench.rescore import rescore_run

    monkeypatch.setattr(Flaky, "armed", True)
    suite = suite_of(registry, eval={"every": "2 steps", "metrics": {"c-flaky": {}, "c-offset": {}}})
    assert go(registry, tmp_path, suite).counts == {"complete": 1}
    ((run_id, record),) = records(tmp_path).items()
    run_dir = tmp_path / "c" / run_id
    assert record["metric_failures"] == {"c-flaky": "RuntimeError: the metric's library broke (at step 4)"}
    assert "c_flaky" not in record["metrics"] and record["metrics"]["c_offset"] >= 0  # the others are kept
    assert any(n.startswith("metric c-flaky failed at step 4") and "ganbench eval" in n for n in record["notes"])
    assert (run_dir / "G.pt").is_file() and (run_dir / "history.csv").is_file()
    monkeypatch.setattr(Flaky, "armed", False)  # the plugin fixed
    out = rescore_run(run_dir, Builder(registry), torch.device("cpu"))
    again = json.loads((run_dir / "run.json").read_text())
    assert out["failed"] == {} and again["metrics"]["c_flaky"] > 0 and "metric_failures" not in again
    assert again["metrics"]["c_offset"] == record["metrics"]["c_offset"]  # same protocol, same number


def _hand_runs(root: Path, values: list[float], protocol=None, notes=None, metrics_named=True) -> None:
    from report_fixtures import ADAM, PROTOCOL, write_run

    for seed, v in enumerate(values):
        proto = {**PROTOCOL, **(protocol(seed) if protocol else {})}
        d = write_run(root, f"adam_s{seed}-0000000{seed}", ADAM, seed, fid=10.0 + seed, extra={"c_offset": v}, protocol=proto, notes=notes)
        record = json.loads((d / "run.json").read_text())
        if metrics_named:
            record["config"]["eval"] = {"every": "10 steps", "metrics": {"c-offset": {}}}
        (d / "run.json").write_text(json.dumps(record))


@pytest.fixture
def installed(registry):
    """The report reads what metric plugins declare from the registry it is given: this module's."""
    return registry


def test_a_metric_plugins_declared_range_clips_its_intervals_and_it_shows_by_default(tmp_path, installed):
    from ganbench.report import build_report

    _hand_runs(tmp_path, [0.01, 0.02, 0.9])  # t interval of the mean: about [-1.2, 1.5]
    rep = build_report(tmp_path / "hand", registry=installed)
    (cell,) = rep.cells.to_dict("records")
    assert cell["c_offset.ci_low"] == 0.0 and cell["c_offset.ci_high"] > 1  # a distance is never negative
    assert "c_offset" in rep.clipped
    assert "c_offset" in rep.metrics  # named in eval.metrics: in the default table, after the quality metrics
    assert rep.metrics.index("c_offset") > rep.metrics.index("fid_domain")


def test_a_metric_plugins_declared_range_clips_its_training_curve_band(tmp_path, installed):
    """The ±1 std band of c_offset over training stays inside the plugin's [0, inf): a
    distance's band never dips below 0 (without the plugin's range it would, to -0.2)."""
    import pandas as pd

    from ganbench.report import build_report
    from ganbench.report.training_curves import metric_curves

    _hand_runs(tmp_path, [0.01, 0.02, 0.9])
    for d in (tmp_path / "hand").iterdir():
        history = pd.read_csv(d / "history.csv")
        history["c_offset"] = json.loads((d / "run.json").read_text())["metrics"]["c_offset"]
        history.to_csv(d / "history.csv", index=False)

    def band_low(report) -> float:
        (fig,) = [fig for caption, fig in metric_curves(report) if caption.startswith("c_offset vs")]
        bands = [c for ax in fig.axes for c in ax.collections if c.get_paths()]
        return min(float(p.vertices[:, 1].min()) for c in bands for p in c.get_paths())

    assert band_low(build_report(tmp_path / "hand", registry=installed)) == 0.0
    assert band_low(build_report(tmp_path / "hand", registry=make_registry())) < -0.1  # no plugin, no range


def test_the_report_ranks_by_a_plugin_metric_the_way_its_plugin_declares(tmp_path, installed):
    """c_offset is "lower" because the registry's metric plugin says so: --sort needs no
    direction, and --direction still overrides it."""
    from ganbench.report import build_report

    _hand_runs(tmp_path, [0.1, 0.2])
    assert build_report(tmp_path / "hand", registry=installed, sort="c_offset").sort == ("c_offset", "lower")
    overridden = build_report(tmp_path / "hand", registry=installed, sort="c_offset", directions={"c_offset": "higher"})
    assert overridden.sort == ("c_offset", "higher")


def test_a_plugin_metric_not_named_by_the_runs_stays_out_of_the_default_table(tmp_path, installed):
    from ganbench.report import build_report

    _hand_runs(tmp_path, [0.1, 0.2], metrics_named=False)
    assert "c_offset" not in build_report(tmp_path / "hand", registry=installed).metrics


def test_a_protocol_holding_each_runs_seed_is_refused_saying_why(tmp_path, installed):
    from ganbench.report import ReportError, build_report

    _hand_runs(tmp_path, [0.1, 0.2], protocol=lambda seed: {"c-offset.seed": seed})
    with pytest.raises(ReportError, match=r"c-offset.seed holds each run's own seed"):
        build_report(tmp_path / "hand", registry=installed)


def test_string_notes_in_a_hand_edited_run_json_are_one_note(tmp_path, installed):
    from ganbench.report import build_report

    _hand_runs(tmp_path, [0.1, 0.2], notes="measured on a laptop")
    assert build_report(tmp_path / "hand", registry=installed).notes[:1] == ["measured on a laptop"]  # not "m", "e", "a", ...


def test_declared_ranges_are_checked_when_a_metric_registers():
    from ganbench.metrics.plugin import metric_problem

    class Bad(Metric):
        directions = {"c_x": "lower"}
        kinds = ("points",)

    assert metric_problem(Offset, "c-offset") is None
    for ranges, fragment in (
        ({"c_y": (0, 1)}, "not a key the metric declares"),
        ({"c_x": (1, 0)}, "low <= high"),
        ({"c_x": 0}, "expected (low, high)"),
    ):
        Bad.ranges = ranges
        assert fragment in metric_problem(Bad, "c-bad")
