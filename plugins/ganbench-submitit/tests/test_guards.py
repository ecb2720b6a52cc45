"""The guards of a job's task, in this process: which run it may train, and when."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from ganbench_submitit.worker import LEASE_FILE, RESULT_FILE, Timing, train_task, wait_for_lease

from ganbench.job import RunJob

FAST = Timing(heartbeat_s=0.2)  # a lease untouched for 0.8 s is stale


def run_folder(tmp: Path, token="vm-1-aaaa", claim_token="vm-1-aaaa") -> tuple[Path, RunJob]:
    store = tmp / "suite"
    out = store / f".r-1234.tmp-{token}"
    (out / "grids").mkdir(parents=True)
    (store / ".claims").mkdir()
    (store / ".claims" / "r-1234.json").write_text(json.dumps({"run_id": "r-1234", "host": "login", "pid": 1, "token": claim_token}))
    return out, RunJob("r-1234", "suite", {}, {}, 0, str(out), "cpu", {}, {})


def fake_env(tmp: Path, job_id="77"):
    paths = SimpleNamespace(stdout=tmp / "log.out", stderr=tmp / "log.err")
    return SimpleNamespace(job_id=job_id, global_rank=0, local_rank=0, cluster="local", paths=paths)


def test_a_task_whose_claim_was_taken_over_does_not_train(tmp_path):
    """Its scheduler died while the job was queued and another ganbench claimed the run: the
    task returns a refusal without touching the run's folder (it has no model to build)."""
    out, job = run_folder(tmp_path, claim_token="other-host-9-bbbb")
    (record,) = train_task([job], fake_env(tmp_path), 0, tmp_path / "beat", FAST)
    assert record["status"] == "failed" and "claimed meanwhile by login pid 1" in record["error"]
    assert record["slurm"]["refused"] and not (out / LEASE_FILE).exists()
    (gone,) = train_task([RunJob("r-9", "suite", {}, {}, 0, str(tmp_path / "nope"), "cpu", {}, {})], fake_env(tmp_path), 0, tmp_path, FAST)
    assert "is gone" in gone["error"]


def test_another_jobs_live_lease_is_waited_for_and_its_result_returned(tmp_path):
    out, _ = run_folder(tmp_path)
    (out / LEASE_FILE).write_text(json.dumps({"job_id": "12", "host": "node7", "pid": 5, "attempt": 1}))
    done = {"id": "r-1234", "status": "complete"}

    def other_job():  # keeps its lease live for a while, then finishes the run
        for _ in range(6):
            os.utime(out / LEASE_FILE)
            time.sleep(0.1)
        (out / RESULT_FILE).write_text(json.dumps(done))

    threading.Thread(target=other_job, daemon=True).start()
    t0 = time.monotonic()
    assert wait_for_lease(out, {"job_id": "13", "host": "node8"}, FAST) == done  # never trains it itself
    assert time.monotonic() - t0 >= 0.5


def test_a_silent_or_own_lease_is_taken_over(tmp_path):
    out, _ = run_folder(tmp_path)
    (out / LEASE_FILE).write_text(json.dumps({"job_id": "12", "host": "node7", "pid": 5}))
    assert wait_for_lease(out, {"job_id": "12", "host": "node7"}, FAST) is None  # a requeued attempt of the same job
    old = time.time() - 5
    os.utime(out / LEASE_FILE, (old, old))
    t0 = time.monotonic()
    assert wait_for_lease(out, {"job_id": "13", "host": "node8"}, FAST) is None  # its task is gone
    assert time.monotonic() - t0 < 0.5
