"""FLOPs per training step (ganbench.metrics.flops) against a hand count for the MLP GAN."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from ganbench.build import Builder
from ganbench.config import resolve
from ganbench.metrics import flops

CPU = torch.device("cpu")
B, Z, G_HIDDEN, D_HIDDEN, OUT = 4, 8, [16, 32], [32, 16], 2  # ring8: 2-D points


def _run(registry, **over):
    cfg = resolve(
        [
            (
                "t",
                {
                    "dataset": "ring8",
                    "architecture": {"name": "mlp", "g_hidden": G_HIDDEN, "d_hidden": D_HIDDEN},
                    "batch_size": B,
                    "z_dim": Z,
                    "steps": 1,
                    **over,
                },
            )
        ],
        registry,
    )
    builder = Builder(registry)
    models = builder.models(cfg, builder.data(cfg["dataset"]))
    return cfg, models, builder.loss(cfg)


def _linear(widths):  # forward FLOPs of a stack of Linear layers at batch B: 2 per multiply-add
    return sum(2 * B * a * b for a, b in zip(widths, widths[1:]))


def test_mlp_gan_step_matches_a_hand_count(registry):
    cfg, models, loss = _run(registry, g_step_fresh_fake=True)
    g_w, d_w = [Z, *G_HIDDEN, OUT], [OUT, *D_HIDDEN, 1]
    fg, fd = _linear(g_w), _linear(d_w)  # 2*4*(8*16 + 16*32 + 32*2) = 5,632; 2*4*(2*32 + 32*16 + 16) = 4,736
    first_g, first_d = 2 * B * g_w[0] * g_w[1], 2 * B * d_w[0] * d_w[1]  # no input gradient for a first layer whose input needs none
    # D update: G forward (no graph), D forward on real and fake, backward of both to D's
    # weights (2x forward) except the input gradient of D's first layer
    d_update = fg + 2 * fd + 2 * (2 * fd - first_d)
    # G update: G and D forward, backward through D for its input gradients only (no D
    # weight gradients in G's update: 1x forward) and through G except the latent's gradient
    g_update = fg + fd + fd + (2 * fg - first_g)
    state = {k: v.clone() for k, v in models.generator.state_dict().items()}
    rng = torch.get_rng_state()
    out = flops.count_step(cfg, models, loss, (OUT,), CPU)
    assert (out["g_forward"], out["d_forward"]) == (fg, fd)
    assert (out["d_update"], out["g_update"]) == (d_update, g_update)
    assert out[flops.PER_STEP] == d_update + g_update == 58_368  # 33,024 + 25,344
    # the run's models and random stream are untouched (BatchNorm statistics included)
    assert all(torch.equal(v, models.generator.state_dict()[k]) for k, v in state.items())
    assert torch.equal(rng, torch.get_rng_state())
    assert all(p.grad is None for p in models.discriminator.parameters())
    # the counter is FlopCounterMode's arithmetic: the same total where FlopCounterMode works
    with FlopCounterMode(display=False) as fcm:
        flops.d_update_fresh(models.generator, models.discriminator, torch.zeros(B, Z), torch.zeros(B, OUT), loss, False)
    assert fcm.get_total_flops() == d_update


def test_reused_fake_and_critic_steps(registry):
    cfg, models, loss = _run(registry, g_step_fresh_fake=False)
    out = flops.count_step(cfg, models, loss, (OUT,), CPU)
    assert out[flops.PER_STEP] == out["d_update"] + out["g_update"] - out["g_forward"]  # one G forward shared
    cfg, models, loss = _run(registry, loss="wgan-gp")  # its n_disc: 5, and a gradient penalty
    gp = flops.count_step(cfg, models, loss, (OUT,), CPU)
    assert gp["n_disc"] == 5 and gp[flops.PER_STEP] == 5 * gp["d_update"] + gp["g_update"] - gp["g_forward"]
    # the penalty's D forward on interpolates and its double backward cost more than a plain D update
    plain_cfg, plain_models, plain_loss = _run(registry)
    assert gp["d_update"] > flops.count_step(plain_cfg, plain_models, plain_loss, (OUT,), CPU)["d_update"]


@pytest.mark.parametrize("arch", ["dcgan"])
def test_a_conv_gan_counts_its_convolutions(registry, arch):
    cfg = resolve(
        [("t", {"dataset": "digits", "architecture": {"name": arch, "ngf": 8, "ndf": 8}, "batch_size": 2, "z_dim": 8, "steps": 1})],
        registry,
    )
    builder = Builder(registry)
    data = builder.data(cfg["dataset"])
    out = flops.count_step(cfg, builder.models(cfg, data), builder.loss(cfg), tuple(data.train.shape[1:]), CPU)
    assert out["g_forward"] > 0 and out["d_forward"] > 0 and out[flops.PER_STEP] > 3 * (out["g_forward"] + out["d_forward"])
