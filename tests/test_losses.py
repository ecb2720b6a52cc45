"""The built-in losses: their math on hand-checked values, and a few real training steps."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganbench.build import Builder
from ganbench.builtin.losses import LSGAN, WGANGP, Hinge, Vanilla
from ganbench.config import ConfigError, merge, resolve
from ganbench.contracts import Discriminator
from ganbench.engine import train
from ganbench.plugins import load_registry

LOSSES = ["vanilla", "lsgan", "wgan-gp", "hinge"]


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def t(*values):
    return torch.tensor(values, dtype=torch.float32)


# ---------------------------------------------------------------- the math


def test_vanilla_is_binary_cross_entropy_on_logits():
    loss = Vanilla()
    assert loss.d_loss(t(0.0), t(0.0)).item() == pytest.approx(2 * math.log(2))
    # D(x) = sigmoid(3), D(G(z)) = sigmoid(-1): -log D(x) - log(1 - D(G(z)))
    sig = lambda s: 1 / (1 + math.exp(-s))
    assert loss.d_loss(t(3.0), t(-1.0)).item() == pytest.approx(-math.log(sig(3)) - math.log(1 - sig(-1)), rel=1e-6)
    assert loss.g_loss(t(-1.0)).item() == pytest.approx(-math.log(sig(-1)), rel=1e-6)  # -log D(G(z))
    minimax = Vanilla("minimax")
    assert minimax.g_loss(t(-1.0)).item() == pytest.approx(math.log(1 - sig(-1)), rel=1e-6)  # log(1 - D(G(z)))


def test_minimax_saturates_where_non_saturating_does_not():
    # D confidently rejects the fakes (score -10): the paper's minimax G loss gives G
    # almost no gradient, the non-saturating one a gradient near 1 (Goodfellow et al. 2014, sec. 3)
    for kind, expected in (("non-saturating", -1.0), ("minimax", -torch.sigmoid(t(-10.0)).item())):
        s = t(-10.0).requires_grad_(True)
        Vanilla(kind).g_loss(s).backward()
        assert s.grad.item() == pytest.approx(expected, rel=1e-3)


def test_lsgan_least_squares_with_0_1_1_coding():
    loss = LSGAN()
    assert loss.d_loss(t(1.0, 1.0), t(0.0, 0.0)).item() == 0.0  # D at its targets
    assert loss.d_loss(t(0.0), t(1.0)).item() == pytest.approx(1.0)  # 0.5*1 + 0.5*1
    assert loss.g_loss(t(1.0)).item() == 0.0 and loss.g_loss(t(0.0)).item() == pytest.approx(0.5)
    assert LSGAN(a=-1, b=1, c=0).g_loss(t(0.0)).item() == 0.0  # the -1-1-0 coding
    with pytest.raises(ValueError, match="different targets"):
        LSGAN(a=1, b=1)


def test_hinge_margins():
    loss = Hinge()
    assert loss.d_loss(t(2.0), t(-3.0)).item() == 0.0  # beyond both margins
    assert loss.d_loss(t(0.0), t(0.0)).item() == pytest.approx(2.0)
    assert loss.d_loss(t(0.5), t(-0.25)).item() == pytest.approx(0.5 + 0.75)
    assert loss.g_loss(t(1.0, 3.0)).item() == pytest.approx(-2.0)


def test_wgan_critic_loss_is_the_difference_of_means():
    loss = WGANGP()
    assert loss.d_loss(t(3.0, 5.0), t(1.0, -1.0)).item() == pytest.approx(0.0 - 4.0)
    assert loss.g_loss(t(1.0, -1.0, 3.0)).item() == pytest.approx(-1.0)


class LinearCritic(Discriminator):
    """D(x) = w . flatten(x): its gradient is w everywhere, so ||grad|| = ||w|| exactly."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.trunk, self.head = nn.Flatten(), nn.Linear(w.numel(), 1, bias=False)
        with torch.no_grad():
            self.head.weight.copy_(w.reshape(1, -1))

    def features(self, x):
        return self.trunk(x)


def test_wgan_gp_penalty_on_a_linear_critic():
    w = t(2.0, 0.0, 1.0, 2.0)  # ||w|| = 3
    critic = LinearCritic(w)
    real, fake = torch.randn(8, 1, 2, 2), torch.randn(8, 1, 2, 2)
    penalty = WGANGP().penalty(critic, real, fake)
    assert penalty.item() == pytest.approx(10 * (3 - 1) ** 2)  # 40, for every interpolate
    # d/dw 10 (||w|| - 1)^2 = 20 (||w|| - 1) w / ||w||: the critic is pushed towards ||w|| = 1
    penalty.backward()
    assert torch.allclose(critic.head.weight.grad.flatten(), 20 * (3 - 1) * w / 3, atol=1e-5)
    unit = LinearCritic(w / 3)  # 1-Lipschitz with unit gradient: no penalty
    assert WGANGP().penalty(unit, real, fake).item() == pytest.approx(0.0, abs=1e-10)
    assert WGANGP(gp_weight=2.5).penalty(critic, real, fake).item() == pytest.approx(10.0)


