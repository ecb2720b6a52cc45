"""Hostile or mistaken input costs nothing: one short line on stderr, exit 2, nothing written.

Each case here once cost gigabytes, a traceback, a multi-line or multi-megabyte message,
or passed validation only to fail in every run. Cases about the command line go through
the real CLI (`--dry-run`: nothing trains); the CLI subprocesses run under a memory limit
so that a regression fails quickly instead of swapping the machine.
"""

from __future__ import annotations

import os
import resource

import pytest
import yaml
from conftest import TINY_BASE, ganbench_process

from ganbench.suite import SuiteError, load_suite

BASE_YAML = "base: {dataset: digits, steps: 2, batch_size: 32}\n"


def _limit_memory():  # torch's import needs well under 1 GiB of private data
    resource.setrlimit(resource.RLIMIT_DATA, (3 << 30, 3 << 30))


def cli(*args, timeout=120):
    return ganbench_process(*args, preexec_fn=_limit_memory, timeout=timeout)


def refused(tmp_path, *args, words=()):
    """`ganbench run ARGS --dry-run`: exit 2, one short `error:` line naming `words`."""
    results = tmp_path / "results"
    out = cli("run", *args, "--dry-run", "--results", results)
    line = out.stderr.strip()
    assert out.returncode == 2, out.stderr[-3000:]
    assert line.startswith("error: ") and "\n" not in line and len(line) < 500, line[:3000]
    for w in words:
        assert w in line, line
    assert not results.exists()
    return line


def message(registry, path, overrides=()) -> str:
    """load_suite's refusal: one line, short."""
    with pytest.raises(SuiteError) as err:
        load_suite(path, registry, overrides)
    msg = str(err.value)
    assert "\n" not in msg and len(msg) < 500, msg[:3000]
    return msg


