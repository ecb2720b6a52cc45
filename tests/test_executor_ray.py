"""The Ray executor: runs as Ray tasks on a local Ray, a lost worker retried once, no Ray.

This module is also a plugin (an architecture whose generator kills its own process): the
Ray workers import it by name, `test_executor_ray`, from the scheduler's sys.path.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from rich.console import Console

from ganbench import hookimpl
from ganbench.builtin.architectures import dcgan
from ganbench.runner import run_suite
from ganbench.suite import load_suite
from ganbench.testing import make_registry

ray = pytest.importorskip("ray", reason="the Ray executor's tests need `pip install 'ganbench[ray]'`")


LOGGED = ["d_loss", "g_loss", "d_acc_real", "d_acc_fake"]  # what must not depend on the executor


# ---------------------------------------------------------------- the plugin


def ray_killer(data, z_dim, marker: str = "", always: bool = False, spare_pid: int = 0):
    """A tiny DCGAN whose generator SIGKILLs its process on its first forward pass.

    Only once (it leaves `marker`, which the retry sees) unless `always`; never in the
    process `spare_pid` (the scheduler, which builds the models to check them).
    """
    models = dcgan(data, z_dim, ngf=8, ndf=8)

    def kill(module, args):
        if os.getpid() != spare_pid and (always or not os.path.exists(marker)):
            Path(marker).touch()
            os.kill(os.getpid(), signal.SIGKILL)

    models.generator.register_forward_pre_hook(kill)
    return models


@hookimpl
def register_architectures(register):
    register("ray-killer", ray_killer)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module, on loopback; the executor must reuse it and leave it up."""
    from ganbench.executors.ray import start_local_ray

    start_local_ray(num_cpus=2)
    yield ray
    ray.shutdown()


def run(path, registry, results, **kw):
    suite = load_suite(path, registry)
    return suite, run_suite(suite, registry, results, torch.device("cpu"), console=Console(quiet=True), threads=1, **kw)


def record(results, suite, i=0) -> dict:
    return json.loads((results / suite.name / suite.runs[i].id / "run.json").read_text())


# ---------------------------------------------------------------- tests


def test_runs_as_ray_tasks_with_the_same_numbers_as_local(tmp_path, registry, write_suite, local_ray):
    path = write_suite(seeds=2)
    suite, outcome = run(path, registry, tmp_path / "ray", executor="ray", jobs=2)
    assert outcome.counts == {"complete": 2} and outcome.exit_code == 0
    assert local_ray.is_initialized()  # a Ray the executor did not start stays up
    _, local = run(path, registry, tmp_path / "local", executor="local")
    assert local.counts == {"complete": 2}
    for i, r in enumerate(suite.runs):
        folder = tmp_path / "ray" / "tiny" / r.id
        assert {"run.json", "history.csv", "G.pt", "D.pt"} <= {p.name for p in folder.iterdir()}
        assert sorted(p.name for p in (folder / "grids").iterdir()) == ["step_0000003.png", "step_0000006.png"]
        got, want = record(tmp_path / "ray", suite, i), record(tmp_path / "local", suite, i)
        assert got["status"] == "complete"
        assert got["env"]["executor"] == "ray" and got["env"]["runs_per_device"] == 2 and got["env"]["ray_address"] == "local"
        assert got["env"]["threads"] == want["env"]["threads"] == 1
        for key in LOGGED:
            assert got["metrics"][key] == want["metrics"][key], key  # bitwise: same seed, same threads
        history = [pd.read_csv(root / "tiny" / r.id / "history.csv")[LOGGED] for root in (tmp_path / "ray", tmp_path / "local")]
        pd.testing.assert_frame_equal(*history, check_exact=True)
    left = {p.name for p in (tmp_path / "ray" / "tiny").iterdir()} - {".claims"}
    assert left == {r.id for r in suite.runs}  # no temporary folder left

    # A d_pretrain donor's D.pt travels to the worker; run.json names the scheduler's folder.
    donor = (tmp_path / "ray" / "tiny" / suite.runs[0].id).resolve()
    path = write_suite(name="frozen", base={"d_pretrain": {"from_run": str(donor)}, "freeze_d": "all"})
    frozen, outcome = run(path, registry, tmp_path / "ray", executor="ray", jobs=2)
    assert outcome.counts == {"complete": 1}
    assert record(tmp_path / "ray", frozen)["d_pretrain_donor"]["path"] == str(donor)
    before, after = (torch.load(f / "D.pt") for f in (donor, tmp_path / "ray" / "frozen" / frozen.runs[0].id))
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_lost_worker_is_retried_once_then_its_run_fails(tmp_path, write_suite, local_ray):
    registry = make_registry(sys.modules[__name__])
    assert registry.source["modules"] == [__name__]  # what the Ray workers import
    once, always = tmp_path / "once", tmp_path / "always"
    killers = [
        {"name": "ray-killer", "marker": str(once), "spare_pid": os.getpid()},
        {"name": "ray-killer", "marker": str(always), "always": True, "spare_pid": os.getpid()},
    ]
    path = write_suite(matrix={"architecture": killers})
    suite, outcome = run(path, registry, tmp_path / "r", executor="ray", jobs=2)
    assert outcome.counts == {"complete": 1, "failed": 1}, outcome
    assert once.exists() and always.exists()  # both were killed at least once
    retried = record(tmp_path / "r", suite, 0)
    assert retried["status"] == "complete" and retried["env"]["executor"] == "ray"
    lost = record(tmp_path / "r", suite, 1)
    assert lost["status"] == "failed" and "Ray worker lost twice" in lost["error"] and "\n" not in lost["error"]
    assert local_ray.is_initialized()


def test_without_ray_the_cli_says_how_to_install_it(tmp_path, write_suite):
    results = tmp_path / "results"
    code = "import sys; sys.modules['ray'] = None; from ganbench.cli import main; main()"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code, "run", str(write_suite()), "--executor", "ray", "--results", str(results)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install" in lines[0], done.stderr
    assert not results.exists()
