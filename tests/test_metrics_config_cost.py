"""Eval options are validated like the rest of the config; step timing measures real steps."""

from __future__ import annotations

import time

import pytest
import torch

from ganbench import keys
from ganbench.config import EVAL_DEFAULTS, ConfigError, validate_eval
from ganbench.metrics.cost import StepTimer


def test_eval_defaults_fill_in():
    out = validate_eval({"every": 30})
    assert out["every"] == "30 steps"
    assert set(out) == set(EVAL_DEFAULTS)
    assert out["samples"] is None and out["real_samples"] == "test" and out["inception"] == "auto"


@pytest.mark.parametrize(
    "spec, key",
    [
        ({"samples": 5}, "eval.samples"),  # IS needs >= 10
        ({"curve_samples": "many"}, "eval.curve_samples"),
        ({"real_samples": "train"}, "eval.real_samples"),
        ({"fid_threshold": -1}, "eval.fid_threshold"),
        ({"inception": "maybe"}, "eval.inception"),
        ({"inception_weights": "/no/such/file.pth"}, "eval.inception_weights"),
        ({"classifier_floor": 1.5}, "eval.classifier_floor"),
        ({"confidence": 0}, "eval.confidence"),
        ({"sampels": 100}, "eval.sampels"),
    ],
)
def test_bad_eval_values_name_their_key(spec, key):
    with pytest.raises(ConfigError) as e:
        validate_eval(spec)
    assert e.value.key == key and "\n" not in str(e.value)


def test_yaml_on_off_booleans_mean_inception_on_off():
    assert validate_eval({"inception": False})["inception"] == "off"
    assert validate_eval({"inception": True})["inception"] == "on"


def test_step_timer_measures_cpu_phases():
    timer = StepTimer(torch.device("cpu"))
    for step in range(1, 16):
        timer.start(step)
        time.sleep(0.004)  # "D": 2 updates of 2 ms
        timer.mid()
        time.sleep(0.001)  # "G"
        timer.stop(2)
    out = timer.summary()
    assert len(timer.samples) == 10  # steps 3..12: the first two are warm-up
    assert 1.5 <= out[keys.D_STEP_MS] <= 20 and 0.5 <= out[keys.G_STEP_MS] <= 20
    assert out[keys.D_STEP_MS] > out[keys.G_STEP_MS]
    assert out[keys.PEAK_MEM_MB] > 10  # this Python process with torch loaded


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: the CUDA-event timing path needs one")
def test_step_timer_measures_gpu_phases_with_cuda_events():
    """On a GPU the phases are timed by CUDA events on the stream, not by the host clock
    (kernels run asynchronously: the host would measure only their launch)."""
    device = torch.device("cuda", torch.cuda.current_device())
    held = torch.empty(64 * 2**20 // 4, device=device)  # 64 MiB allocated while timed
    timer = StepTimer(device)
    torch.cuda.synchronize(device)
    for step in range(1, 16):
        timer.start(step)
        for _ in range(2):  # "D": 2 updates, each a kernel spinning ~4M GPU cycles
            torch.cuda._sleep(4_000_000)
        timer.mid()
        torch.cuda._sleep(1_000_000)  # "G": a quarter of one D update
        timer.stop(2)
    assert len(timer.samples) == 10 and all(isinstance(e, torch.cuda.Event) for e in timer.samples[0][:3])
    out = timer.summary()
    # ~1M cycles at 1-2 GHz is 0.5-1 ms of GPU time; launching the kernel takes microseconds
    assert out[keys.G_STEP_MS] > 0.2, out
    assert 2.5 < out[keys.D_STEP_MS] / out[keys.G_STEP_MS] < 6, out  # per D update: ~4x G's step
    assert out[keys.PEAK_MEM_MB] >= 64
    del held