def suite_file(tmp_path, text: str, name: str = "s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def dumped(tmp_path, **keys):
    return suite_file(tmp_path, yaml.safe_dump({"name": "s", "base": dict(TINY_BASE), **keys}))


def laughs(levels: int) -> str:
    """Anchors a0..a{levels}, each a list of ten aliases of the one before: 10**levels leaves."""
    lines = ["  - &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"  - &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- 1. aliases, quoting, description


def test_alias_bomb_in_description_is_refused(tmp_path):
    # 10**6 leaves here; 31 levels used 2.7 GB
    path = suite_file(tmp_path, "name: s\n" + BASE_YAML + "description:\n" + laughs(6))
    refused(tmp_path, path, words=["line 5", "YAML aliases (*a0) are not supported"])


def test_alias_as_a_validated_value_is_refused(tmp_path, registry):
    # 10**5 leaves made a 700 kB "one-line" message; 24 levels made 167 MB
    text = "name: s\ndescription:\n" + laughs(5) + "base: {dataset: digits, steps: 2, batch_size: *a5}\n"
    assert "aliases" in message(registry, suite_file(tmp_path, text))


def test_long_values_are_quoted_short(tmp_path, registry):
    # (distinct lists: safe_dump writes a list that appears twice as an alias)
    for patch in ({"batch_size": "x" * 100_000}, {"batch_size": [list(range(1000)) for _ in range(100)]}):
        msg = message(registry, dumped(tmp_path, base={**TINY_BASE, **patch}))
        assert "base.batch_size: must be an integer, got " in msg
    assert "base.loss: unknown loss 'xxx" in message(registry, dumped(tmp_path, base={**TINY_BASE, "loss": "x" * 100_000}))


def test_description_is_capped(tmp_path, registry):
    assert "at most 2,000 characters" in message(registry, dumped(tmp_path, description="x" * 2001))
    assert load_suite(dumped(tmp_path, description="x" * 2000), registry).description == "x" * 2000


# ---------------------------------------------------------------- 2. duplicate keys, 3. odd keys


def test_duplicate_keys_are_refused_naming_key_and_line(tmp_path, registry):
    text = "name: s\nbase:\n  dataset: digits\n  steps: 2\n  batch_size: 32\n  batch_size: 16\n"
    msg = message(registry, suite_file(tmp_path, text))
    assert "line 6: duplicate key 'batch_size' (first on line 5)" in msg


@pytest.mark.parametrize("where", ["suite", "base", "eval", "matrix"])
def test_keys_with_newlines_give_one_line(tmp_path, registry, where):
    key = "batch\nsize\r\x1b[2J"
    keys = {
        "suite": {key: 1},
        "base": {"base": {**TINY_BASE, key: 1}},
        "eval": {"base": {**TINY_BASE, "eval": {key: 1}}},
        "matrix": {"matrix": {key: 3}},
    }[where]
    path = suite_file(tmp_path, yaml.safe_dump({"name": "s", "base": dict(TINY_BASE), **keys}))
    assert "batch\\nsize\\r\\x1b" in message(registry, path)


def test_cli_key_with_newline_is_one_line(tmp_path):
    refused(tmp_path, dumped(tmp_path, base={**TINY_BASE, "a\nb": 1}), words=["base.a\\nb: unknown key"])


# ---------------------------------------------------------------- 4. names


@pytest.mark.parametrize("name", ["y10b\n", "x" * 101])
def test_bad_names(tmp_path, registry, name):
    path = suite_file(tmp_path, yaml.safe_dump({"name": name, "base": dict(TINY_BASE)}))
    assert ": name: must be" in message(registry, path)


def test_intervals_with_a_trailing_newline_still_read(registry, tmp_path):
    run = load_suite(dumped(tmp_path, base={**TINY_BASE, "log_every": "2 steps\n"}), registry).runs[0]
    assert run.config["log_every"] == "2 steps"


# ---------------------------------------------------------------- 5. sizes


def test_a_huge_matrix_is_refused_before_expanding(tmp_path, registry):
    matrix = {f"optimizer.{k}": [0.1 * i for i in range(1, 11)] for k in ("lr", "momentum", "weight_decay")}
    matrix["n_disc"] = list(range(1, 11))
    matrix["batch_size"] = list(range(1, 11))
    msg = message(registry, dumped(tmp_path, matrix=matrix))
    assert "matrix: up to 100,000 runs" in msg and "limit of 10,000" in msg and "GANBENCH_MAX_RUNS" in msg


def test_a_billion_seeds_are_refused_fast(tmp_path):
    refused(tmp_path, dumped(tmp_path, seeds=1_000_000_000), words=["seeds: up to 1,000,000,000 runs"])


def test_max_runs_env_var(tmp_path, registry, monkeypatch):
    path = dumped(tmp_path, seeds=3)
    monkeypatch.setenv("GANBENCH_MAX_RUNS", "2")
    assert "limit of 2 " in message(registry, path)
    monkeypatch.setenv("GANBENCH_MAX_RUNS", "3")
    assert len(load_suite(path, registry).runs) == 3
    monkeypatch.setenv("GANBENCH_MAX_RUNS", "lots")
    assert "GANBENCH_MAX_RUNS: must be a positive integer" in message(registry, path)


@pytest.mark.parametrize("key", ["samples", "curve_samples", "real_samples"])
def test_eval_sample_counts_are_bounded(tmp_path, registry, key):
    path = dumped(tmp_path, base={**TINY_BASE, "eval": {"every": "none", key: 10**7}})
    assert f"base.eval.{key}: must be <= 1,000,000" in message(registry, path)


# ---------------------------------------------------------------- 6. what is not a suite file


def test_endless_and_special_files_are_refused(tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    for path in ("/dev/zero", fifo, tmp_path):
        refused(tmp_path, path, words=["not a regular file"])


def test_a_suite_file_over_1_mib_is_refused(tmp_path):
    path = suite_file(tmp_path, "name: s\n" + BASE_YAML + "# padding\n" * 120_000)
    refused(tmp_path, path, words=["larger than 1 MiB"])


# ---------------------------------------------------------------- 7. deep nesting


def test_deep_nesting_is_one_line(tmp_path, registry):
    path = suite_file(tmp_path, "name: s\n" + BASE_YAML + "description: " + "[" * 100_000 + "]" * 100_000 + "\n")
    refused(tmp_path, path, words=["nested more than 100 levels deep"])
    assert "nested" in message(registry, path, ["z_dim=" + "[" * 5000 + "]" * 5000])


# ---------------------------------------------------------------- 8. values that fail every run


@pytest.mark.parametrize(
    "patch,words",
    [
        ({"seeds": [4294967296]}, "seeds: must be a count or a list of integers from 0 to 2,147,483,647"),
        ({"seeds": 2**40}, "seeds: a count must be at most"),
        ({"base": {**TINY_BASE, "optimizer": {"name": "adam", "lr": 1e300}}}, "base.optimizer.lr: must be <= 10"),
        ({"base": {**TINY_BASE, "optimizer": {"name": "adam", "lr": 1e-3, "betas": [0.5, 1.0]}}}, "optimizer.betas: must be < 1"),
        ({"base": {**TINY_BASE, "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 1.5}}}, "optimizer.momentum: must be < 1"),
        ({"base": {**TINY_BASE, "optimizer": {"name": "sgd", "lr": 0.1, "weight_decay": 1e300}}}, "weight_decay: must be <= 10"),
        ({"base": {**TINY_BASE, "lr_ratio": 1e300}}, "base.lr_ratio: must be <= 100"),
        ({"base": {**TINY_BASE, "z_dim": 2**63}}, "base.z_dim: must be <= 2,147,483,647"),
    ],
    ids=["seed-2**32", "seed-count", "lr", "betas", "momentum", "weight_decay", "lr_ratio", "z_dim"],
)
def test_values_that_would_fail_every_run(tmp_path, registry, patch, words):
    assert words in message(registry, dumped(tmp_path, **patch))


def test_a_beta_just_under_one_is_fine(tmp_path, registry):
    base = {**TINY_BASE, "optimizer": {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.9999999]}}
    assert load_suite(dumped(tmp_path, base=base), registry).runs[0].config["optimizer"]["betas"][1] == 0.9999999


def test_huge_integers_in_yaml(tmp_path, registry):
    path = suite_file(tmp_path, "name: s\n" + BASE_YAML.replace("32", "1" * 5000))
    assert "line 2: integer too large" in message(registry, path)


# ---------------------------------------------------------------- 9. exclude everything


def test_exclude_of_every_combination_is_refused(tmp_path, registry):
    path = dumped(tmp_path, matrix={"n_disc": [1, 2]}, exclude=[{"n_disc": 1}, {"n_disc": 2}])
    assert "exclude: removes every combination of the matrix" in message(registry, path)
    # an include may still add combinations of its own
    path = dumped(tmp_path, matrix={"n_disc": [1]}, exclude=[{"n_disc": 1}], include=[{"n_disc": 3}])
    assert [r.config["n_disc"] for r in load_suite(path, registry).runs] == [3]


# ---------------------------------------------------------------- 10. an ASCII-only stdout


def test_dry_run_prints_on_an_ascii_stdout(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONIOENCODING", "ascii")
    out = cli("run", dumped(tmp_path, description="Adam vs SGD — über ✓"), "--dry-run", "--results", tmp_path / "r")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Adam vs SGD ? ?ber ?" in out.stdout


# ---------------------------------------------------------------- 11. traverse


@pytest.mark.parametrize(
    "args,words",
    [
        (["--steps", "100000"], "--steps must be from 2 to 64"),
        (["--span", "nan"], "--span must be a finite number > 0"),
        (["--span", "inf"], "--span must be a finite number > 0"),
    ],
)
def test_traverse_bounds(tmp_path, args, words):
    out = cli("traverse", tmp_path / "no-run", *args, "-o", tmp_path / "t.png")
    line = out.stderr.strip()
    assert out.returncode == 2 and line.startswith("error: ") and "\n" not in line, out.stderr[-3000:]
    assert words in line
    assert not (tmp_path / "t.png").exists()


# ---------------------------------------------------------------- 12. YAML 1.2 floats


def test_exponent_floats_in_a_suite_and_in_set(tmp_path, registry):
    text = "name: s\n" + BASE_YAML + "matrix:\n  optimizer.lr: [2e-4, 1.0e0, .5E-1]\n"
    path = suite_file(tmp_path, text)
    assert [r.config["optimizer"]["lr"] for r in load_suite(path, registry).runs] == [2e-4, 1.0, 0.05]
    runs = load_suite(dumped(tmp_path), registry, ["optimizer.lr=1e-3", "lr_ratio=2E+0"]).runs
    assert runs[0].config["optimizer"]["lr"] == 1e-3 and runs[0].config["lr_ratio"] == 2.0


def test_readme_set_example_runs(tmp_path):
    out = cli("run", dumped(tmp_path), "--set", "optimizer.lr=1e-3", "--dry-run", "--results", tmp_path / "r")
    assert out.returncode == 0, out.stderr[-3000:]
