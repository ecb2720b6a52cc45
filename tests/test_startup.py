"""Commands that train nothing start in a fraction of a second: they import no torch.

Importing torch and torchvision takes seconds (6 s of the 8-9 s `--dry-run` once took
on a busy machine). `--help`, `plugins`, `run --dry-run` and a refused suite need
neither, so the built-in plugins register their factories and suites are validated
without them. Asserted on the modules Python reports importing (`-X importtime`), never
on a wall-clock time. Third-party plugins may import torch themselves: the plugin set is
pinned to the built-ins here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from conftest import TINY_BASE

# Packages that cost a second or more to import, none of which these commands need.
HEAVY = ("torch", "torchvision", "torch_fidelity", "pandas", "matplotlib", "scipy", "sklearn")


def imported(*args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run the CLI with -X importtime; return the process and the top-level packages it imported."""
    env = {**os.environ, "GANBENCH_PLUGINS": "", "COLUMNS": "200"}
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ganbench.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )
    lines = [line for line in out.stderr.splitlines() if line.startswith("import time:")]
    assert lines, out.stderr[-2000:]  # -X importtime wrote its report
    modules = {line.rsplit("|", 1)[-1].strip() for line in lines}
    return out, {m.split(".")[0] for m in modules}


@pytest.fixture
def suites(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(
        yaml.safe_dump(
            {
                "name": "good",
                "base": TINY_BASE,
                "seeds": 2,
                "matrix": {"loss": ["vanilla", "wgan-gp"], "optimizer": [{"name": "sgd", "lr": 0.01}, {"name": "adam", "lr": 1e-3}]},
            }
        )
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "bad", "base": {**TINY_BASE, "optimiser": {"name": "adam"}}}))
    return good, bad


@pytest.mark.parametrize("case", ["help", "run-help", "plugins", "dry-run", "refused", "refused-dry-run", "bad-set"])
def test_commands_that_train_nothing_import_no_torch(tmp_path, suites, case):
    good, bad = suites
    results = tmp_path / "results"
    args, code = {
        "help": (["--help"], 0),
        "run-help": (["run", "--help"], 0),
        "plugins": (["plugins"], 0),
        "dry-run": (["run", good, "--dry-run", "--set", "optimizer.lr=1e-4", "--results", results], 0),
        "refused": (["run", bad, "--results", results], 2),
        "refused-dry-run": (["run", bad, "--dry-run", "--results", results], 2),
        "bad-set": (["run", good, "--set", "batch_size=0", "--results", results], 2),
    }[case]
    out, packages = imported(*map(str, args))
    assert out.returncode == code, out.stderr[-3000:]
    assert not packages & set(HEAVY), f"imported {sorted(packages & set(HEAVY))}"
    if case == "dry-run":
        assert "good: 8 runs" in out.stdout


def test_the_builtin_plugins_register_without_torch():
    """The registry, a suite's validation, the contracts and the Python API's import, in a
    fresh interpreter."""
    code = (
        "import sys\n"
        "import ganbench, ganbench.api\n"
        "ganbench.run_suite, ganbench.load_results, ganbench.sample\n"  # the API, re-exported lazily
        "from ganbench.plugins import load_registry\n"
        "from ganbench.suite import expand\n"
        "from ganbench.contracts import DataSpec, GanData, Loss, Models\n"
        "reg = load_registry()\n"
        "assert not reg.broken, reg.broken\n"
        "expand({'name': 's', 'base': {'architecture': 'mlp', 'dataset': 'ring8', 'loss': 'wgan-gp'}}, reg)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "GANBENCH_PLUGINS": ""}, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "[]"


def test_the_lazy_contracts_are_the_same_classes():
    """Discriminator is defined on first use: one class, pickled by reference as before."""
    import pickle

    import ganbench.contracts as contracts
    from ganbench.builtin.architectures import DCGANDiscriminator, MLPGenerator
    from ganbench.contracts import Discriminator
    from ganbench.optimizers import OPTIMIZERS

    assert contracts.Discriminator is Discriminator and issubclass(DCGANDiscriminator, Discriminator)
    assert pickle.loads(pickle.dumps(Discriminator)) is Discriminator
    assert Discriminator.__module__ == "ganbench.contracts" and Discriminator.__qualname__ == "Discriminator"
    assert MLPGenerator.__name__ == "MLPGenerator"
    import torch

    assert OPTIMIZERS["adam"][0] is torch.optim.Adam and "betas" in OPTIMIZERS["adam"][1]


def test_a_digits_run_without_grids_or_scores_imports_neither_sklearn_torchvision_nor_pandas(tmp_path):
    """A worker's start-up is most of a tiny run: scikit-learn (~1.3 s), torchvision
    (~1.5 s, with the torch._dynamo it imports) and pandas (~0.4 s) are imported only by
    what needs them: a resize, a sample grid, an evaluation; the digits are read from
    scikit-learn's file and history.csv is written with the standard library."""
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump({"name": "plain", "base": {**TINY_BASE, "grid_every": "none"}}))
    out, packages = imported("run", str(path), "--results", str(tmp_path / "r"))
    assert out.returncode == 0, out.stderr[-3000:]
    (run_json,) = (tmp_path / "r" / "plain").glob("*/run.json")
    import torchvision  # here, not in the run: the versions it records are read from files

    assert json.loads(run_json.read_text())["env"]["torchvision"] == torchvision.__version__  # build label included
    unneeded = {"sklearn", "torchvision", "torch_fidelity", "pandas", "scipy", "matplotlib"}
    assert not packages & unneeded, f"imported {sorted(packages & unneeded)}"
