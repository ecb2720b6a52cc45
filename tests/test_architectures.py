"""The built-in architectures: reference sizes, the DCGAN rules, every supported shape."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganbench.builtin.architecture_modules import dcgan_layout
from ganbench.builtin.architectures import dcgan, mlp
from ganbench.config import ConfigError, resolve
from ganbench.contracts import DataSpec, Discriminator, Models
from ganbench.plugins import load_registry


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def layers(module: nn.Module, *types) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, types)]


# ---------------------------------------------------------------- references


def test_dcgan_64_matches_the_pytorch_tutorial_parameter_counts():
    models = dcgan(DataSpec((3, 64, 64), "image"), z_dim=100, ngf=64, ndf=64)
    assert count(models.generator) == 3_576_704
    assert count(models.discriminator) == 2_765_568


def test_mlp_matches_the_keras_example():
    # Keras' model.summary() for this example: G 1,489,936 trainable parameters
    # (BatchNorm moving statistics are buffers here, non-trainable there), D 533,505.
    models = mlp(DataSpec((1, 28, 28), "image"), z_dim=100)
    assert count(models.generator) == 1_489_936
    assert count(models.discriminator) == 533_505
    g_linear = [(m.in_features, m.out_features) for m in layers(models.generator, nn.Linear)]
    assert g_linear == [(100, 256), (256, 512), (512, 1024), (1024, 784)]
    d_linear = [(m.in_features, m.out_features) for m in layers(models.discriminator, nn.Linear)]
    assert d_linear == [(784, 512), (512, 256), (256, 1)]
    bns = layers(models.generator, nn.BatchNorm1d)
    assert [bn.momentum for bn in bns] == [0.2] * 3  # Keras momentum 0.8
    assert all(bn.eps == 1e-3 for bn in bns)
    assert [m.negative_slope for m in layers(models.generator, nn.LeakyReLU)] == [0.2] * 3
    assert isinstance(models.generator.net[-1], nn.Tanh)
    assert not layers(models.discriminator, nn.BatchNorm1d, nn.LayerNorm)
    # G's order per block: Dense -> LeakyReLU -> BatchNorm, as in the example
    kinds = [type(m) for m in models.generator.net[:3]]
    assert kinds == [nn.Linear, nn.LeakyReLU, nn.BatchNorm1d]


def test_dcgan_follows_the_paper_rules():
    models = dcgan(DataSpec((3, 64, 64), "image"), z_dim=100)
    g, d = models.generator, models.discriminator
    # no pooling, no fully connected layers
    assert not layers(g, nn.Linear, nn.MaxPool2d, nn.AvgPool2d)
    assert not layers(d, nn.Linear, nn.MaxPool2d, nn.AvgPool2d)
    # G: BatchNorm after every transposed conv but the output, ReLU, tanh output
    g_seq = list(g.net)
    convs = [i for i, m in enumerate(g_seq) if isinstance(m, nn.ConvTranspose2d)]
    for i in convs[:-1]:
        assert isinstance(g_seq[i + 1], nn.BatchNorm2d) and isinstance(g_seq[i + 2], nn.ReLU)
    assert isinstance(g_seq[convs[-1] + 1], nn.Tanh)
    # D: no BatchNorm on the input layer, BatchNorm then LeakyReLU(0.2) on the others
    d_seq = list(d.trunk)
    assert isinstance(d_seq[0], nn.Conv2d) and isinstance(d_seq[1], nn.LeakyReLU)
    assert len(layers(d, nn.BatchNorm2d)) == 3
    assert {m.negative_slope for m in layers(d, nn.LeakyReLU)} == {0.2}
    assert all(m.stride == (2, 2) for m in layers(d.trunk, nn.Conv2d))


@pytest.mark.parametrize("d_norm", ["batch", "spectral"])
def test_dcgan_initialisation(d_norm):
    torch.manual_seed(0)
    models = dcgan(DataSpec((3, 64, 64), "image"), z_dim=100, d_norm=d_norm)
    for net in (models.generator, models.discriminator):
        for m in layers(net, nn.Conv2d, nn.ConvTranspose2d):
            # spectral norm keeps the stored weight as `original`: that is what must start at N(0, 0.02)
            w = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            if w.numel() > 10_000:
                assert w.mean().abs() < 0.002 and abs(w.std().item() - 0.02) < 0.002
    bn = torch.cat([m.weight.detach() for m in layers(models.generator, nn.BatchNorm2d)])
    assert abs(bn.mean().item() - 1) < 0.005 and abs(bn.std().item() - 0.02) < 0.005


def test_d_norm_choices_change_the_critic():
    spec = DataSpec((1, 32, 32), "image")
    batch = dcgan(spec, 16, ngf=8, ndf=8, d_norm="batch").discriminator
    layer = dcgan(spec, 16, ngf=8, ndf=8, d_norm="layer").discriminator
    none = dcgan(spec, 16, ngf=8, ndf=8, d_norm="none").discriminator
    spectral = dcgan(spec, 16, ngf=8, ndf=8, d_norm="spectral").discriminator
    assert layers(batch, nn.BatchNorm2d) and not layers(batch, nn.GroupNorm)
    assert layers(layer, nn.GroupNorm) and not layers(layer, nn.BatchNorm2d)
    assert not layers(none, nn.BatchNorm2d, nn.GroupNorm)
    convs = layers(spectral, nn.Conv2d)
    assert convs and all(hasattr(m, "parametrizations") for m in convs)
    mlp_d = mlp(DataSpec((2,), "points"), 8, d_norm="batch").discriminator
    assert len(layers(mlp_d, nn.BatchNorm1d)) == 1  # none on the input layer


def test_layer_norm_critic_scores_each_sample_on_its_own():
    # what the gradient penalty relies on: a sample's score must not depend on its batch
    d = dcgan(DataSpec((1, 16, 16), "image"), 8, ngf=4, ndf=4, d_norm="layer").discriminator
    x = torch.randn(6, 1, 16, 16)
    assert torch.allclose(d(x)[:2], d(x[:2]), atol=1e-6)


# ---------------------------------------------------------------- every supported shape

SHAPES = [
    ("mlp", (1, 28, 28), "image"),
    ("mlp", (3, 32, 32), "image"),
    ("mlp", (1, 8, 8), "image"),
    ("mlp", (2,), "points"),
    ("mlp", (7,), "tabular"),
    ("dcgan", (1, 28, 28), "image"),
    ("dcgan", (3, 28, 28), "image"),
    ("dcgan", (1, 32, 32), "image"),
    ("dcgan", (3, 32, 32), "image"),
    ("dcgan", (3, 64, 64), "image"),
    ("dcgan", (1, 8, 8), "image"),
    ("dcgan", (3, 16, 16), "image"),
]
SMALL = {"mlp": {"g_hidden": [32, 64], "d_hidden": [32, 16]}, "dcgan": {"ngf": 8, "ndf": 8}}


@pytest.mark.parametrize("name,shape,kind", SHAPES, ids=[f"{a}-{k}-{'x'.join(map(str, s))}" for a, s, k in SHAPES])
def test_builds_and_maps_shapes(registry, name, shape, kind):
    torch.manual_seed(0)
    build = registry.get("architecture", name).factory
    models = build(DataSpec(shape, kind, 10), 16, **SMALL[name])
    assert isinstance(models, Models) and isinstance(models.discriminator, Discriminator)
    z = torch.randn(5, 16)
    fake = models.generator(z)
    assert fake.shape == (5, *shape) and torch.isfinite(fake).all()
    if kind == "image":  # tanh output, the range of the scaled data
        assert fake.min() >= -1 and fake.max() <= 1
    scores = models.discriminator(fake)
    assert scores.shape == (5,)
    feats = models.discriminator.features(fake)
    assert torch.allclose(models.discriminator.head(feats).reshape(5), scores)
    scores.sum().backward()  # gradients reach G through D
    assert all(p.grad is not None for p in models.generator.parameters())


def test_dcgan_refuses_what_it_cannot_build():
    with pytest.raises(ValueError, match="use mlp"):
        dcgan(DataSpec((2,), "points"), 8)
    with pytest.raises(ValueError, match="4\\*2\\^k"):
        dcgan(DataSpec((1, 30, 30), "image"), 8)
    with pytest.raises(ValueError, match="square"):
        dcgan(DataSpec((1, 32, 16), "image"), 8)
    assert dcgan_layout(28) == (7, 2) and dcgan_layout(64) == (4, 4) and dcgan_layout(8) == (4, 1)


# ---------------------------------------------------------------- options through the config


def resolve_one(registry, **cfg):
    return resolve([("test", {"steps": 1, **cfg})], registry)


@pytest.mark.parametrize(
    "architecture,key",
    [
        ({"name": "dcgan", "d_norm": "group"}, "architecture.d_norm"),
        ({"name": "dcgan", "ngf": 1.5}, "architecture.ngf"),
        ({"name": "dcgan", "width": 8}, "architecture.width"),
        ({"name": "mlp", "g_hidden": "256,512"}, "architecture.g_hidden"),
        ({"name": "mlp", "d_hidden": [512, "x"]}, "architecture.d_hidden"),
        ({"name": "mlp", "bn_momentum": "high"}, "architecture.bn_momentum"),
    ],
)
def test_bad_architecture_options_are_refused_before_anything_runs(registry, architecture, key):
    with pytest.raises(ConfigError) as e:
        resolve_one(registry, architecture=architecture)
    assert key in str(e.value)


def test_wgan_gp_gives_the_critic_layer_norm_unless_the_suite_says_otherwise(registry):
    cfg = resolve_one(registry, loss="wgan-gp", architecture={"name": "dcgan"})
    assert cfg["architecture"]["d_norm"] == "layer"
    assert cfg["n_disc"] == 5
    assert cfg["optimizer"] == {"name": "adam", "lr": 1e-4, "betas": [0.0, 0.9]}
    cfg = resolve_one(registry, loss="wgan-gp", architecture={"name": "dcgan", "d_norm": "spectral"}, n_disc=2)
    assert cfg["architecture"]["d_norm"] == "spectral" and cfg["n_disc"] == 2
    assert "d_norm" not in resolve_one(registry, loss="vanilla")["architecture"]  # DCGAN's own BatchNorm
