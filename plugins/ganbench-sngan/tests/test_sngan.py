"""The plugin's own tests, run with ganbench's test kit (the ganbench_* fixtures)."""

import math
import subprocess
import sys

import pytest
import torch
from ganbench_sngan.architectures import sngan_cnn
from ganbench_sngan.datasets import swissroll
from ganbench_sngan.losses import RSGAN, RaGAN, RaLSGAN

from ganbench.contracts import DataSpec

LOAD = """
import sys
import ganbench_sngan.plugin
from ganbench.plugins import modules_registry
registry = modules_registry([ganbench_sngan.plugin], builtins=False)
assert not registry.broken and "sngan-cnn" in registry.names("architecture"), registry.broken
print(sorted(m for m in ("torch", "sklearn") if m in sys.modules))
"""


def test_loading_the_plugin_imports_neither_torch_nor_sklearn():
    """`ganbench plugins` and `ganbench run --dry-run` load every installed plugin: its
    registrations must stay cheap (torch and scikit-learn are imported when used)."""
    out = subprocess.run([sys.executable, "-c", LOAD], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_registers_everything(ganbench_registry):
    assert "sngan-cnn" in ganbench_registry.names("architecture")
    assert {"rsgan", "ragan", "ralsgan"} <= set(ganbench_registry.names("loss"))
    assert "swissroll" in ganbench_registry.names("dataset")


@pytest.mark.parametrize("loss", ["rsgan", "ragan", "ralsgan"])
def test_each_loss_trains_the_sngan_cnn(ganbench_smoke, ganbench_tiny_images, loss):
    result = ganbench_smoke({"name": "sngan-cnn", "width": 8}, loss, ganbench_tiny_images)
    assert result.samples.shape[1:] == (1, 16, 16)


def test_relativistic_loss_on_swissroll_with_the_builtin_mlp(ganbench_smoke):
    result = ganbench_smoke(
        {"name": "mlp", "g_hidden": [32], "d_hidden": [32]}, "ragan", {"name": "swissroll", "n_train": 256, "n_test": 64}
    )
    assert result.samples.shape[1:] == (2,)


def test_discriminator_matches_the_paper_at_32x32():
    # SNGAN Table 3 (b): conv 3x3 64, 4x4 64, 3x3 128, 4x4 128, 3x3 256, 4x4 256, 3x3 512, dense.
    # Counted by hand with biases: 1,792 + 65,600 + 73,856 + 262,272 + 295,168
    # + 1,048,832 + 1,180,160 + 8,193 (dense from 512*4*4).
    d = sngan_cnn(DataSpec((3, 32, 32), "image"), 128).discriminator
    assert sum(p.numel() for p in d.parameters()) == 2_935_873
    widths = [m.out_channels for m in d.trunk if isinstance(m, torch.nn.Conv2d)]
    assert widths == [64, 64, 128, 128, 256, 256, 512]


def test_spectral_norm_bounds_each_layer():
    d = sngan_cnn(DataSpec((1, 28, 28), "image"), 16, width=8).discriminator
    d.train()
    for _ in range(30):  # power iterations converge while D runs in train mode
        d(torch.randn(4, 1, 28, 28))
    conv = d.trunk[0]
    sigma = torch.linalg.matrix_norm(conv.weight.flatten(1), ord=2)
    assert sigma.item() == pytest.approx(1.0, abs=0.05)
    plain = sngan_cnn(DataSpec((1, 28, 28), "image"), 16, width=8, spectral=False).discriminator
    assert not any("parametrizations" in n for n, _ in plain.named_parameters())


def test_rejects_sizes_it_cannot_build():
    with pytest.raises(ValueError, match="sngan-cnn builds images"):
        sngan_cnn(DataSpec((1, 20, 20), "image"), 16)


def test_relativistic_losses_on_a_hand_checked_case():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0])
    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731
    # RSGAN pairs: real - fake = [2, -1]
    assert RSGAN().d_loss(real, fake).item() == pytest.approx((softplus(-2) + softplus(1)) / 2)
    # RaGAN: real - mean(fake) = [1.5, -0.5]; fake - mean(real) = [-1, 0]
    want = (softplus(-1.5) + softplus(0.5)) / 2 + (softplus(-1) + softplus(0)) / 2
    assert RaGAN().d_loss(real, fake).item() == pytest.approx(want)
    # RaLSGAN: ((1.5-1)^2 + (-0.5-1)^2)/2 + ((-1+1)^2 + (0+1)^2)/2
    assert RaLSGAN().d_loss(real, fake).item() == pytest.approx((0.25 + 2.25) / 2 + 0.5)
    # the generator's loss is D's with the roles swapped
    assert RaGAN().g_loss(fake, real).item() == pytest.approx(RaGAN().d_loss(fake, real).item())
    assert RaGAN.g_needs_real and RSGAN.g_needs_real


def test_swissroll_is_standardized_and_deterministic():
    a, b = swissroll(n_train=500, n_test=100), swissroll(n_train=500, n_test=100)
    assert a.train.shape == (500, 2) and a.test.shape == (100, 2) and a.kind == "points"
    assert torch.equal(a.train, b.train)
    assert a.train.mean(0).abs().max() < 1e-5 and (a.train.std(0) - 1).abs().max() < 1e-5
