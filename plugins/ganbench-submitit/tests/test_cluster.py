"""End to end on submitit's local executor: real job processes, submitit's own requeue path
(the same as on SLURM, minus sbatch), and the runs' folders and claims in a results store.

A `gate` callback holds a run at step 5 (its checkpoint of step 4 on disk) until the test
has preempted, killed or orphaned its job; every resumed run must end with exactly the
history of the same run trained without interruption in this process.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
from ganbench_submitit.worker import LEASE_FILE
from rich.console import Console

from ganbench import api

BASE = {
    "dataset": "ring8",
    "architecture": {"name": "mlp", "g_hidden": [16], "d_hidden": [16]},
    "loss": "vanilla",
    "batch_size": 32,
    "z_dim": 4,
    "steps": 10,
    "log_every": "2 steps",
    "checkpoint_every": "2 steps",
    "eval": {"every": "none"},
}
LOCAL = {"cluster": "local", "poll_s": 0.2, "cpus_per_run": 1}
TIMING = ("wall_s", "train_s")  # the only history columns that may differ between two trainings
WAIT_S = 120


def gated(tmp: Path, seed: int = -1) -> dict:
    gate = {"name": "gate", "at": 5, "open": str(tmp / "open"), "reached": str(tmp / "reached"), "seed": seed}
    return {**BASE, "callbacks": [gate]}


def suite(name: str, base: dict, seeds=1) -> dict:
    return {"name": name, "base": base, "seeds": seeds}


def history(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "history.csv").drop(columns=list(TIMING))


def reference(tmp: Path, base: dict, registry, seeds=1) -> list[pd.DataFrame]:
    """The same runs trained without interruption, in this process."""
    out = api.run_suite(suite("reference", base, seeds), tmp / "reference", devices="cpu", registry=registry, quiet=True)
    assert out.counts == {"complete": seeds}
    return [history(d) for d in out.run_dirs()]


def wait_for(what, check, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def lease_of(store: Path, seed: int) -> dict | None:
    for path in store.glob(f".s{seed}-*.tmp-*/{LEASE_FILE}"):
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None
    return None


def gate_reached(tmp: Path, suite_name: str, seed: int, lease_check) -> dict:
    """Wait until run `seed` stands at the gate in a task whose lease passes `lease_check`."""

    def at_gate():
        lease = lease_of(tmp / "results" / suite_name, seed)
        return lease if (tmp / "reached").exists() and lease and lease_check(lease) else None

    lease = wait_for("the run at its gate", at_gate)
    (tmp / "reached").unlink()
    return lease


def test_an_array_trains_like_local_and_a_preempted_then_killed_run_resumes(tmp_path, ganbench_registry):
    """Two runs in one array: seed 0 trains straight through; seed 1 is preempted at its gate
    (SIGUSR2, what SLURM sends before a time-out: submitit requeues the job), then its
    requeued task is killed outright (SIGKILL: the executor resubmits the run). Each time it
    resumes from its checkpoint; both end exactly as if never interrupted."""
    base = gated(tmp_path, seed=1)
    (tmp_path / "open").touch()
    expected = reference(tmp_path, base, ganbench_registry, seeds=2)
    (tmp_path / "open").unlink()
    (tmp_path / "reached").unlink(missing_ok=True)
    seen = []

    def actor():
        try:
            first = gate_reached(tmp_path, "e2e", 1, lambda lease: lease["attempt"] == 1)
            seen.append(first)
            os.kill(first["pid"], signal.SIGUSR2)  # preemption: submitit requeues the same job
            second = gate_reached(tmp_path, "e2e", 1, lambda lease: lease["attempt"] == 2)
            seen.append(second)
            os.kill(second["pid"], signal.SIGKILL)  # no handler runs: the job ends without a result
            seen.append(gate_reached(tmp_path, "e2e", 1, lambda lease: lease["job_id"] != first["job_id"]))
        finally:
            (tmp_path / "open").touch()

    text = io.StringIO()
    thread = threading.Thread(target=actor, daemon=True)
    thread.start()
    out = api.run_suite(
        suite("e2e", base, seeds=2),
        tmp_path / "results",
        devices="cpu",
        executor="slurm",
        executor_options=LOCAL,
        registry=ganbench_registry,
        console=Console(file=text, width=200),
    )
    thread.join(5)
    log = text.getvalue()
    assert out.counts == {"complete": 2}, log
    assert len(seen) == 3, log
    records = [json.loads((d / "run.json").read_text()) for d in out.run_dirs()]
    for run_dir, record, want in zip(out.run_dirs(), records, expected):
        pd.testing.assert_frame_equal(history(run_dir), want)  # bitwise the uninterrupted run
        assert Path(record["slurm"]["stdout"]).is_file() and Path(record["slurm"]["stderr"]).is_file()
    straight, resumed = records
    assert "resumed_from_step" not in straight and straight["slurm"]["attempt"] == 1
    assert resumed["resumed_from_step"] == 4  # the checkpoint before the gate, both times
    slurm = resumed["slurm"]
    assert (slurm["attempt"], slurm["submissions"], slurm["cluster"]) == (3, 2, "local")
    assert slurm["job_id"] == seen[2]["job_id"] != seen[0]["job_id"] == seen[1]["job_id"]
    assert "Requeued job" in Path(seen[0]["stdout"]).read_text()  # submitit's own requeue path ran
    assert "slurm: submitted 2 runs as job" in log and "(attempt 2)" in log and "resubmitting" in log
    assert "0 runs waiting in the queue, 2 running" in log


DRIVER = """
import json, sys
import ganbench_submitit.plugin, gate_plugin
from ganbench import api
from ganbench.testing import make_registry
suite, results, options = json.loads(sys.argv[1])
registry = make_registry(ganbench_submitit.plugin, gate_plugin)
api.run_suite(suite, results, devices="cpu", executor="slurm", executor_options=options, registry=registry)
"""


def test_an_orphaned_job_is_left_to_finish_commits_itself_and_is_never_trained_twice(tmp_path, ganbench_registry):
    """The scheduler dies (SIGKILL: a login session that ended) while its job trains. Another
    `ganbench run` leaves the run to the job; the job commits the run itself; a third finds
    it finished. Nothing trains it a second time."""
    spec = suite("orphan", gated(tmp_path))
    results = tmp_path / "results"
    scheduler = subprocess.Popen(
        [sys.executable, "-c", DRIVER, json.dumps([spec, str(results), LOCAL])], stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    try:
        lease = gate_reached(tmp_path, "orphan", 0, lambda lease: True)
    finally:
        scheduler.kill()
        scheduler.wait()
    claims = results / "orphan" / ".claims"
    log = lambda: f"claims: {[p.read_text() for p in claims.glob('*.json')]}; job log: {Path(lease['stderr']).read_text()[-1500:]}"  # noqa: E731
    again = api.run_suite(spec, results, devices="cpu", executor="slurm", executor_options=LOCAL, registry=ganbench_registry, quiet=True)
    assert (again.counts, again.elsewhere, again.skipped) == ({}, 1, 0), log()  # the job's claim is live: left to it
    assert not list((results / "orphan").glob("s0-*/run.json"))
    (tmp_path / "open").touch()
    run_json = wait_for("the job to commit its run", lambda: next(iter((results / "orphan").glob("s0-*/run.json")), None))
    record = json.loads(run_json.read_text())
    assert record["status"] == "complete" and record["slurm"].get("committed_by") == "job", (record.get("slurm"), log())
    assert record["slurm"]["job_id"] == lease["job_id"] and "resumed_from_step" not in record, log()
    assert not list(claims.glob("*.json")), log()  # released by the job
    last = api.run_suite(spec, results, devices="cpu", executor="slurm", executor_options=LOCAL, registry=ganbench_registry, quiet=True)
    assert (last.counts, last.skipped) == ({}, 1), log()


def test_a_pack_is_one_task_of_one_job(tmp_path, ganbench_registry):
    """Two seeds of a cell as a PackJob: one task trains them as one stacked model, each run
    with its own lease and record, as close to the runs trained alone as packing promises."""
    base = {**BASE, "pack": 2}
    expected = reference(tmp_path, {**base, "pack": "none"}, ganbench_registry, seeds=2)
    text = io.StringIO()
    out = api.run_suite(
        suite("packed", base, seeds=2),
        tmp_path / "results",
        devices="cpu",
        executor="slurm",
        executor_options=LOCAL,
        registry=ganbench_registry,
        console=Console(file=text, width=200),
    )
    assert out.counts == {"complete": 2}, text.getvalue()
    records = [json.loads((d / "run.json").read_text()) for d in out.run_dirs()]
    assert len({r["slurm"]["job_id"] for r in records}) == 1 and {r["slurm"]["task"] for r in records} == {0}
    assert [r["env"]["packed_with"] for r in records] == [[records[1]["id"]], [records[0]["id"]]]
    for run_dir, want in zip(out.run_dirs(), expected):
        pd.testing.assert_frame_equal(history(run_dir), want, rtol=1e-4)  # vmap's sums: tolerance, not bitwise
    assert "slurm: submitted 2 runs as job" in text.getvalue()
