"""Transforms of D's inputs (ganbench.augment): DiffAugment is differentiable (gradients
reach G through it) and its transforms are per sample but reproducible from the run's
stream; the step applies the augment to real and fake alike, before every D call; ADA's p
rises while D's real scores say it overfits (r_t above its target) and stays at 0 while
they do not; a run without augment computes what it always did (tests/test_engine_pins.py)."""

from __future__ import annotations

import pytest
import torch

from ganbench.augment import Augment, make_augment
from ganbench.build import Builder, seed_everything
from ganbench.builtin.augment_ops import translate
from ganbench.config import ConfigError, resolve
from ganbench.contracts import GanData
from ganbench.engine import RunSpec, train_spec
from ganbench.engine.rng import global_state
from ganbench.plugins import Entry
from ganbench.testing import make_registry

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def registry():
    torch.set_num_threads(1)
    return make_registry()


@pytest.mark.parametrize("spec", [{"name": "diffaugment"}, {"name": "ada", "p": 0.8}])
def test_augments_are_differentiable_and_per_sample(spec, registry):
    augment = make_augment(resolve([("t", {"augment": spec, "steps": 1})], registry)["augment"], registry)
    x = (torch.rand(6, 3, 16, 16) * 2 - 1).requires_grad_(True)
    torch.manual_seed(0)
    out = augment(x)
    assert out.shape == x.shape
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # G learns through the transform
    same = x.detach()[:1].expand(6, -1, -1, -1)
    torch.manual_seed(1)
    varied = augment(same)
    assert not all(torch.equal(varied[0], varied[i]) for i in range(1, 6))  # each sample its own parameters
    torch.manual_seed(1)
    assert torch.equal(augment(same), varied)  # from the run's stream: reproducible


def test_translation_moves_whole_pixels_and_lets_zeros_in():
    x = torch.arange(16.0).view(1, 1, 4, 4) + 1
    torch.manual_seed(3)
    out = translate(x, 0.5)
    values = set(out.flatten().tolist()) - {0.0}
    assert values <= set(x.flatten().tolist()) and (out == 0).any() or torch.equal(out, x)


class Counting(Augment):
    """Counts the batches it is applied to, and the real scores it observes."""

    def __init__(self):
        self.calls, self.observed = [], 0

    def __call__(self, x):
        self.calls.append(len(x))
        return x * 1.0

    def observe(self, real_scores):
        self.observed += 1


def test_the_step_augments_real_and_fake_before_every_d_call(registry, tmp_path):
    cfg = resolve(
        [
            (
                "t",
                {
                    "dataset": "digits",
                    "architecture": {"name": "dcgan", "ngf": 4, "ndf": 4},
                    "batch_size": 8,
                    "z_dim": 8,
                    "n_disc": 2,
                    "steps": 3,
                    "log_every": "3 steps",
                    "grid_every": "none",
                    "eval": {"every": "none"},
                },
            )
        ],
        registry,
    )
    builder = Builder(registry)
    data = builder.data(cfg["dataset"])
    seed_everything(0)
    models = builder.models(cfg, data)
    augment = Counting()
    train_spec(RunSpec(cfg, models, builder.loss(cfg), tmp_path, rng=global_state(CPU), augment=augment), data, CPU)
    # per step: 2 D updates x (real, fake) + G's update (fake) = 5 batches, each of 8
    assert augment.calls == [8] * 15 and augment.observed == 6


def test_ada_moves_p_by_d_overfitting_signal():
    ada = make_augment({"name": "ada", "target": 0.6, "interval": 4, "speed_img": 1000}, make_registry())
    for _ in range(40):  # D calls 90% of the real images real: r_t = 0.8 > 0.6
        ada.observe(torch.tensor([1.0] * 9 + [-1.0]))
    assert ada.log()["ada_rt"] == pytest.approx(0.8)
    assert ada.log()["ada_p"] == pytest.approx(40 * 10 / 1000)  # +images / speed_img at every adjustment
    for _ in range(80):  # r_t = 0.2 < 0.6: p goes back down, and stops at 0
        ada.observe(torch.tensor([1.0] * 6 + [-1.0] * 4))
    assert ada.log()["ada_p"] == 0.0


def _run_with_ada(registry, tmp_path, n_images: int, lr_ratio: float) -> list[dict]:
    full = Builder(registry).data({"name": "digits", "image_size": 16})
    data = GanData(full.train[:n_images], "image", full.train_labels[:n_images], full.test, full.test_labels, num_classes=10)
    registry.entries["dataset"]["subset"] = Entry("subset", "dataset", lambda: data, "tests", "tests", "")
    cfg = resolve(
        [
            (
                "t",
                {
                    "dataset": "subset",
                    "architecture": {"name": "dcgan", "ngf": 8, "ndf": 8},
                    "batch_size": 16,
                    "z_dim": 16,
                    "lr_ratio": lr_ratio,
                    "steps": 120,
                    "log_every": "40 steps",
                    "grid_every": "none",
                    "eval": {"every": "none"},
                    "augment": {"name": "ada", "speed_img": 10000},
                },
            )
        ],
        registry,
    )
    builder = Builder(registry)
    seed_everything(0)
    models = builder.models(cfg, data)
    augment = make_augment(cfg["augment"], registry)
    return train_spec(RunSpec(cfg, models, builder.loss(cfg), tmp_path, rng=global_state(CPU), augment=augment), data, CPU).history


def test_ada_raises_p_when_d_overfits_a_tiny_set_and_keeps_it_at_0_when_d_does_not(registry, tmp_path):
    """16 training images and D at G's learning rate: D calls nearly every real image real
    (measured r_t = 1.0) and p climbs; 1,597 images and a D at 1/50 of G's rate: r_t stays
    negative (measured -0.97 to -0.81) and p never leaves 0. (At this scale a D as strong as
    G separates even all 1,597 digits from the untrained G's samples within 100 steps: the
    contrast ADA's paper reports between dataset sizes needs far longer training.)"""
    tiny = _run_with_ada(registry, tmp_path / "tiny", 16, 1.0)
    assert all(r["ada_rt"] > 0.6 for r in tiny) and tiny[-1]["ada_p"] > 0.1
    assert [r["ada_p"] for r in tiny] == sorted(r["ada_p"] for r in tiny)
    starved = _run_with_ada(registry, tmp_path / "large", 1597, 0.02)
    assert all(r["ada_rt"] < 0.6 for r in starved) and all(r["ada_p"] == 0.0 for r in starved)


def test_an_unknown_augment_or_policy_is_refused(registry):
    with pytest.raises(ConfigError, match="unknown augment 'difaugment'.*did you mean 'diffaugment'"):
        resolve([("t", {"augment": {"name": "difaugment"}, "steps": 1})], registry)
    cfg = resolve([("t", {"augment": {"name": "diffaugment", "policy": "color,zoom"}, "steps": 1})], registry)
    with pytest.raises(ValueError, match="policy must be distinct names among color, translation, cutout"):
        make_augment(cfg["augment"], registry)
