"""Every hook of ganbench/hookspecs.py, exercised by a plugin (this module) through the
real registry and runner; and a guard that a new hook cannot land without such a test."""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys

import pandas as pd
import torch
from rich.console import Console
from torch import nn

from ganbench import hookimpl, hookspecs
from ganbench.augment import Augment
from ganbench.build import Builder
from ganbench.callbacks import Callback
from ganbench.contracts import Discriminator, GanData, Loss, Models
from ganbench.executors import Executor
from ganbench.job import Finished, train_run
from ganbench.loggers import Logger
from ganbench.metrics.plugin import Metric as MetricPlugin
from ganbench.runner import run_suite
from ganbench.suite import expand
from ganbench.testing import make_registry, smoke_train

THIS = sys.modules[__name__]


def test_every_hook_has_a_test_of_its_own():
    hooks = {name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "ganbench_spec")}
    tests = {name for name in dir(THIS) if name.startswith("test_hook_")}
    assert {f"test_hook_{h}" for h in hooks} <= tests, f"hooks without a test: {sorted(hooks - {t[10:] for t in tests})}"


# ---------------------------------------------------------------- the plugin


class TinyD(Discriminator):
    def __init__(self, n: int):
        super().__init__()
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(n, 8), nn.LeakyReLU(0.2))
        self.head = nn.Linear(8, 1)

    def features(self, x):  # (B, *shape) -> (B, 8)
        return self.trunk(x)


def tiny_pair(data, z_dim: int, width: int = 8) -> Models:
    n = int(torch.tensor(data.shape).prod())
    g = nn.Sequential(nn.Linear(z_dim, width), nn.ReLU(), nn.Linear(width, n), nn.Unflatten(1, data.shape))
    return Models(g, TinyD(n))


def two_points(n: int = 128) -> GanData:
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 2
    x = torch.stack([y * 2.0 - 1, torch.zeros(n)], 1) + 0.05 * torch.randn(n, 2, generator=g)  # (N, 2)
    return GanData(x, "points", y, num_classes=2)


class Squared(Loss):
    def d_loss(self, real_scores, fake_scores):
        return ((real_scores - 1) ** 2).mean() + (fake_scores**2).mean()

    def g_loss(self, fake_scores, real_scores=None):
        return ((fake_scores - 1) ** 2).mean()


class Serial(Executor):
    name = "test-serial"
    in_process = True

    @property
    def capacity(self):
        return 1

    def run(self, jobs, report):
        builder = Builder(self.options.registry)
        for job in jobs:
            job = dataclasses.replace(job, device="cpu", execution=self.execution())
            report(Finished(job.run_id, train_run(job, builder, report)))


class Collect(Logger):
    rows: list = []

    def log_row(self, row):
        Collect.rows.append((self.record["id"], dict(row)))


@hookimpl
def register_architectures(register):
    register("test-tiny-pair", tiny_pair)


@hookimpl
def register_datasets(register):
    register("test-two-points", two_points)


@hookimpl
def register_losses(register):
    register("test-squared", Squared)


@hookimpl
def register_executors(register):
    register("test-serial", Serial)


@hookimpl
def register_loggers(register):
    register("test-collect", Collect)


class CountSteps(Callback):
    def __init__(self):
        self.d, self.g = 0, 0

    def after_d_step(self, loop, step):
        self.d += 1

    def after_g_step(self, loop, step):
        self.g += 1

    def finish(self, loop, out_dir):
        return {"counted": {"d": self.d, "g": self.g}}


@hookimpl
def register_callbacks(register):
    register("test-count-steps", CountSteps)


# ---------------------------------------------------------------- one test per hook

SUITE = {
    "name": "hooks",
    "base": {
        "dataset": "test-two-points",
        "architecture": "test-tiny-pair",
        "loss": "test-squared",
        "batch_size": 16,
        "z_dim": 4,
        "steps": 4,
        "log_every": "2 steps",
        "eval": {"every": "none"},
    },
}


def run_it(tmp_path, **kw):
    registry = make_registry(THIS)
    suite = expand(SUITE, registry)
    outcome = run_suite(suite, registry, tmp_path, "cpu", console=Console(quiet=True), **kw)
    (run_dir,) = (tmp_path / "hooks").glob("[!.]*")
    return outcome, json.loads((run_dir / "run.json").read_text()), run_dir


def test_hook_register_architectures():
    result = smoke_train("test-tiny-pair", "vanilla", two_points(), make_registry(THIS), steps=2)
    assert isinstance(result.models.discriminator, TinyD) and result.samples.shape == (16, 2)


