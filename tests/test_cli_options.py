"""The run command's options say what they do: --dry-run shows what each run trains with,
--set reaches every layer (the seeds included), and a misspelled name gets a suggestion."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner
from conftest import TINY_BASE

from ganbench.cli import main

SGD_ADAM = [{"name": "sgd", "lr": 0.01, "momentum": 0.9}, {"name": "adam", "lr": 2.0e-4, "betas": [0.5, 0.999]}]


def suite(tmp_path, **keys):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "base": dict(TINY_BASE), **keys}, sort_keys=False))
    return path


def invoke(*args):
    out = CliRunner().invoke(main, [str(a) for a in args], env={"COLUMNS": "400"})
    return out


def dry_run(tmp_path, path, *more):
    out = invoke("run", path, "--dry-run", "--results", tmp_path / "results", *more)
    assert out.exit_code == 0, out.output
    rows = [line for line in out.stdout.splitlines() if "_s" in line and "-" in line and "│" in line]
    return out, rows


# ---------------------------------------------------------------- --dry-run shows resolved values


def test_dry_run_shows_the_values_runs_train_with_not_the_matrix_values(tmp_path):
    path = suite(tmp_path, matrix={"optimizer": SGD_ADAM})
    _, rows = dry_run(tmp_path, path)
    assert "name=sgd lr=0.01 momentum=0.9" in rows[0] and "name=adam lr=0.0002 betas=[0.5, 0.999]" in rows[1]
    _, rows = dry_run(tmp_path, path, "--set", "optimizer.lr=0.001")
    assert len(rows) == 2
    assert "name=sgd lr=0.001 momentum=0.9" in rows[0], rows[0]
    assert "name=adam lr=0.001 betas=[0.5, 0.999]" in rows[1], rows[1]


def test_dry_run_shows_loss_defaults_and_dotted_axes_resolved(tmp_path):
    # a cell naming Adam alone trains with WGAN-GP's Adam(1e-4, betas 0, 0.9)
    path = suite(tmp_path, base={**TINY_BASE, "loss": "wgan-gp"}, matrix={"optimizer": [{"name": "adam"}, {"name": "sgd", "lr": 0.01}]})
    _, rows = dry_run(tmp_path, path)
    assert "name=adam lr=0.0001 betas=[0.0, 0.9]" in rows[0] and "name=sgd lr=0.01" in rows[1]
    path = suite(tmp_path, matrix={"loss": ["vanilla", "hinge"], "optimizer.lr": [1e-4, 1e-3]})
    _, rows = dry_run(tmp_path, path, "--set", "optimizer.lr=5e-4")
    assert len(rows) == 2 and all("0.0005" in r for r in rows)  # the lr axis collapses to its one value: 2 losses x 1 lr
    assert all(r.count("0.0001 ") + r.count("0.001 ") == 0 for r in rows)


def test_set_help_says_it_overrides_every_layer():
    out = invoke("run", "--help")
    text = " ".join(out.stdout.split())
    assert "over base and matrix values alike" in text and "a base value" not in text


# ---------------------------------------------------------------- --set seeds


def test_set_seeds_replaces_the_suites_seeds(tmp_path, registry):
    from ganbench.suite import load_suite

    path = suite(tmp_path, seeds=[0, 1, 2], matrix={"loss": ["vanilla", "hinge"]})
    assert [r.seed for r in load_suite(path, registry).runs] == [0, 1, 2, 0, 1, 2]
    assert [r.seed for r in load_suite(path, registry, ["seeds=1"]).runs] == [0, 0]
    assert [r.seed for r in load_suite(path, registry, ["seeds=[0,3]"]).runs] == [0, 3, 0, 3]
    _, rows = dry_run(tmp_path, path, "--set", "seeds=5")
    assert len(rows) == 10


@pytest.mark.parametrize(
    "value,words",
    [
        ("0", "--set seeds: must be >= 1"),
        ("[1, 1]", "--set seeds: lists a seed twice"),
        ("x", "--set seeds: must be a count or a list"),
        ("100000", "--set seeds: up to 100,000 runs"),
    ],
)
def test_bad_set_seeds_name_the_flag(tmp_path, value, words):
    out = invoke("run", suite(tmp_path), "--dry-run", "--set", f"seeds={value}", "--results", tmp_path / "results")
    assert out.exit_code == 2 and words in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


# ---------------------------------------------------------------- did you mean


@pytest.mark.parametrize(
    "keys,words",
    [
        (
            {"base": {**TINY_BASE, "optimiser": {"name": "adam", "lr": 1e-3}}},
            "base.optimiser: unknown key (did you mean 'optimizer'?); known keys: ",
        ),
        ({"base": {**TINY_BASE, "batchsize": 32}}, "base.batchsize: unknown key (did you mean 'batch_size'?); known keys: "),
        ({"base": {**TINY_BASE, "loss": "wgan_gp"}}, "base.loss: unknown loss 'wgan_gp' (did you mean 'wgan-gp'?); available: "),
        ({"base": {**TINY_BASE, "architecture": "DCGAN"}}, "unknown architecture 'DCGAN' (did you mean 'dcgan'?)"),
        ({"matrix": {"loss": ["vanilla", "hinj"]}}, "matrix.loss: unknown loss 'hinj' (did you mean 'hinge'?)"),
        ({"matrices": {"n_disc": [1, 2]}}, "matrices: unknown suite key (did you mean 'matrix'?); known: "),
        ({"matrix": {"n_disc": [1, 2]}, "exclude": [{"ndisc": 1}]}, "exclude[0].ndisc: is not a matrix axis (did you mean 'n_disc'?)"),
        ({"base": {**TINY_BASE, "eval": {"every": "none", "sample": 100}}}, "base.eval.sample: unknown key (did you mean 'samples'?)"),
        ({"base": {**TINY_BASE, "optimizer": {"name": "adm", "lr": 1e-3}}}, "got 'adm' (did you mean 'adam'?)"),
        (
            {"base": {**TINY_BASE, "optimizer": {"name": "adam", "lr": 1e-3, "beta": [0.5, 0.9]}}},
            "not an option of adam (did you mean 'betas'?)",
        ),
        (
            {"base": {**TINY_BASE, "architecture": {"name": "dcgan", "ngff": 8}}},
            "not an option of architecture 'dcgan' (did you mean 'ngf'?)",
        ),
        ({"base": {**TINY_BASE, "freeze_d": "trunc"}}, "got 'trunc' (did you mean 'trunk'?)"),
        ({"base": {**TINY_BASE, "colour": 1}}, "base.colour: unknown key; known keys: "),  # nothing close: no guess
    ],
    ids=[
        "optimiser",
        "batchsize",
        "wgan_gp",
        "DCGAN",
        "matrix-loss",
        "matrices",
        "exclude",
        "eval",
        "optimizer-name",
        "optimizer-option",
        "architecture-option",
        "choice",
        "no-guess",
    ],
)
def test_misspellings_get_a_suggestion_in_the_one_line_message(tmp_path, keys, words):
    out = invoke("run", suite(tmp_path, **keys), "--dry-run", "--results", tmp_path / "results")
    lines = out.stderr.strip().splitlines()
    assert out.exit_code == 2 and len(lines) == 1 and words in lines[0], out.stderr


def test_misspelled_set_key_and_logger_get_a_suggestion(tmp_path):
    out = invoke("run", suite(tmp_path), "--dry-run", "--set", "lr_ratoi=2", "--results", tmp_path / "results")
    assert out.exit_code == 2 and "--set lr_ratoi: unknown key (did you mean 'lr_ratio'?)" in out.stderr
    out = invoke("run", suite(tmp_path, loggers=["tensorbord"]), "--dry-run", "--results", tmp_path / "results")
    assert out.exit_code == 2 and "unknown logger 'tensorbord' (did you mean 'tensorboard'?)" in out.stderr


@pytest.mark.parametrize(
    "more, words",
    [
        (["--executor", "subproces"], "--executor: unknown executor 'subproces' (did you mean 'process'?)"),
        (["--logger", "jsonll"], "--logger: unknown logger 'jsonll'"),
        (["--executor-option", "partition=gpu"], "--executor-option partition: not an option of executor local"),
        (["--executor-option", "partition"], "--executor-option: expected key=value"),
    ],
)
def test_dry_run_refuses_what_run_would_refuse_of_the_executor_and_loggers(tmp_path, more, words):
    # `--executor subproces` and `--logger jsonll` once passed --dry-run, to fail the real run
    out = invoke("run", suite(tmp_path), "--dry-run", "--results", tmp_path / "results", *more)
    lines = out.stderr.strip().splitlines()
    assert out.exit_code == 2 and len(lines) == 1 and words in lines[0], out.stderr


def test_dry_run_says_when_set_overrides_a_matrix_axis(tmp_path):
    out, rows = dry_run(tmp_path, suite(tmp_path, matrix={"lr_ratio": [0.5, 1, 2]}), "--set", "lr_ratio=4")
    assert len(rows) == 1 and "lr_ratio4_s0-" in rows[0]
    assert "note: --set lr_ratio=4 overrides the matrix axis lr_ratio: its 3 values become 4" in out.stderr


def test_run_says_when_it_left_runs_to_another_ganbench(tmp_path, registry):
    # "nothing to run, 1 left to another ganbench" once read as if the suite were done
    import json
    import subprocess
    import sys

    from ganbench.claims import hostname, process_start
    from ganbench.suite import load_suite

    path = suite(tmp_path)
    (run,) = load_suite(path, registry).runs
    claims = tmp_path / "results" / "s" / ".claims"
    claims.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        claim = {"host": hostname(), "pid": holder.pid, "pid_start": process_start(holder.pid), "token": "t"}
        (claims / f"{run.id}.json").write_text(json.dumps(claim))
        out = invoke("run", path, "--results", tmp_path / "results")
    finally:
        holder.kill()
    last = out.stderr.strip().splitlines()[-1]
    assert "nothing trained here, 1 not finished yet: left to another ganbench that holds its claim" in last, out.stderr
