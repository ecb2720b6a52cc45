"""Recipe options of the training loop: what each one changes, counted on the real loop."""

from __future__ import annotations

import pytest
import torch
from conftest import ganbench  # at import: a plugin tutorial's tests load a conftest of their own later

from ganbench.build import Builder, seed_everything
from ganbench.callbacks import Callback, make_callbacks
from ganbench.config import resolve
from ganbench.engine import train
from ganbench.testing import make_registry


def build(registry, **layer):
    cfg = resolve(
        [
            (
                "test",
                {
                    "dataset": "ring8",
                    "architecture": {"name": "mlp", "g_hidden": [16], "d_hidden": [16]},
                    "batch_size": 32,
                    "z_dim": 4,
                    "steps": 5,
                    "log_every": "5 steps",
                    "eval": {"every": "none"},
                    "grid_every": "none",
                    **layer,
                },
            )
        ],
        registry,
    )
    builder = Builder(registry)
    data = builder.data(cfg["dataset"])
    seed_everything(cfg["seed"])
    return cfg, data, builder.models(cfg, data), builder.loss(cfg)


@pytest.mark.parametrize(
    "n_disc, fresh, freeze, forwards",
    [
        (1, False, "none", 1),
        (1, True, "none", 2),
        (3, False, "none", 3),
        (3, True, "none", 4),
        (2, False, "all", 1),
        (2, True, "all", 2),
    ],
)
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


# ---------------------------------------------------------------- training callbacks


class Record(Callback):
    """A callback that records G's parameters at setup and after each of its updates."""

    def __init__(self):
        self.params = []

    def setup(self, loop):
        self.params.append([p.detach().clone() for p in loop.G.parameters()])

    def after_g_step(self, loop, step):
        self.params.append([p.detach().clone() for p in loop.G.parameters()])


def test_ema_averages_g_after_each_update_and_is_what_gets_scored(tmp_path):
    from ganbench.callbacks import EMA

    registry = make_registry()
    cfg, data, models, loss = build(registry, steps=6)
    ema, rec = EMA(decay=0.5, start=2), Record()
    scored = []
    evaluate = lambda G, step: scored.append(G) or {}  # noqa: E731  (an evaluator that records which G it got)
    cfg = {**cfg, "eval": {**cfg["eval"], "every": "3 steps"}}
    result = train(cfg, data, models, loss, torch.device("cpu"), tmp_path, evaluate=evaluate, callbacks=[ema, rec])
    expected = [p.clone() for p in rec.params[0]]
    for step, params in enumerate(rec.params[1:], 1):
        decay = 0.5 if step > 2 else 0.0  # before `start`, the average follows G
        expected = [decay * e + (1 - decay) * p for e, p in zip(expected, params)]
    assert all(torch.allclose(a, e) for a, e in zip(ema.G.parameters(), expected))
    assert not all(torch.equal(a, p) for a, p in zip(ema.G.parameters(), models.generator.parameters()))
    assert scored and all(G is ema.G for G in scored)
    assert result.record == {"generator_file": "G_ema.pt", "generator": "ema(decay=0.5, start=2)"}
    assert (tmp_path / "G_ema.pt").is_file()


def test_wgan_brings_weight_clipping_and_the_papers_recipe(tmp_path, registry):
    cfg = resolve([("t", {"loss": "wgan"})], registry)
    assert cfg["n_disc"] == 5 and cfg["optimizer"]["name"] == "rmsprop" and cfg["optimizer"]["lr"] == 5e-5
    assert cfg["callbacks"] == [{"name": "weight-clip", "c": 0.01}]
    fast = {"loss": "wgan", "steps": 3, "optimizer": {"name": "rmsprop", "lr": 0.05}}  # big steps: weights leave [-c, c]
    for callbacks, clipped in (([{"name": "weight-clip", "c": 0.01}], True), ([], False)):
        cfg, data, models, loss = build(registry, **fast, callbacks=callbacks)
        train(cfg, data, models, loss, torch.device("cpu"), tmp_path, callbacks=make_callbacks(cfg["callbacks"], registry))
        largest = max(p.abs().max().item() for p in models.discriminator.parameters())
        assert (largest <= 0.01 + 1e-7) == clipped, largest


def test_an_architecture_declares_its_recipe_and_a_suite_still_wins():
    from ganbench import hookimpl
    from ganbench.builtin.architectures import mlp

    def sn_like(data, z_dim, width: int = 8):
        return mlp(data, z_dim, g_hidden=[width], d_hidden=[width])

    sn_like.defaults = {"n_disc": 5, "optimizer": {"name": "adam", "lr": 2.0e-4, "betas": [0.0, 0.9]}}

    class Plugin:
        @staticmethod
        @hookimpl
        def register_architectures(register):
            register("sn-like", sn_like)

    registry = make_registry(Plugin)
    cfg = resolve([("t", {"architecture": "sn-like", "dataset": "ring8"})], registry)
    assert cfg["n_disc"] == 5 and cfg["optimizer"]["betas"] == [0.0, 0.9]
    cfg = resolve([("t", {"architecture": "sn-like", "dataset": "ring8", "n_disc": 2})], registry)
    assert cfg["n_disc"] == 2


# ---------------------------------------------------------------- precision


def test_bf16_trains_on_the_cpu_with_losses_and_penalty_in_fp32(tmp_path):
    from ganbench.builtin.losses import WGANGP

    seen = []

    class Watched(WGANGP):
        def d_loss(self, real_scores, fake_scores):
            seen.append(("d_loss", real_scores.dtype, torch.is_autocast_enabled("cpu")))
            return super().d_loss(real_scores, fake_scores)

        def penalty(self, discriminator, real, fake):
            seen.append(("penalty", fake.dtype, torch.is_autocast_enabled("cpu")))
            return super().penalty(discriminator, real, fake)

    registry = make_registry()
    cfg, data, models, _ = build(registry, precision="bf16", loss="wgan-gp", steps=3)
    result = train(cfg, data, models, Watched(), torch.device("cpu"), tmp_path)
    assert result.status == "complete" and all(map(torch.isfinite, map(torch.tensor, (result.metrics["d_loss"], result.metrics["g_loss"]))))
    assert {s for s in seen} == {("d_loss", torch.float32, False), ("penalty", torch.float32, False)}
    fp32_cfg, data, models, _ = build(registry, loss="wgan-gp", steps=3)
    fp32 = train(fp32_cfg, data, models, Watched(), torch.device("cpu"), tmp_path)
    assert fp32.metrics["d_loss"] != result.metrics["d_loss"]  # bf16 changes the numbers: part of the run id
    from ganbench.config import identity

    assert identity(cfg)["precision"] == "bf16" and "precision" not in identity(fp32_cfg)


def test_fp16_on_the_cpu_is_refused_up_front(tmp_path, write_suite):
    out = ganbench("run", write_suite(base={"precision": "fp16"}), "--results", tmp_path / "r", "--devices", "cpu")
    assert out.returncode == 2 and "fp16 needs a CUDA device" in out.stderr and not (tmp_path / "r").exists()
