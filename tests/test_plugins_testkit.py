"""The plugin authors' test kit catches contract violations (and passes good plugins)."""

import types

import pytest
import torch
from torch import nn

from ganbench import hookimpl
from ganbench.contracts import Discriminator, Loss, Models
from ganbench.testing import make_registry, smoke_train, tiny_data


class FlatD(Discriminator):
    def __init__(self, size):
        super().__init__()
        self.trunk, self.head = nn.Flatten(), nn.Linear(size, 1)

    def features(self, x):
        return self.trunk(x)


def arch(scale=1.0, extra=0):
    """An architecture whose G's output is `scale` x tanh, with `extra` wrong pixels."""

    def build(data, z_dim):
        n = 1
        for s in data.shape:
            n *= s
        g = nn.Sequential(nn.Linear(z_dim, n + extra), nn.Tanh())
        shape = (data.shape[0], n + extra) if extra else data.shape
        return Models(nn.Sequential(g, _Scale(scale), nn.Unflatten(1, shape)), FlatD(n))

    return build


class _Scale(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s

    def forward(self, x):
        return x * self.s


class NaNLoss(Loss):
    def d_loss(self, real_scores, fake_scores):
        return real_scores.mean() * float("nan")

    def g_loss(self, fake_scores, real_scores=None):
        return -fake_scores.mean()


def plugin():
    module = types.ModuleType("kit_plugin")

    @hookimpl
    def register_architectures(register):
        register("ok", arch())
        register("too-bright", arch(scale=3.0))
        register("wrong-shape", arch(extra=5))

    @hookimpl
    def register_losses(register):
        register("nan", NaNLoss)

    module.register_architectures, module.register_losses = register_architectures, register_losses
    return module


@pytest.fixture(scope="module")
def registry():
    return make_registry(plugin())


def test_a_good_plugin_passes(registry):
    result = smoke_train("ok", "hinge", tiny_data(), registry, steps=2)
    assert result.samples.shape == (16, 1, 16, 16) and result.scores.shape == (16,)
    assert len(result.history) == 2 and all(torch.isfinite(torch.tensor(r["d_loss"])) for r in result.history)


@pytest.mark.parametrize(
    "architecture, loss, message",
    [
        ("wrong-shape", "vanilla", "generator made samples of shape"),
        ("too-bright", "vanilla", r"must lie in \[-1, 1\]"),
        ("ok", "nan", "losses stopped being finite at step 1"),
    ],
)
def test_contract_violations_fail_with_a_clear_message(registry, architecture, loss, message):
    with pytest.raises(AssertionError, match=message):
        smoke_train(architecture, loss, tiny_data(), registry, steps=2)


def test_fixtures_register_the_plugins_under_test(ganbench_registry, ganbench_tiny_points, ganbench_smoke):
    # with the default (empty) ganbench_plugins: the built-ins only, never other installed plugins
    assert {e.dist for kind in ("architecture", "loss", "dataset") for e in ganbench_registry.entries[kind].values()} == {"ganbench"}
    assert ganbench_tiny_points.train.shape == (96, 2)
    assert ganbench_smoke({"name": "mlp", "g_hidden": [8], "d_hidden": [8]}, "lsgan", ganbench_tiny_points).samples.shape == (16, 2)


def test_a_broken_plugin_under_test_is_reported_with_its_reason():
    module = types.ModuleType("kit_broken")

    @hookimpl
    def register_losses(register):
        register("x", 42)

    module.register_losses = register_losses
    with pytest.raises(AssertionError, match="factory 42 is not callable"):
        make_registry(module)


# ---------------------------------------------------------------- ganbench_run: plugins that act in a run


def run_kinds_plugin():
    """A callback, a metric, a logger and an executor, as a plugin author writes them."""
    import dataclasses

    from ganbench.build import Builder
    from ganbench.callbacks import Callback
    from ganbench.executors import Executor
    from ganbench.job import Finished, train_run
    from ganbench.loggers import Logger
    from ganbench.metrics.plugin import Metric

    module = types.ModuleType("kit_run_plugin")

    class CountG(Callback):
        def __init__(self):
            self.g = 0

        def after_g_step(self, loop, step):
            self.g += 1

        def finish(self, loop, out_dir):
            return {"g_steps": self.g}

    class Spread(Metric):
        directions = {"kit_spread": "none"}
        kinds = ("points",)

        def __call__(self, samples, ctx):
            return {"kit_spread": float(samples.std())}

    class Lines(Logger):
        def log_row(self, row):
            with open(self.run_dir / "lines.txt", "a") as f:
                f.write(f"{row['step']}\n")

        def finished(self, record):
            with open(self.run_dir / "lines.txt", "a") as f:
                f.write(f"{record['status']}\n")

    class Serial(Executor):
        name = "kit-serial"
        in_process = True

        def run(self, jobs, report):
            builder = Builder(self.options.registry)
            for job in jobs:
                job = dataclasses.replace(job, device="cpu", execution=self.execution())
                report(Finished(job.run_id, train_run(job, builder, report)))

    class Forgetful(Serial):
        name = "kit-forgetful"

        def run(self, jobs, report):
            for job in jobs:  # trains nothing, reports nothing: every run is lost
                pass

    @hookimpl
    def register_callbacks(register):
        register("kit-count-g", CountG)

    @hookimpl
    def register_metrics(register):
        register("kit-spread", Spread)

    @hookimpl
    def register_loggers(register):
        register("kit-lines", Lines)

    @hookimpl
    def register_executors(register):
        register("kit-serial", Serial)
        register("kit-forgetful", Forgetful)

    for name, value in list(locals().items()):
        if name.startswith("register_"):
            setattr(module, name, value)
    return module


KIT = run_kinds_plugin()


class TestGanbenchRun:
    @pytest.fixture
    def ganbench_plugins(self):  # what a plugin's conftest.py overrides: its plugin modules
        return [KIT]

    def test_it_trains_callbacks_metrics_loggers_and_executors_in_a_run(self, ganbench_run):
        result = ganbench_run(
            seeds=2,
            callbacks=["kit-count-g"],
            eval={"every": "2 steps", "metrics": {"kit-spread": {}}},
            loggers=["kit-lines"],
            executor="kit-serial",
        )
        assert result.outcome.counts == {"complete": 2}
        for record, folder in zip(result.records, result.folders):
            assert record["callbacks"]["kit-count-g"] == {"g_steps": 4}
            assert record["metrics"]["kit_spread"] > 0 and record["env"]["executor"] == "kit-serial"
            assert (folder / "lines.txt").read_text().split() == ["2", "4", "complete"]

    def test_it_says_when_an_executor_loses_runs(self, ganbench_run):
        with pytest.raises(AssertionError, match="ended failed, not complete: lost by executor kit-forgetful"):
            ganbench_run(executor="kit-forgetful")