class QuadraticCritic(Discriminator):
    """D(x) = ||x||^2 / 2: grad = x, so each sample's gradient norm is its own norm."""

    def __init__(self):
        super().__init__()
        self.head = nn.Identity()

    def features(self, x):
        return 0.5 * (x.flatten(1) ** 2).sum(1)


def test_wgan_gp_penalty_is_per_sample_at_the_interpolates():
    # real == fake: every interpolate is the sample itself, whatever eps is drawn
    x = torch.stack([torch.full((2, 2), v) for v in (0.5, 1.0, 2.0)])[:, None]  # norms 1, 2, 4
    penalty = WGANGP().penalty(QuadraticCritic(), x, x.clone())
    assert penalty.item() == pytest.approx(10 * ((1 - 1) ** 2 + (2 - 1) ** 2 + (4 - 1) ** 2) / 3)


def test_every_loss_defines_d_accuracy(registry):
    for name in LOSSES:
        loss = registry.get("loss", name).factory()
        # LSGAN's reals sit near 1 and fakes near 0; the others' reals high and fakes low.
        real, fake = (t(0.9, 1.1, 0.8), t(0.1, -0.1, 0.2)) if name == "lsgan" else (t(3.0, 4.0, 5.0), t(-3.0, -2.0, -1.0))
        acc_real, acc_fake = loss.accuracy(real, fake)
        assert (acc_real.item(), acc_fake.item()) == (1.0, 1.0), name
        acc_real, acc_fake = loss.accuracy(fake, real)  # D has it backwards
        assert (acc_real.item(), acc_fake.item()) == (0.0, 0.0), name


def test_wgan_accuracy_ignores_the_critics_arbitrary_offset():
    loss = WGANGP()
    real, fake = t(10.0, 12.0, 9.0), t(8.0, 11.0, 7.0)  # all positive, yet mostly separated
    base = [a.item() for a in loss.accuracy(real, fake)]
    assert base == [pytest.approx(2 / 3), pytest.approx(2 / 3)]
    assert [a.item() for a in loss.accuracy(real - 100, fake - 100)] == base


@pytest.mark.parametrize(
    "options,key",
    [
        ({"name": "vanilla", "generator_loss": "saturating"}, "loss.generator_loss"),
        ({"name": "wgan-gp", "gp_weight": "ten"}, "loss.gp_weight"),
        ({"name": "hinge", "margin": 2}, "loss.margin"),
    ],
)
def test_bad_loss_options_are_refused(registry, options, key):
    with pytest.raises(ConfigError, match=key.replace(".", "\\.")):
        resolve([("test", {"steps": 1, "loss": options})], registry)


# ---------------------------------------------------------------- real training steps

TINY = {
    "steps": 3,
    "batch_size": 16,
    "z_dim": 16,
    "log_every": "1 steps",
    "grid_every": "none",
    "eval": {"every": "none"},
}
TINY_ARCH = {
    "dcgan": {"name": "dcgan", "ngf": 8, "ndf": 8},
    "mlp": {"name": "mlp", "g_hidden": [32, 64], "d_hidden": [32, 16]},
}
TRAIN_CASES = [(arch, loss, "mnist5k") for arch in ("mlp", "dcgan") for loss in LOSSES] + [
    ("mlp", "wgan-gp", "ring8"),
    ("mlp", "vanilla", "grid25"),
]


@pytest.fixture(scope="module")
def builder(registry):
    return Builder(registry)


@pytest.mark.parametrize("arch,loss_name,dataset", TRAIN_CASES, ids=[f"{a}-{loss}-{d}" for a, loss, d in TRAIN_CASES])
def test_a_few_training_steps(registry, builder, tmp_path, arch, loss_name, dataset):
    cfg = resolve([("test", merge(TINY, {"architecture": TINY_ARCH[arch], "loss": loss_name, "dataset": dataset}))], registry)
    torch.manual_seed(0)
    data = builder.data(cfg["dataset"])
    models, loss = builder.models(cfg, data), builder.loss(cfg)
    before = [p.detach().clone() for p in models.generator.parameters()]
    result = train(cfg, data, models, loss, torch.device("cpu"), tmp_path)
    assert result.status == "complete"
    assert [row["step"] for row in result.history] == [1, 2, 3]
    for row in result.history:
        assert math.isfinite(row["d_loss"]) and math.isfinite(row["g_loss"])
        assert 0 <= row["d_acc_real"] <= 1 and 0 <= row["d_acc_fake"] <= 1
    after = list(models.generator.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after))  # G learned something
