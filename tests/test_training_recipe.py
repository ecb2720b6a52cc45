"""Recipe options of the training loop: what each one changes, counted on the real loop."""

from __future__ import annotations

import pytest
import torch

from ganbench.build import Builder, seed_everything
from ganbench.config import resolve
from ganbench.testing import make_registry
from ganbench.train import train


def build(registry, **layer):
    cfg = resolve([("test", {"dataset": "ring8", "architecture": {"name": "mlp", "g_hidden": [16], "d_hidden": [16]},
                             "batch_size": 32, "z_dim": 4, "steps": 5, "log_every": "5 steps", "eval": {"every": "none"},
                             "grid_every": "none", **layer})], registry)
    builder = Builder(registry)
    data = builder.data(cfg["dataset"])
    seed_everything(cfg["seed"])
    return cfg, data, builder.models(cfg, data), builder.loss(cfg)


@pytest.mark.parametrize("n_disc, fresh, freeze, forwards", [
    (1, False, "none", 1), (1, True, "none", 2), (3, False, "none", 3), (3, True, "none", 4),
    (2, False, "all", 1), (2, True, "all", 2),
])
def test_g_forwards_per_step(tmp_path, n_disc, fresh, freeze, forwards):
    registry = make_registry()
    cfg, data, models, loss = build(registry, n_disc=n_disc, g_step_fresh_fake=fresh, freeze_d=freeze)
    calls = []
    models.generator.register_forward_hook(lambda module, args, out: calls.append(torch.is_grad_enabled()))
    train(cfg, data, models, loss, torch.device("cpu"), tmp_path)
    assert len(calls) == 5 * forwards  # 5 steps, no evaluation, no grids
    assert sum(calls) == 5  # exactly one forward per step carries G's graph to its update


def test_the_reused_fake_is_the_one_d_scored_last(tmp_path):
    """D's update is the same recipe either way (same d_loss from the same seed); G's loss
    differs because with reuse it scores D's own fake batch instead of drawing another."""
    registry = make_registry()
    cfg, data, models, loss = build(registry, steps=1)
    result = train(cfg, data, models, loss, torch.device("cpu"), tmp_path)
    cfg2, data2, models2, loss2 = build(registry, steps=1, g_step_fresh_fake=True)
    result2 = train(cfg2, data2, models2, loss2, torch.device("cpu"), tmp_path)
    assert result.history[0]["d_loss"] == result2.history[0]["d_loss"]  # D's step is the same recipe
    assert result.history[0]["g_loss"] != result2.history[0]["g_loss"]  # G scores another batch


def test_the_option_is_part_of_the_run_id_only_when_it_differs_from_the_old_behaviour(registry):
    from ganbench.config import identity

    fresh = resolve([("t", {"g_step_fresh_fake": True})], registry)
    reuse = resolve([("t", {})], registry)
    assert "g_step_fresh_fake" not in identity(fresh)  # as runs before the option: same ids
    assert identity(reuse)["g_step_fresh_fake"] is False
