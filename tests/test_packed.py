"""Packed seeds (ganbench.engine.packed): K seeds of a cell trained as one stacked model
agree with their unpacked runs to floating-point tolerance, seed by seed, including
BatchNorm statistics, a frozen trunk, WGAN-GP's penalty, EMA and weight clipping; a seed
that diverges is stopped at its step while the others go on; a packed run resumes from its
checkpoint; a model that cannot be packed trains unpacked, saying why."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from ganbench.build import Builder, seed_everything
from ganbench.callbacks import Callback, make_callbacks
from ganbench.config import resolve
from ganbench.contracts import Models
from ganbench.engine import RunSpec, packed, train_packed, train_spec
from ganbench.engine.rng import global_state
from ganbench.packs import group
from ganbench.plugins import Entry
from ganbench.testing import SMOKE_DATASET, make_registry, tiny_data

CPU = torch.device("cpu")
SEEDS = (0, 1, 2)
BASE = {
    "dataset": SMOKE_DATASET,
    "architecture": {"name": "dcgan", "ngf": 4, "ndf": 4},
    "batch_size": 16,
    "z_dim": 8,
    "steps": 24,
    "lr_decay": 0.9,
    "log_every": "4 steps",
    "grid_every": "none",
    "eval": {"every": "none"},
}


@pytest.fixture(scope="module")
def registry():
    torch.set_num_threads(1)
    registry = make_registry()
    data = tiny_data("image", n=64, shape=(1, 16, 16))
    registry.entries["dataset"][SMOKE_DATASET] = Entry(SMOKE_DATASET, "dataset", lambda: data, "tests", "tests", "")
    return registry


def specs(registry, root: Path, layer: dict, seeds=SEEDS, callbacks=None, **spec) -> tuple[list[RunSpec], object]:
    """One RunSpec per seed, built as a worker builds them (models from the seed, then the
    global generators' state the run starts from)."""
    out, builder = [], Builder(registry)
    for seed in seeds:
        cfg = resolve([("test", {**BASE, **layer, "seed": seed})], registry)
        data = builder.data(cfg["dataset"])
        seed_everything(seed)
        models = builder.models(cfg, data)
        loss = builder.loss(cfg)
        cbs = make_callbacks(cfg["callbacks"], registry) + [c() for c in callbacks or []]
        folder = root / f"s{seed}"
        (folder / "grids").mkdir(parents=True, exist_ok=True)
        out.append(RunSpec(cfg, models, loss, folder, callbacks=cbs, rng=global_state(CPU), **spec))
    return out, data


def assert_close_runs(a: RunSpec, ra, b: RunSpec, rb, rtol=1e-4, atol=1e-5):
    assert ra.status == rb.status and ra.diverged_at_step == rb.diverged_at_step
    assert [r["step"] for r in ra.history] == [r["step"] for r in rb.history]
    for key in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake", "lr_g", "lr_d"):
        got, want = [r[key] for r in rb.history], [r[key] for r in ra.history]
        assert got == pytest.approx(want, rel=rtol, abs=atol, nan_ok=True), key
    for role in ("generator", "discriminator"):
        sa, sb = getattr(a.models, role).state_dict(), getattr(b.models, role).state_dict()
        for k in sa:
            torch.testing.assert_close(sb[k], sa[k], rtol=rtol, atol=atol, equal_nan=True, msg=f"{role} {k}")
        assert all(sb[k].untyped_storage().nbytes() == sb[k].numel() * sb[k].element_size() for k in sb)  # own tensors again


CONFIGS = {
    "dcgan-batchnorm": {},
    "frozen-trunk-classifier-pretrained": {"freeze_d": "trunk", "d_pretrain": {"classifier": True, "steps": 3}},
    "wgan-gp-penalty": {"loss": "wgan-gp", "n_disc": 2},
    "hinge-ema": {"loss": "hinge", "n_disc": 2, "callbacks": [{"name": "ema", "decay": 0.9}]},
    "wgan-weight-clip": {"loss": "wgan", "n_disc": 2, "steps": 12},
    "frozen-d-lsgan-sgd": {"loss": "lsgan", "freeze_d": "all", "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9}},
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_packed_seeds_agree_with_their_unpacked_runs(name, registry, tmp_path):
    alone, data = specs(registry, tmp_path / "alone", CONFIGS[name])
    together, _ = specs(registry, tmp_path / "packed", CONFIGS[name])
    assert packed.unpackable(together[0].cfg, [s.models for s in together], [s.loss for s in together], together[0].callbacks, CPU) is None
    want = [train_spec(s, data, CPU) for s in alone]
    got = train_packed(together, data, CPU)
    for a, ra, b, rb in zip(alone, want, together, got):
        assert rb.speed["pack"] == 3 and ra.speed["pack"] == 1
        assert_close_runs(a, ra, b, rb)
        if (a.out_dir / "G_ema.pt").is_file():
            ea, eb = torch.load(a.out_dir / "G_ema.pt"), torch.load(b.out_dir / "G_ema.pt")
            for k in ea:
                torch.testing.assert_close(eb[k], ea[k], rtol=1e-4, atol=1e-5)
    # seeds are not copies of each other: the pack kept each one's own stream
    assert got[0].history[-1]["d_loss"] != got[1].history[-1]["d_loss"]


class PoisonSeed1(Callback):
    """Makes seed 1's generator non-finite after its 7th update (steps 8- diverge)."""

    packable = True

    @torch.no_grad()
    def after_g_step(self, loop, step):
        if loop.cfg["seed"] == 1 and step == 7:
            next(loop.G.parameters()).fill_(math.nan)


def test_a_seed_that_diverges_stops_at_its_step_and_the_others_go_on(registry, tmp_path):
    alone, data = specs(registry, tmp_path / "alone", {}, callbacks=[PoisonSeed1])
    together, _ = specs(registry, tmp_path / "packed", {}, callbacks=[PoisonSeed1])
    want = [train_spec(s, data, CPU) for s in alone]
    got = train_packed(together, data, CPU)
    assert [r.status for r in got] == ["complete", "diverged", "complete"]
    assert got[1].diverged_at_step == want[1].diverged_at_step == 8
    assert got[1].history[-1]["step"] == 8 and got[1].metrics["steps"] == 8  # stopped at the row that saw it
    for a, ra, b, rb in zip(alone, want, together, got):
        assert_close_runs(a, ra, b, rb)  # the diverged seed's weights are those of its last step


def test_a_packed_run_resumes_from_its_checkpoint(registry, tmp_path):
    layer = {"checkpoint_every": "8 steps"}
    whole, data = specs(registry, tmp_path / "whole", layer)
    want = train_packed(whole, data, CPU)

    def stop_at_12(step, total, row):
        if step == 12:
            raise KeyboardInterrupt  # as a kill would, after the checkpoint at step 8

    killed, _ = specs(registry, tmp_path / "killed", layer, on_step=stop_at_12)
    with pytest.raises(KeyboardInterrupt):
        train_packed(killed, data, CPU)
    assert all(torch.load(s.out_dir / "checkpoint.pt", weights_only=True)["step"] == 8 for s in killed)
    resumed, _ = specs(registry, tmp_path / "killed", layer, resume=True)
    got = train_packed(resumed, data, CPU)
    for a, ra, b, rb in zip(whole, want, resumed, got):
        assert_close_runs(a, ra, b, rb, rtol=0, atol=0)  # bitwise: the same packed kernels
    # a packed seed's checkpoint is an unpacked run's: seed 2 resumes alone from it
    again, _ = specs(registry, tmp_path / "killed-2", layer, seeds=(2,), on_step=stop_at_12)
    (again[0].out_dir).mkdir(parents=True, exist_ok=True)
    (again[0].out_dir / "checkpoint.pt").write_bytes((tmp_path / "killed" / "s2" / "checkpoint.pt").read_bytes())
    alone, _ = specs(registry, tmp_path / "killed-2", layer, seeds=(2,), resume=True)
    ra = train_spec(alone[0], data, CPU)
    assert_close_runs(whole[2], want[2], alone[0], ra)


class Dropout(nn.Module):
    def __init__(self, z_dim):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, 16), nn.Dropout(0.5), nn.Linear(16, 256), nn.Tanh())

    def forward(self, z):
        return self.net(z).view(-1, 1, 16, 16)


def test_what_cannot_be_packed_is_named(registry, tmp_path):
    together, data = specs(registry, tmp_path, {})
    cfg, losses, models = together[0].cfg, [s.loss for s in together], [s.models for s in together]
    assert packed.unpackable(cfg, models, losses, [], CPU) is None

    class Plain(Callback):
        pass

    assert packed.unpackable(cfg, models, losses, [Plain()], CPU) == "callback 'Plain' does not declare packable = True"
    assert "fp16" in packed.unpackable({**cfg, "precision": "fp16"}, models, losses, [], CPU)
    dropout = [Models(Dropout(8), m.discriminator) for m in models]
    assert "a packed forward fails" in packed.unpackable(cfg, dropout, losses, [], CPU)  # vmap refuses the random draw
    hooked = [Models(m.generator, m.discriminator) for m in models]
    for m in hooked:
        m.discriminator.head.register_forward_hook(lambda mod, args, out: out)
    assert "forward hooks" in packed.unpackable(cfg, hooked, losses, [], CPU)


def test_runs_are_grouped_into_packs_of_one_cell_by_the_pack_setting(registry):
    from ganbench.suite import expand

    suite = {"name": "p", "base": {**BASE, "pack": 2}, "matrix": {"lr_ratio": [1.0, 2.0]}, "seeds": 3}
    runs = expand(suite, registry).runs
    packs = group(runs, "cpu")
    assert [[r.seed for r in p] for p in packs] == [[0, 1], [2], [0, 1], [2]]
    assert all(len({r.cell["lr_ratio"] for r in p}) == 1 for p in packs)
    auto = expand({**suite, "base": {**BASE, "pack": "auto"}}, registry).runs
    assert [len(p) for p in group(auto, "cuda")] == [3, 3] and [len(p) for p in group(auto, "cpu")] == [1] * 6
    assert [len(p) for p in group(runs, "cpu", executor_packs=False)] == [1] * 6


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: the packed CUDA path needs one")
@pytest.mark.parametrize("name", ["dcgan-batchnorm", "wgan-gp-penalty", "hinge-ema"])
def test_packed_seeds_agree_with_their_unpacked_runs_on_cuda(name, registry, tmp_path):
    """On a GPU: the same as on the CPU (cuDNN's grouped kernels sum in their own order:
    a looser tolerance), and the packed step makes no host sync between log rows."""
    cuda = torch.device("cuda")
    layer = {**CONFIGS[name], "steps": 24, "log_every": "24 steps"}
    alone, data = specs(registry, tmp_path / "alone", layer)
    together, _ = specs(registry, tmp_path / "packed", layer, callbacks=[NoHostSync])
    want = [train_spec(s, data, cuda) for s in alone]
    try:
        got = train_packed(together, data, cuda)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    for a, ra, b, rb in zip(alone, want, together, got):
        assert rb.speed["pack"] == 3
        assert_close_runs(a, ra, b, rb, rtol=1e-3, atol=1e-4)


class NoHostSync(Callback):
    """torch's sync debug mode raises on any op that makes the host wait, steps 3-22."""

    packable = True

    def after_d_step(self, loop, step):
        if step == 3:
            torch.cuda.set_sync_debug_mode("error")

    def after_g_step(self, loop, step):
        if step == 22:
            torch.cuda.set_sync_debug_mode("default")
