"""How G is sampled for the metrics (eval.g_mode) is an explicit, recorded, validated choice,
and sampling never changes G."""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import pytest
import torch
from torch import nn

from ganbench import keys
from ganbench.builtin.datasets import ring8
from ganbench.config import ADDED_DEFAULTS, ConfigError, identity, validate_eval
from ganbench.metrics import make_evaluator
from ganbench.sampling import sample
from ganbench.suite import load_suite
from ganbench.testing import make_registry

REPO = Path(__file__).resolve().parents[1]


def bn_generator(seed: int = 0) -> nn.Module:
    """A 2-D generator with BatchNorm whose running statistics are far from any batch's."""
    torch.manual_seed(seed)
    g = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
    with torch.no_grad():
        g[1].running_mean.fill_(3.0)
        g[1].running_var.fill_(0.1)
    return g


def state(module: nn.Module) -> dict:
    return {k: v.clone() for k, v in module.state_dict().items()}


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} changed"


@pytest.mark.parametrize("was_training", [True, False])
def test_train_mode_sampling_uses_batch_statistics_and_changes_nothing(was_training):
    g = bn_generator()
    g.train(was_training)
    before = state(g)
    z = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    x_train = sample(g, z, "train")
    assert_same_state(before, state(g))  # running_mean, running_var, num_batches_tracked untouched
    assert g.training is was_training
    x_eval = sample(g, z, "eval")
    assert g.training is was_training
    reference = copy.deepcopy(g).train()
    with torch.no_grad():
        assert torch.allclose(x_train, reference(z))  # batch statistics of this batch
        assert torch.allclose(x_eval, copy.deepcopy(g).eval()(z))  # running statistics
    assert not torch.allclose(x_train, x_eval)  # the choice moves the samples
    with pytest.raises(ValueError, match="eval, train"):
        sample(g, z, "inference")


def _ring_cfg(**ev):
    return {
        "dataset": {"name": "ring8"},
        "steps": 1,
        "z_dim": 2,
        "seed": 0,
        "batch_size": 64,
        "n_disc": 1,
        "eval": validate_eval({"samples": 257, "batch_size": 128, **ev}),
    }


def test_the_evaluator_records_and_applies_g_mode():
    ring = ring8(n_train=512, n_test=64)
    g = bn_generator()
    g.train()
    before = state(g)
    default = make_evaluator(_ring_cfg(), ring, torch.device("cpu"), make_registry())
    train = make_evaluator(_ring_cfg(g_mode="train"), ring, torch.device("cpu"), make_registry())
    assert default.protocol["g_mode"] == "eval" and train.protocol["g_mode"] == "train"
    (x_eval, labels), (x_train, _) = default._generate(g, 257), train._generate(g, 257)  # 128 + 129: no batch of one
    assert labels is None  # an unconditional G: its samples were drawn for no class
    assert x_eval.shape == x_train.shape == (257, 2)
    assert not torch.allclose(x_eval, x_train)
    out = train(g, 1)
    assert keys.HIGH_QUALITY_FRAC in out
    assert g.training
    assert_same_state(before, state(g))  # evaluating in train mode left G exactly as it was


def test_runs_from_before_the_option_were_sampled_in_eval_mode():
    ring = ring8(n_train=512, n_test=64)
    cfg = _ring_cfg()
    del cfg["eval"]["g_mode"]  # an old run.json's config
    assert make_evaluator(cfg, ring, torch.device("cpu"), make_registry()).protocol["g_mode"] == "eval"


def test_g_mode_is_validated_and_its_default_keeps_run_ids():
    assert validate_eval({})["g_mode"] == "eval" and validate_eval({"g_mode": "train"})["g_mode"] == "train"
    with pytest.raises(ConfigError, match=r"eval\.g_mode: must be one of eval, train"):
        validate_eval({"g_mode": "batch"})
    assert ADDED_DEFAULTS["eval.g_mode"] == "eval"
    cfg = {"eval": validate_eval({}), "seed": 0}
    assert "g_mode" not in identity(cfg)["eval"]
    assert identity({"eval": validate_eval({"g_mode": "train"})})["eval"]["g_mode"] == "train"


def test_committed_runs_keep_their_ids(registry):
    """The lr_ratio suite, expanded by today's code, names exactly the committed run folders
    (its cpu profile: the suite's base is the article's scale; tests/test_profiles.py checks every suite)."""
    suite = load_suite(REPO / "suites" / "lr_ratio.yaml", registry, profile="cpu")
    assert all(r.config["eval"]["g_mode"] == "eval" for r in suite.runs)
    with (REPO / "docs" / "results" / "lr_ratio" / "runs.csv").open(newline="") as f:  # the committed runs, not what a user added
        committed = {row["id"] for row in csv.DictReader(f)}
    assert {r.id for r in suite.runs} == committed
