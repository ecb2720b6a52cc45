"""The training axes a suite varies do what they say: each test fails under a one-line bug.

lr_ratio (D's lr = G's lr x ratio), lr_decay (per epoch), n_disc (D updates per G update),
freeze_d (which of D's parameters train) and classifier pretraining (D's trunk learns the
labels) are read off the optimizers themselves (a global optimizer step hook), the history's
lr_g / lr_d columns and D's weights before and after. Tiny data, tiny models, no CLI.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from ganbench.build import Builder, seed_everything
from ganbench.config import resolve
from ganbench.contracts import GanData
from ganbench.engine import train
from ganbench.engine.pretrain import pretrain_discriminator
from ganbench.plugins import Entry
from ganbench.testing import SMOKE_DATASET, make_registry, tiny_data

LR = 1e-3
CPU = torch.device("cpu")


def build(data=None, **config):
    """(cfg, data, models, loss) exactly as a run builds them: tiny images, a tiny DCGAN."""
    registry = make_registry()
    given = data if data is not None else tiny_data("image", n=128, shape=(1, 16, 16))
    registry.entries["dataset"][SMOKE_DATASET] = Entry(SMOKE_DATASET, "dataset", lambda: given, "tests", "tests", "")
    layer = {
        "dataset": SMOKE_DATASET,
        "architecture": {"name": "dcgan", "ngf": 4, "ndf": 4},
        "batch_size": 16,
        "z_dim": 8,
        "optimizer": {"name": "adam", "lr": LR, "betas": [0.5, 0.999]},
        "log_every": "1 step",
        "grid_every": "none",
        "eval": {"every": "none"},
        **config,
    }
    if "epochs" not in layer:
        layer.setdefault("steps", 4)
    cfg = resolve([("test", layer)], registry)
    builder = Builder(registry)
    data = builder.data(cfg["dataset"])
    seed_everything(cfg["seed"])
    return cfg, data, builder.models(cfg, data), builder.loss(cfg)


class OptimizerSteps:
    """Every optimizer step of the training loop: (which model, its learning rate)."""

    def __init__(self, models):
        self.ids = {"G": {id(p) for p in models.generator.parameters()}, "D": {id(p) for p in models.discriminator.parameters()}}
        self.steps: list[tuple[str, float]] = []

    def __enter__(self):
        self.handle = register_optimizer_step_post_hook(self.record)
        return self

    def __exit__(self, *exc):
        self.handle.remove()

    def record(self, optimizer, args, kwargs):
        params = {id(p) for g in optimizer.param_groups for p in g["params"]}
        owner = next(name for name, ids in self.ids.items() if params <= ids)
        self.steps.append((owner, optimizer.param_groups[0]["lr"]))

    def lrs(self, owner: str) -> list[float]:
        return [lr for o, lr in self.steps if o == owner]


def run(tmp_path, **config):
    cfg, data, models, loss = build(**config)
    with OptimizerSteps(models) as seen:
        result = train(cfg, data, models, loss, CPU, tmp_path)
    assert result.status == "complete"
    return cfg, models, result.history, seen


@pytest.mark.parametrize("ratio", [4.0, 0.25])
def test_d_learning_rate_is_g_learning_rate_times_lr_ratio(tmp_path, ratio):
    _, _, history, seen = run(tmp_path, lr_ratio=ratio)
    assert seen.lrs("G") == pytest.approx([LR] * 4)
    assert seen.lrs("D") == pytest.approx([LR * ratio] * 4)  # what D's optimizer stepped with
    assert [r["lr_d"] for r in history] == pytest.approx([LR * ratio] * 4)  # and what the history says
    assert [r["lr_g"] for r in history] == pytest.approx([LR] * 4)


def test_lr_decay_multiplies_both_learning_rates_once_per_epoch(tmp_path):
    # 96 training images / batch 16 = 6 steps per epoch; 3 epochs
    _, _, history, seen = run(tmp_path, lr_decay=0.5, lr_ratio=2.0, epochs=3, log_every="1 epoch")
    assert seen.lrs("G") == pytest.approx([LR] * 6 + [LR / 2] * 6 + [LR / 4] * 6)
    assert seen.lrs("D") == pytest.approx([2 * LR] * 6 + [LR] * 6 + [LR / 2] * 6)
    # a row is logged after its epoch's decay: the rate the next epoch trains with
    assert [r["lr_g"] for r in history] == pytest.approx([LR / 2, LR / 4, LR / 8])
    assert [r["lr_d"] for r in history] == pytest.approx([LR, LR / 2, LR / 4])


@pytest.mark.parametrize("n_disc", [1, 3])
def test_n_disc_d_updates_before_each_g_update(tmp_path, n_disc):
    _, _, _, seen = run(tmp_path, n_disc=n_disc, steps=4)
    assert [o for o, _ in seen.steps] == (["D"] * n_disc + ["G"]) * 4


def _trunk_state(D) -> dict:
    return {k: v.clone() for k, v in D.state_dict().items() if not k.startswith("head.")}


def _head_state(D) -> dict:
    return {k: v.clone() for k, v in D.state_dict().items() if k.startswith("head.")}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("freeze", ["none", "trunk", "all"])
def test_freeze_d_trains_exactly_the_unfrozen_part(tmp_path, freeze):
    cfg, data, models, loss = build(freeze_d=freeze, steps=4)
    D, G = models.discriminator, models.generator
    trunk, head, g0 = _trunk_state(D), _head_state(D), copy.deepcopy(G.state_dict())
    assert any(k.endswith("running_mean") for k in trunk)  # BatchNorm statistics are part of the trunk's state
    with OptimizerSteps(models) as seen:
        train(cfg, data, models, loss, CPU, tmp_path)
    assert _same(trunk, _trunk_state(D)) == (freeze != "none")  # weights and BatchNorm statistics
    assert _same(head, _head_state(D)) == (freeze == "all")
    assert not _same(g0, G.state_dict())  # G trains in every case
    assert len(seen.lrs("D")) == (0 if freeze == "all" else 4)


def test_frozen_trunk_optimizer_holds_only_the_head(tmp_path):
    cfg, data, models, loss = build(freeze_d="trunk", steps=2)
    head = {id(p) for p in models.discriminator.head.parameters()}
    held = []
    handle = register_optimizer_step_post_hook(
        lambda opt, args, kwargs: held.append({id(p) for g in opt.param_groups for p in g["params"]})
    )
    try:
        train(cfg, data, models, loss, CPU, tmp_path)
    finally:
        handle.remove()
    d_sets = [s for s in held if s & {id(p) for p in models.discriminator.parameters()}]
    assert d_sets and all(s == head for s in d_sets)


def _class_separation(D, data) -> tuple[float, float]:
    """(between-class / within-class variance of D's features, held-out accuracy of a
    least-squares linear probe on them) for a labelled image dataset."""
    D.eval()
    with torch.no_grad():
        f = D.features(GanData.as_float(data.train)).flatten(1)
        ft = D.features(GanData.as_float(data.test)).flatten(1)
    k = int(data.num_classes)
    centred = f - f.mean(0)
    means = torch.stack([centred[data.train_labels == c].mean(0) for c in range(k)])
    between = (means**2).sum(1).mean()
    within = ((centred - means[data.train_labels]) ** 2).sum(1).mean()
    x = torch.cat([f, torch.ones(len(f), 1)], 1)
    w = torch.linalg.lstsq(x, torch.nn.functional.one_hot(data.train_labels, k).float()).solution
    pred = (torch.cat([ft, torch.ones(len(ft), 1)], 1) @ w).argmax(1)
    return float(between / within), float((pred == data.test_labels).float().mean())


def faint_pattern(n: int = 1600, amplitude: float = 8.0, seed: int = 0) -> GanData:
    """2 classes of 16x16 noise images (std 50) that differ only by a faint fixed pattern (+-8).

    Digits are separable by a linear probe on an *untrained* trunk's random features (~90%),
    so a probe there cannot tell whether pretraining did anything. Here the class signal is
    one direction of the 256-d input, buried in noise on every other: a random trunk's few
    features keep little of it, a trunk trained on the labels learns to keep exactly it.
    """
    g = torch.Generator().manual_seed(seed)
    pattern = torch.randint(0, 2, (1, 16, 16), generator=g).float() * 2 - 1
    y = torch.arange(n) % 2
    x = 128 + 50 * torch.randn(n, 1, 16, 16, generator=g) + amplitude * (2 * y - 1).float()[:, None, None, None] * pattern
    x = x.round().clamp(0, 255).to(torch.uint8)
    split = n * 3 // 4
    return GanData(x[:split], "image", y[:split], x[split:], y[split:], num_classes=2)


def test_classifier_pretraining_teaches_d_the_labels():
    """D's trunk, pretrained 100 steps as a classifier, separates the classes far better than
    it did untrained, and a linear probe on it is far above chance (50%) and above the
    untrained trunk's. Measured over seeds 0-2: separation 0.011-0.017 -> 0.060-0.070,
    probe 70-77% -> 85-89%."""
    cfg, data, models, loss = build(
        data=faint_pattern(),
        architecture={"name": "dcgan", "ngf": 4, "ndf": 1},
        batch_size=64,
        d_pretrain={"classifier": True, "steps": 100},
    )
    D = models.discriminator
    untrained = copy.deepcopy(D)
    head = _head_state(D)
    seconds = pretrain_discriminator(cfg, D, models.generator, loss, data, None, CPU)
    assert seconds > 0
    assert not _same(_trunk_state(untrained), _trunk_state(D))
    assert _same(head, _head_state(D))  # the classifier's head is temporary: D's own head is untouched
    separation_before, probe_before = _class_separation(untrained, data)
    separation_after, probe_after = _class_separation(D, data)
    assert separation_after > 2 * separation_before, (separation_before, separation_after)
    assert probe_after > max(0.8, probe_before + 0.05), (probe_before, probe_after)
