"""kill -9 in the middle of a suite, then the same command again: every run completes
exactly once, nothing half-written is ever marked complete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import ganbench

from ganbench.store import ResultsStore


def complete_runs(suite_dir):
    out = {}
    for d in suite_dir.iterdir():
        if d.name.startswith("."):
            continue
        rec = json.loads((d / "run.json").read_text())  # a visible run always has its run.json
        assert rec["status"] == "complete"
        assert (d / "history.csv").is_file() and (d / "G.pt").is_file() and (d / "D.pt").is_file()
        out[d.name] = rec
    return out


def test_kill_9_mid_suite_then_rerun_finishes_each_run_once(tmp_path, write_suite):
    path = write_suite(base={"steps": 200, "log_every": "50 steps"}, seeds=3)
    results = tmp_path / "results"
    suite_dir = results / "tiny"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganbench.cli", "run", str(path), "--results", str(results)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        # Wait until one run is in place and the next one is being written, then kill.
        deadline = time.time() + 120
        while time.time() < deadline:
            if suite_dir.is_dir():
                names = [p.name for p in suite_dir.iterdir()]
                if any(not n.startswith(".") for n in names) and any(".tmp-" in n for n in names):
                    break
            time.sleep(0.02)
        else:
            raise AssertionError("the suite never got to its second run")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    before = complete_runs(suite_dir)
    assert 1 <= len(before) < 3
    assert any(".tmp-" in p.name for p in suite_dir.iterdir())  # the killed run's temp folder

    out = ganbench("run", path, "--results", results)
    assert out.returncode == 0, out.stderr
    assert f"skipping {len(before)} of 3 runs" in out.stderr
    after = complete_runs(suite_dir)
    assert len(after) == 3
    for run_id, rec in before.items():  # runs finished before the kill were not redone
        assert after[run_id]["started"] == rec["started"]
    assert not [p for p in suite_dir.iterdir() if p.name.startswith(".") and p.name != ".claims"]
    assert not list((suite_dir / ".claims").glob("*.json"))


def test_interrupted_swap_restores_the_previous_run(tmp_path):
    """Killed between moving the old run aside and moving the new one in (--rerun)."""
    store = ResultsStore(tmp_path, "s").create()
    old = tmp_path / "s" / ".run-a.old-999999999"
    old.mkdir()
    (old / "run.json").write_text('{"id": "run-a", "suite": "s", "status": "complete", "config": {}, "metrics": {}}')
    (old / "history.csv").write_text("step,d_loss\n1,0.5\n")
    half = tmp_path / "s" / ".run-a.tmp-999999999"
    half.mkdir()
    store.recover()
    assert store.status("run-a") == "complete" and not old.exists() and not half.exists()
