"""The engine computes bitwise what the training loop computed before it was split into
units: every built-in loss x freeze_d x n_disc x d_pretrain kind, EMA, bf16, SGD, the
fresh-fake option, evaluation with keep_best, an MLP on a 2-D mixture, and two runs
killed after a checkpoint and resumed (tests/engine_pins.py records the digests)."""

from __future__ import annotations

import json

import engine_pins as pins
import pytest
import torch

RECORDED = json.loads(pins.PINS_FILE.read_text())
SAME_ENVIRONMENT = RECORDED["environment"] == pins.environment()
WHY = f"the pins were recorded with {RECORDED['environment']}; this is {pins.environment()}"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    torch.set_num_threads(1)
    return tmp_path_factory.mktemp("pins")


@pytest.mark.skipif(not SAME_ENVIRONMENT, reason=WHY)
@pytest.mark.parametrize("name", list(pins.configs()))
def test_the_engine_gives_bitwise_the_pinned_numbers(name, root):
    assert pins.pin(name, pins.configs()[name], root) == RECORDED["pins"][name]


@pytest.mark.parametrize("name", pins.RESUMED)
def test_a_run_killed_after_a_checkpoint_resumes_bitwise(name, root):
    resumed = pins.pin_resumed(name, pins.configs()[name], root)
    assert resumed == pins.pin(name, pins.configs()[name], root)  # in any environment
    if SAME_ENVIRONMENT:
        assert resumed == RECORDED["pins"][f"{name}@resumed"]


def test_the_pins_cover_every_built_in_loss_and_training_axis():
    from ganbench.testing import make_registry

    registry = make_registry()
    assert set(pins.LOSSES) == set(registry.names("loss"))
    names = set(RECORDED["pins"])
    assert names == set(pins.configs()) | {f"{n}@resumed" for n in pins.RESUMED}