def test_hook_register_datasets(tmp_path):
    outcome, record, _ = run_it(tmp_path)
    assert outcome.counts == {"complete": 1} and record["config"]["dataset"] == {"name": "test-two-points"}
    assert record["env"]["plugins"]["test_hooks"] == "?"  # the plugin's distribution is recorded


def test_hook_register_losses():
    result = smoke_train("mlp", "test-squared", two_points(), make_registry(THIS), steps=2)
    assert isinstance(result.loss, Squared)


def test_hook_register_executors(tmp_path):
    outcome, record, _ = run_it(tmp_path, executor="test-serial")
    assert outcome.counts == {"complete": 1} and record["env"]["executor"] == "test-serial"


def test_hook_register_loggers(tmp_path):
    Collect.rows = []
    outcome, record, run_dir = run_it(tmp_path, loggers=["test-collect"])
    assert outcome.counts == {"complete": 1}
    history = pd.read_csv(run_dir / "history.csv")
    assert [row["step"] for _, row in Collect.rows] == list(history["step"]) == [2, 4]
    assert {run_id for run_id, _ in Collect.rows} == {record["id"]}


def test_hook_register_callbacks(tmp_path):
    registry = make_registry(THIS)
    suite = expand({**SUITE, "base": {**SUITE["base"], "n_disc": 2, "callbacks": ["test-count-steps"]}}, registry)
    run_suite(suite, registry, tmp_path, "cpu", console=Console(quiet=True))
    (run_dir,) = (tmp_path / "hooks").glob("[!.]*")
    record = json.loads((run_dir / "run.json").read_text())
    assert record["config"]["callbacks"] == [{"name": "test-count-steps"}]
    assert record["callbacks"]["test-count-steps"]["counted"] == {"d": 8, "g": 4}  # 4 steps of 2 D updates and 1 G update


class MeanOffset(MetricPlugin):
    """Distance between the means of the samples and of the training rows."""

    directions = {"test_mean_offset": "lower"}
    kinds = ("points",)

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def protocol(self, ctx):
        return {"scale": self.scale}

    def __call__(self, samples, ctx):
        return {"test_mean_offset": self.scale * float((samples.mean(0) - ctx.data.train.mean(0)).norm())}


@hookimpl
def register_metrics(register):
    register("test-mean-offset", MeanOffset)


def test_hook_register_metrics(tmp_path):

    registry = make_registry(THIS)
    base = {**SUITE["base"], "eval": {"every": "2 steps", "metrics": {"test-mean-offset": {"scale": 2}}}}
    suite = expand({**SUITE, "base": base}, registry)
    run_suite(suite, registry, tmp_path, "cpu", console=Console(quiet=True))
    (run_dir,) = (tmp_path / "hooks").glob("[!.]*")
    record = json.loads((run_dir / "run.json").read_text())
    assert record["config"]["eval"]["metrics"] == {"test-mean-offset": {"scale": 2.0}}
    assert record["protocol"]["test-mean-offset.scale"] == 2.0
    assert record["metrics"]["test_mean_offset"] > 0
    assert len(pd.read_csv(run_dir / "history.csv")["test_mean_offset"].dropna()) == 2  # steps 2 and 4
    assert registry.metric_directions()["test_mean_offset"] == "lower"


class HalfContrast(Augment):
    """Halves every input's contrast and logs how many batches it saw."""

    def __init__(self, factor: float = 0.5):
        self.factor, self.seen = factor, 0

    def __call__(self, x):
        self.seen += 1
        return x * self.factor

    def log(self):
        return {"test_augmented": float(self.seen)}


@hookimpl
def register_augments(register):
    register("test-half-contrast", HalfContrast)


def test_hook_register_augments(tmp_path):
    registry = make_registry(THIS)
    suite = expand({**SUITE, "base": {**SUITE["base"], "augment": {"name": "test-half-contrast", "factor": 0.25}}}, registry)
    run_suite(suite, registry, tmp_path, "cpu", console=Console(quiet=True))
    (run_dir,) = (tmp_path / "hooks").glob("[!.]*")
    record = json.loads((run_dir / "run.json").read_text())
    assert record["config"]["augment"] == {"name": "test-half-contrast", "factor": 0.25}
    history = pd.read_csv(run_dir / "history.csv")
    assert list(history["test_augmented"]) == [3.0 * row for row in history["step"]]  # real + fake + G's fake each step
