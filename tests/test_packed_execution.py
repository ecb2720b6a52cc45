"""Packs through the executors: a pack is one job (one worker, one Ray task), each of its
runs is committed, claimed and resumed on its own, and a worker that dies fails the pack's
runs with the reason."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import plugin_for_tests
import pytest
import torch
from conftest import ganbench
from rich.console import Console

from ganbench.runner import run_suite
from ganbench.suite import load_suite
from ganbench.testing import make_registry

TIMING = {"train_img_per_s", "train_s", "wall_s", "d_pretrain_s", "d_step_ms", "g_step_ms", "peak_mem_mb", "eval_s"}
HISTORY_TIMING = ["wall_s", "train_s", "eval_s"]


def records(suite_dir) -> dict[str, dict]:
    return {p.name: json.loads((p / "run.json").read_text()) for p in suite_dir.glob("[!.]*")}


def assert_same_runs(a_dir, b_dir):
    """Bitwise the same numbers: the same packed kernels, the same seeds and threads."""
    a, b = records(a_dir), records(b_dir)
    assert a.keys() == b.keys() and a
    for run_id in a:
        assert {k: v for k, v in a[run_id]["metrics"].items() if k not in TIMING} == {
            k: v for k, v in b[run_id]["metrics"].items() if k not in TIMING
        }
        pd.testing.assert_frame_equal(
            pd.read_csv(a_dir / run_id / "history.csv").drop(columns=HISTORY_TIMING, errors="ignore"),
            pd.read_csv(b_dir / run_id / "history.csv").drop(columns=HISTORY_TIMING, errors="ignore"),
        )
        ga, gb = torch.load(a_dir / run_id / "G.pt"), torch.load(b_dir / run_id / "G.pt")
        assert all(torch.equal(ga[k], gb[k]) for k in ga)


def test_packs_as_jobs_of_the_process_executor(tmp_path, write_suite):
    registry = make_registry(plugin_for_tests)
    path = write_suite(base={"steps": 4, "pack": 2, "eval": {"every": "4 steps", "samples": 100}}, seeds=4)
    suite = load_suite(path, registry)
    quiet = Console(quiet=True)
    one = run_suite(suite, registry, tmp_path / "local", "cpu", console=quiet, executor="local", threads=1)
    two = run_suite(suite, registry, tmp_path / "process", "cpu", console=quiet, executor="process", jobs=2, threads=1)
    assert one.counts == two.counts == {"complete": 4}
    assert_same_runs(tmp_path / "local" / "tiny", tmp_path / "process" / "tiny")
    got = records(tmp_path / "process" / "tiny")
    by_seed = {r["seed"]: r for r in got.values()}
    assert all(r["env"]["speed"]["pack"] == 2 and r["env"]["executor"] == "process" for r in got.values())
    assert by_seed[0]["env"]["packed_with"] == [by_seed[1]["id"]] and by_seed[2]["env"]["packed_with"] == [by_seed[3]["id"]]

    # a worker killed in the middle of a pack fails both of its runs, saying why; a rerun finishes them
    marker = tmp_path / "killed-once"
    path = write_suite(
        name="dies", base={"steps": 6, "pack": 2, "architecture": {"name": "dies", "how": "kill", "marker": str(marker)}}, seeds=2
    )
    suite = load_suite(path, registry)
    outcome = run_suite(suite, registry, tmp_path / "process", "cpu", console=quiet, executor="process", jobs=1, threads=1)
    assert outcome.counts == {"failed": 2} and marker.exists()
    assert {r["error"] for r in records(tmp_path / "process" / "dies").values()} == {"worker process died: killed by SIGKILL"}
    # the plugin kills its process once (the marker): in this process, the rerun trains the pack
    outcome = run_suite(suite, registry, tmp_path / "process", "cpu", console=quiet, executor="local", threads=1)
    assert outcome.counts == {"complete": 2}


def test_a_pack_killed_after_its_checkpoint_resumes_each_seed(tmp_path, write_suite):
    base = {"steps": 400, "log_every": "10 steps", "grid_every": "none", "checkpoint_every": "40 steps", "pack": 2}
    path = write_suite(base=base, seeds=2)
    registry = make_registry()
    run_suite(load_suite(path, registry), registry, tmp_path / "whole", "cpu", console=Console(quiet=True), threads=1)

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "GANBENCH_PROGRESS_EVERY": "3600"}
    cmd = [sys.executable, "-m", "ganbench.cli", "run", str(path), "--results", str(tmp_path / "killed"), "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            metas = list((tmp_path / "killed" / "tiny").glob(".*.tmp-*/checkpoint.json"))
            if len(metas) == 2 and all(json.loads(m.read_text())["step"] >= 80 for m in metas):
                break
            time.sleep(0.02)
        else:
            raise AssertionError("the pack never checkpointed both seeds at step 80")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    out = ganbench("run", path, "--results", tmp_path / "killed", "--threads", "1")
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("resuming from its checkpoint at step") == 2
    got = records(tmp_path / "killed" / "tiny")
    assert all(r["resumed_from_step"] >= 80 and r["env"]["speed"]["pack"] == 2 for r in got.values())
    assert_same_runs(tmp_path / "whole" / "tiny", tmp_path / "killed" / "tiny")


@pytest.mark.skipif(pytest.importorskip("ray", reason="needs ray") is None, reason="needs ray")
def test_a_pack_is_one_ray_task(tmp_path, write_suite):
    import ray

    from ganbench.executors.ray import start_local_ray

    registry = make_registry()
    path = write_suite(base={"pack": 2}, seeds=2)
    suite = load_suite(path, registry)
    quiet = Console(quiet=True)
    start_local_ray(num_cpus=2)
    try:
        outcome = run_suite(suite, registry, tmp_path / "ray", torch.device("cpu"), console=quiet, executor="ray", jobs=1, threads=1)
    finally:
        ray.shutdown()
    assert outcome.counts == {"complete": 2}
    run_suite(suite, registry, tmp_path / "local", "cpu", console=quiet, threads=1)
    assert_same_runs(tmp_path / "local" / "tiny", tmp_path / "ray" / "tiny")
    got = records(tmp_path / "ray" / "tiny")
    assert all(r["env"]["executor"] == "ray" and r["env"]["speed"]["pack"] == 2 for r in got.values())
    for r in got.values():
        assert sorted(p.name for p in (tmp_path / "ray" / "tiny" / r["id"] / "grids").iterdir()) == ["step_0000003.png", "step_0000006.png"]
