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
from ganbench.executors import Executor
from ganbench.job import Finished, train_run
from ganbench.runner import run_suite
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
    for cls in (DropsLast, PullsTwoAndQuits, Crashes):
        register(cls.name, cls)


@hookimpl
def register_callbacks(register):
    register("c-hijack", Hijack)


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
