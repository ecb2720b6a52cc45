"""Every invalid value is refused before anything runs, with a one-line message naming
the file and the key; the CLI exits 2 with no traceback and writes nothing."""

from __future__ import annotations

import pytest
import yaml
from conftest import TINY_BASE, ganbench

from ganbench.suite import SuiteError, load_suite

# (what the suite sets, the key the message must name, words the message must contain)
BAD_BASE = [
    ({"colour": 1}, "base.colour", "unknown key"),
    ({"loss": "vanila"}, "base.loss", "available: hinge"),
    ({"architecture": "resnet"}, "base.architecture", "unknown architecture 'resnet'"),
    ({"dataset": {"name": "mnist5k", "size": 32}}, "base.dataset.size", "not an option of dataset 'mnist5k'"),
    ({"dataset": {"name": "mnist5k", "image_size": "big"}}, "base.dataset.image_size", "must be an integer"),
    ({"architecture": {"name": "dcgan", "d_norm": "group"}}, "base.architecture.d_norm", "must be one of batch"),
    ({"loss": {"name": "vanilla", "generator_loss": "other"}}, "base.loss.generator_loss", "must be one of"),
    ({"optimizer": {"name": "adagrad", "lr": 0.1}}, "base.optimizer.name", "must be one of sgd, adam"),
    ({"optimizer": {"name": "sgd", "lr": -1}}, "base.optimizer.lr", "must be > 0"),
    ({"optimizer": {"name": "sgd"}}, "base.optimizer.lr", "needs a learning rate"),
    ({"optimizer": {"name": "sgd", "lr": 0.1, "betas": [0.5, 0.9]}}, "base.optimizer.betas", "not an option of sgd"),
    ({"optimizer": {"name": "adam", "lr": 0.1, "betas": [0.5]}}, "base.optimizer.betas", "two numbers"),
    ({"lr_ratio": 0}, "base.lr_ratio", "must be > 0"),
    ({"lr_ratio": "fast"}, "base.lr_ratio", "must be a number"),
    ({"lr_decay": 1.5}, "base.lr_decay", "must be <= 1"),
    ({"d_pretrain": {"steps": 0}}, "base.d_pretrain.steps", ">= 1"),
    ({"d_pretrain": {"epochs": 3}}, "base.d_pretrain", "must be none"),
    ({"d_pretrain": {"from_run": "/nonexistent/run"}}, "base.d_pretrain.from_run", "holds no D.pt"),
    ({"freeze_d": "half"}, "base.freeze_d", "must be one of none, all, trunk"),
    ({"n_disc": 0}, "base.n_disc", ">= 1"),
    ({"batch_size": 2.5}, "base.batch_size", "must be an integer"),
    ({"z_dim": True}, "base.z_dim", "must be an integer"),
    ({"epochs": 2}, "base.epochs", "exactly one of `epochs` and `steps`"),
    ({"eval": {"every": "sometimes"}}, "base.eval.every", "like '1 epoch'"),
    ({"eval": {"often": 1}}, "base.eval.often", "unknown key"),
    ({"log_every": "0 steps"}, "base.log_every", "like '1 epoch'"),
]


@pytest.mark.parametrize("patch,key,words", BAD_BASE, ids=[k for _, k, _ in BAD_BASE])
def test_bad_base_values(tmp_path, registry, patch, key, words):
    base = {**TINY_BASE, **patch}
    if "epochs" in patch:
        base = {**base, "steps": 3}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "base": base}))
    with pytest.raises(SuiteError) as err:
        load_suite(path, registry)
    msg = str(err.value)
    assert msg.startswith(f"{path}: {key}: "), msg
    assert words in msg and "\n" not in msg


BAD_SUITE = [
    ({"name": "has space"}, "name", "letters, digits"),
    ({"matrix": {"lr_ratio": 2}}, "matrix.lr_ratio", "non-empty list"),
    ({"matrix": {"lr_ratio": [1, -2]}}, "matrix.lr_ratio", "must be > 0"),
    ({"matrix": {"loss": ["vanilla", "nope"]}}, "matrix.loss", "unknown loss 'nope'"),
    ({"exclude": [{"lr_ratio": 1}]}, "exclude[0].lr_ratio", "not a matrix axis"),
    ({"include": [{"n_disc": -1}]}, "include[0].n_disc", ">= 1"),
    ({"seeds": 0}, "seeds", ">= 1"),
    ({"matrices": {}}, "matrices", "unknown suite key"),
]


@pytest.mark.parametrize("patch,key,words", BAD_SUITE, ids=[k for _, k, _ in BAD_SUITE])
def test_bad_suite_structure(tmp_path, registry, patch, key, words):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "base": TINY_BASE, **patch}))
    with pytest.raises(SuiteError) as err:
        load_suite(path, registry)
    assert str(err.value).startswith(f"{path}: {key}: ") and words in str(err.value), str(err.value)


def test_override_errors_name_the_flag(tmp_path, registry):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "base": TINY_BASE}))
    with pytest.raises(SuiteError, match=r"--set batch_size: must be >= 1"):
        load_suite(path, registry, ["batch_size=0"])


@pytest.mark.parametrize("text,words", [("name: [", "not valid YAML"), ("- just a list", "must be a mapping")])
def test_unreadable_suites(tmp_path, registry, text, words):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(SuiteError, match=words):
        load_suite(path, registry)


def test_cli_invalid_suite_exits_2_without_traceback_or_writes(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "base": {**TINY_BASE, "n_disc": "two"}}))
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"name": "good", "base": TINY_BASE}))
    results = tmp_path / "results"
    cases = (
        ["run", path, "--results", results],
        ["run", tmp_path / "missing.yaml", "--results", results],
        ["run", good, "--device", "tpu", "--results", results],
        ["run", good, "--set", "epochs", "--results", results],
    )
    for args in cases:
        out = ganbench(*args)
        assert out.returncode == 2, out.stderr
        assert "Traceback" not in out.stderr and out.stderr.startswith("error: ")
        assert len(out.stderr.strip().splitlines()) == 1
    assert not results.exists()


def test_from_run_of_a_committed_run_without_weights_says_how_to_get_them(tmp_path, registry):
    committed = tmp_path / "results" / "donor" / "s0-abc"
    committed.mkdir(parents=True)
    (committed / "run.json").write_text('{"status": "complete"}')  # weights are git-ignored
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "base": {**TINY_BASE, "d_pretrain": {"from_run": str(committed)}}}))
    with pytest.raises(SuiteError, match="weights are not committed.*--rerun"):
        load_suite(path, registry)
