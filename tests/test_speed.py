"""Speed settings (ganbench.speed, ganbench.optimizers): what each does on the real loop,
that they stay out of the run id, and that run.json says what they resolved to."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import TINY_BASE, ganbench
from torch import nn

from ganbench.build import Builder, seed_everything
from ganbench.callbacks import Callback
from ganbench.config import ConfigError, identity, resolve
from ganbench.engine import train
from ganbench.optimizers import build_optimizer, fused_available, implementation, keep_implementation
from ganbench.speed import set_tf32, tf32_flags, use_channels_last
from ganbench.suite import expand

CONV = (nn.Conv2d, nn.ConvTranspose2d)
ADAM = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}


@pytest.fixture(autouse=True)
def tf32_back_to_default():
    yield
    set_tf32("off")  # the flags are process-wide


def build(registry, **layer):
    cfg = resolve([("test", {**TINY_BASE, "steps": 3, "log_every": "3 steps", "grid_every": "none", **layer})], registry)
    builder = Builder(registry)
    data = builder.data(cfg["dataset"])
    seed_everything(cfg["seed"])
    return cfg, data, builder.models(cfg, data), builder.loss(cfg)


def layouts(models) -> list[bool]:
    """Hooks on every convolution: is each input that has a layout (C > 1, H*W > 1) NHWC?"""
    seen: list[bool] = []

    def hook(module, args, out):
        x = args[0]  # (B, C, H, W)
        if x.shape[1] > 1 and x.shape[2] * x.shape[3] > 1:
            seen.append(x.is_contiguous(memory_format=torch.channels_last) and out.is_contiguous(memory_format=torch.channels_last))

    for m in [*models.generator.modules(), *models.discriminator.modules()]:
        if isinstance(m, CONV):
            m.register_forward_hook(hook)
    return seen


@pytest.mark.parametrize("setting", [True, False])
def test_channels_last_reaches_inside_a_dcgan_and_it_trains(tmp_path, registry, setting):
    cfg, data, models, loss = build(registry, channels_last=setting)
    seen = layouts(models)
    result = train(cfg, data, models, loss, torch.device("cpu"), tmp_path)
    assert result.speed["channels_last"] is setting
    assert seen and all(s == setting for s in seen), seen  # G's and D's inner layers, every forward
    assert result.status == "complete"
    assert all(torch.isfinite(torch.tensor(result.metrics[k])) for k in ("d_loss", "g_loss"))


def test_channels_last_auto_is_off_on_the_cpu_and_never_on_for_mlps(tmp_path, registry):
    cfg, data, models, loss = build(registry)
    assert cfg["channels_last"] == "auto"
    assert train(cfg, data, models, loss, torch.device("cpu"), tmp_path).speed["channels_last"] is False
    G, D = models.generator, models.discriminator
    assert use_channels_last("auto", torch.device("cuda"), G, D, image_data=True)  # a CUDA DCGAN: on
    mlp = nn.Sequential(nn.Linear(2, 4))
    assert not use_channels_last("auto", torch.device("cuda"), mlp, mlp, image_data=True)
    assert not use_channels_last(True, torch.device("cpu"), mlp, mlp, image_data=False)  # points have no layout


def test_speed_settings_do_not_change_run_ids(registry):
    def ids(**speed):
        suite = {"name": "t", "base": {**TINY_BASE, **speed}, "matrix": {"loss": ["vanilla", "hinge"]}, "seeds": 2}
        return [r.id for r in expand(suite, registry).runs]

    default = ids()
    assert ids(channels_last=True, fused_optimizers=False, tf32="on") == default
    assert ids(channels_last=False, fused_optimizers=True, tf32="conv") == default
    cfg = resolve([("t", {"tf32": "on", "channels_last": True})], registry)
    assert not {"channels_last", "fused_optimizers", "tf32"} & set(identity(cfg))


def test_speed_settings_are_validated_in_one_line(tmp_path, registry, write_suite):
    assert resolve([("t", {"tf32": True})], registry)["tf32"] == "on"  # YAML's `on` is a boolean
    assert resolve([("t", {"tf32": False, "channels_last": "auto"})], registry)["tf32"] == "off"
    for key, value, words in (
        ("channels_last", "maybe", "channels_last: must be auto, true or false"),
        ("fused_optimizers", 1, "fused_optimizers: must be auto, true or false"),
        ("tf32", "fast", "tf32: must be one of off, conv, on"),
    ):
        with pytest.raises(ConfigError, match=words):
            resolve([("t", {key: value})], registry)
    out = ganbench("run", write_suite(), "--set", "channels_last=maybe", "--dry-run", "--results", tmp_path / "r")
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0
    assert "--set channels_last: must be auto, true or false, got 'maybe'" in out.stderr


def test_run_json_records_what_the_speed_settings_resolved_to(tmp_path, write_suite):
    # channels_last with the real evaluator: it scores NHWC samples too
    base = {"steps": 2, "tf32": "conv", "channels_last": True, "eval": {"every": "2 steps", "samples": 100}}
    out = ganbench("run", write_suite(base=base), "--results", tmp_path / "r", "--devices", "cpu")
    assert out.returncode == 0, out.stderr[-2000:]
    (run_json,) = (tmp_path / "r").glob("tiny/*/run.json")
    record = json.loads(run_json.read_text())
    assert record["status"] == "complete" and record["metrics"]["fid_domain"] is not None
    env = record["env"]
    fused = "fused" if fused_available(ADAM, [torch.zeros(1)], torch.device("cpu")) else "for-loop"
    assert env["speed"] == {
        "tf32": "conv",
        "tf32_matmul": False,
        "tf32_cudnn": True,
        "channels_last": True,
        "optimizer_g": fused,
        "optimizer_d": fused,
        "pack": 1,  # pack: auto on the CPU
        "cuda_graphs": False,  # cuda_graphs: auto, not on a CPU
    }
    assert env["tf32_matmul"] is False and env["tf32_cudnn"] is True  # set before env was recorded


class Flags(Callback):
    def __init__(self):
        self.seen = []

    def after_g_step(self, loop, step):
        self.seen.append(tuple(tf32_flags().values()))


def test_tf32_is_set_for_training_and_evaluation_is_ieee(tmp_path, registry):
    cfg, data, models, loss = build(registry, tf32="on")
    flags, scored = Flags(), []
    cfg = {**cfg, "eval": {**cfg["eval"], "every": "3 steps"}}
    evaluate = lambda G, step: scored.append(tuple(tf32_flags().values())) or {}  # noqa: E731
    result = train(cfg, data, models, loss, torch.device("cpu"), tmp_path, evaluate=evaluate, callbacks=[flags])
    assert set(flags.seen) == {(True, True)} and scored == [(False, False)]
    assert result.speed["tf32"] == "on" and tf32_flags() == {"tf32_matmul": True, "tf32_cudnn": True}


# ---------------------------------------------------------------- fused / foreach optimizers


def test_the_optimizer_implementation_follows_device_torch_and_setting():
    params = [nn.Parameter(torch.randn(3, 2)), nn.Parameter(torch.randn(2))]
    cpu = torch.device("cpu")
    has_fused = fused_available(ADAM, params, cpu)  # asked of this torch (later than 2.4: yes)
    assert implementation(ADAM, params, cpu, "auto") == ("fused" if has_fused else "for-loop")
    assert implementation(ADAM, params, cpu, False) == "for-loop"  # torch's own CPU default, explicit
    rmsprop = {"name": "rmsprop", "lr": 1e-3}
    assert not fused_available(rmsprop, params, cpu) and implementation(rmsprop, params, cpu, "auto") == "for-loop"
    with pytest.raises(ValueError, match="no fused rmsprop on cpu"):
        implementation(rmsprop, params, cpu, True)
    # CUDA: parameters elsewhere (or not floating point) get torch's CUDA default, foreach
    assert implementation(ADAM, params, torch.device("cuda"), "auto") == "foreach"
    assert not fused_available(ADAM, [torch.zeros(2, dtype=torch.int64)], cpu)
    for impl, kwargs in (("fused", {"fused": True}), ("foreach", {"foreach": True}), ("for-loop", {"foreach": False})):
        if impl == "fused" and not has_fused:
            continue
        opt = build_optimizer(params, ADAM, 1e-3, impl)
        assert all(opt.defaults[k] == v for k, v in kwargs.items())


def test_a_resumed_optimizer_keeps_the_implementation_it_was_built_with():
    params = [nn.Parameter(torch.randn(4))]
    old = build_optimizer(params, ADAM, 1e-3, "for-loop")  # e.g. a checkpoint from before the setting
    params[0].grad = torch.ones(4)
    old.step()
    if not fused_available(ADAM, params, torch.device("cpu")):
        pytest.skip("this torch has no fused Adam on the CPU")
    new = build_optimizer(params, ADAM, 1e-3, "fused")
    new.load_state_dict(old.state_dict())
    assert new.param_groups[0]["fused"] is None  # the saved group's flags came back with it
    keep_implementation(new)
    assert new.param_groups[0]["fused"] is True and new.state[params[0]]["step"].dtype == torch.float32
    new.step()  # the fused kernel accepts the restored state


def test_the_plugin_test_kit_tries_the_layout_on_the_cpu(registry):
    from ganbench.testing import smoke_train, tiny_data

    result = smoke_train({"name": "dcgan", "ngf": 8, "ndf": 8}, "vanilla", tiny_data("image"), registry, steps=2, channels_last=True)
    assert result.config["channels_last"] is True and result.samples.shape[1:] == (1, 16, 16)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: host syncs exist only on a GPU")
def test_no_host_sync_between_log_rows_on_cuda(tmp_path, registry):
    """torch's sync debug mode raises on any op that makes the host wait for the GPU, from
    step 3 to step 29 of a run with one log row at step 30 (digits has more than 30
    batches of 32 an epoch: the only reshuffle is step 1's). Not yet run on a GPU."""

    class NoSyncs(Callback):
        def after_d_step(self, loop, step):
            if step == 3:
                torch.cuda.set_sync_debug_mode("error")

        def after_g_step(self, loop, step):
            if step == 29:
                torch.cuda.set_sync_debug_mode("default")

    for precision in ("fp32", "bf16"):
        cfg, data, models, loss = build(registry, steps=30, log_every="30 steps", precision=precision)
        try:
            result = train(cfg, data, models, loss, torch.device("cuda"), tmp_path, callbacks=[NoSyncs()])
        finally:
            torch.cuda.set_sync_debug_mode("default")
        assert result.status == "complete" and result.speed["channels_last"] and result.speed["optimizer_g"] == "fused"
