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
