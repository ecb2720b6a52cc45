"""Execution: runs at once in worker processes, claims, dead workers, signals, up-front checks.

The promises: a run's numbers do not depend on which executor or slot trained it; no run
is trained twice, even by two `ganbench run` on one folder; a worker that dies fails only
its run; bad input is refused before anything is written.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import plugin_for_tests
import pytest
import torch
from conftest import ganbench
from rich.console import Console

from ganbench.claims import ClaimBook, hostname, process_start
from ganbench.runner import SuiteInvalid, run_suite
from ganbench.suite import load_suite
from ganbench.testing import make_registry

TIMING = {"train_img_per_s", "train_s", "wall_s", "d_pretrain_s", "d_step_ms", "g_step_ms", "peak_mem_mb", "eval_s"}


@pytest.fixture
def test_registry():
    """Built-ins + tests/plugin_for_tests.py, rebuildable by name in worker processes."""
    return make_registry(plugin_for_tests)


def run(path, registry, results, **kw):
    suite = load_suite(path, registry, kw.pop("overrides", []))
    return suite, run_suite(suite, registry, results, "cpu", console=Console(quiet=True), **kw)


def runs_of(suite_dir: Path) -> dict[str, dict]:
    return {p.name: json.loads((p / "run.json").read_text()) for p in suite_dir.glob("[!.]*")}


def leftovers(suite_dir: Path) -> list[str]:
    """Temporary folders and unreleased claims: none may stay after a suite."""
    temp = [p.name for p in suite_dir.glob(".*") if p.name != ".claims"]
    return temp + [p.name for p in (suite_dir / ".claims").glob("*.json")]


def test_jobs_2_gives_bitwise_the_numbers_of_jobs_1(tmp_path, test_registry, write_suite):
    # eval on: the classifier-based metrics must match too, whichever process built it
    path = write_suite(base={"steps": 8, "eval": {"every": "4 steps", "samples": 200, "curve_samples": 100}}, seeds=3)
    suite, one = run(path, test_registry, tmp_path / "a", executor="local", threads=1)
    _, two = run(path, test_registry, tmp_path / "b", executor="process", jobs=2, threads=1)
    assert one.counts == two.counts == {"complete": 3}
    a, b = runs_of(tmp_path / "a" / "tiny"), runs_of(tmp_path / "b" / "tiny")
    assert a.keys() == b.keys() == {r.id for r in suite.runs}
    for run_id in a:
        ma = {k: v for k, v in a[run_id]["metrics"].items() if k not in TIMING}
        mb = {k: v for k, v in b[run_id]["metrics"].items() if k not in TIMING}
        assert ma == mb and "fid_domain" in ma and "modes_covered" in ma
        assert a[run_id]["protocol"] == b[run_id]["protocol"]
        ha = pd.read_csv(tmp_path / "a" / "tiny" / run_id / "history.csv").drop(columns=["wall_s", "train_s", "eval_s"])
        hb = pd.read_csv(tmp_path / "b" / "tiny" / run_id / "history.csv").drop(columns=["wall_s", "train_s", "eval_s"])
        pd.testing.assert_frame_equal(ha, hb)
        ga, gb = (tmp_path / "a" / "tiny" / run_id / "G.pt"), (tmp_path / "b" / "tiny" / run_id / "G.pt")
        assert all(torch.equal(x, y) for x, y in zip(torch.load(ga).values(), torch.load(gb).values()))
    env_a, env_b = a[suite.runs[0].id]["env"], b[suite.runs[0].id]["env"]
    assert (env_a["executor"], env_a["runs_per_device"], env_a["threads"]) == ("local", 1, 1)
    assert (env_b["executor"], env_b["runs_per_device"], env_b["threads"]) == ("process", 2, 1)
    assert env_b["host"] == hostname() and "cudnn_deterministic" in env_b
    assert not leftovers(tmp_path / "b" / "tiny")


def test_two_ganbench_run_on_one_folder_train_each_run_once(tmp_path, write_suite):
    path = write_suite(base={"steps": 60}, seeds=6)
    results = tmp_path / "results"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "GANBENCH_PROGRESS_EVERY": "3600"}
    cmd = [sys.executable, "-m", "ganbench.cli", "run", str(path), "--results", str(results)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    trained = [{line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith("[") and ": complete" in line} for out in outs]
    runs = runs_of(results / "tiny")
    assert len(runs) == 6 and all(r["status"] == "complete" for r in runs.values())
    assert trained[0].isdisjoint(trained[1]), outs  # nobody trained a run the other trained
    assert trained[0] | trained[1] == runs.keys()
    assert not leftovers(results / "tiny")


def test_a_worker_killed_mid_run_fails_only_its_run_and_a_rerun_finishes_it(tmp_path, test_registry, write_suite):
    marker = tmp_path / "killed-once"
    path = write_suite(
        base={"steps": 6, "architecture": "mlp"},
        matrix={"architecture": ["mlp", {"name": "dies", "how": "kill", "marker": str(marker)}]},
        seeds=2,
    )
    suite, outcome = run(path, test_registry, tmp_path / "r", executor="process", jobs=2, threads=1)
    assert outcome.counts == {"complete": 3, "failed": 1} and outcome.exit_code == 1
    failed = [r for r in runs_of(tmp_path / "r" / "tiny").values() if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["error"] == "worker process died: killed by SIGKILL"
    assert failed[0]["config"]["architecture"]["name"] == "dies"
    assert not leftovers(tmp_path / "r" / "tiny")

    # the plugin kills its process once (the marker): in this process, the rerun trains it
    _, again = run(path, test_registry, tmp_path / "r", executor="local", threads=1)
    assert again.counts == {"complete": 1} and again.skipped == 3  # only the failed run is redone
    assert all(r["status"] == "complete" for r in runs_of(tmp_path / "r" / "tiny").values())


def test_a_plugin_calling_sys_exit_fails_its_run_and_the_suite_goes_on(tmp_path, test_registry, write_suite):
    path = write_suite(
        base={"steps": 6, "architecture": "mlp"},
        matrix={"architecture": [{"name": "dies", "how": "exit"}, "mlp"]},
    )
    _, outcome = run(path, test_registry, tmp_path / "r")  # the in-process executor: nothing contains it but us
    assert outcome.counts == {"failed": 1, "complete": 1}
    (failed,) = [r for r in runs_of(tmp_path / "r" / "tiny").values() if r["status"] == "failed"]
    assert failed["error"] == "SystemExit: 0"


def test_sys_exit_in_a_dataset_loader_fails_its_run_not_the_up_front_checks(tmp_path, test_registry, write_suite):
    # it was called in the up-front check, outside any run: ganbench exited 5, no message, no run tried
    path = write_suite(base={"steps": 2, "architecture": "mlp"}, matrix={"dataset": ["exits", {"name": "ring8", "n_train": 64}]})
    _, outcome = run(path, test_registry, tmp_path / "r")
    assert outcome.counts == {"failed": 1, "complete": 1}
    (failed,) = [r for r in runs_of(tmp_path / "r" / "tiny").values() if r["status"] == "failed"]
    assert failed["error"] == "SystemExit: 5"


def test_os_exit_in_a_plugin_with_the_in_process_executor_fails_its_run_not_ganbench(tmp_path, write_suite):
    # os._exit(0) in G's forward under the default --jobs 1 once ended ganbench with exit 0,
    # no message, the next run never tried. In a child: if it regressed, it would end pytest.
    path = write_suite(base={"steps": 6, "architecture": "mlp"}, matrix={"architecture": [{"name": "dies", "how": "os_exit"}, "mlp"]})
    script = (
        "import sys, plugin_for_tests; from ganbench import api; from ganbench.testing import make_registry\n"
        f"out = api.run_suite({str(path)!r}, {str(tmp_path / 'r')!r}, devices='cpu', registry=make_registry(plugin_for_tests), quiet=True)\n"
        "print(dict(out.counts)); sys.exit(out.exit_code)"
    )
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 1 and "{'failed': 1, 'complete': 1}" in out.stdout, (out.returncode, out.stdout, out.stderr)
    (failed,) = [r for r in runs_of(tmp_path / "r" / "tiny").values() if r["status"] == "failed"]
    assert failed["error"].startswith("PluginExit: a plugin called os._exit(0)")
    assert not leftovers(tmp_path / "r" / "tiny")


def test_a_live_claim_is_left_to_its_holder_and_a_dead_one_is_taken_over(tmp_path, test_registry, write_suite):
    path = write_suite(seeds=2)
    suite = load_suite(path, test_registry)
    first, second = (r.id for r in suite.runs)
    claims = tmp_path / "r" / "tiny" / ".claims"
    claims.mkdir(parents=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        live = {"host": hostname(), "pid": sleeper.pid, "pid_start": process_start(sleeper.pid), "token": "live"}
        (claims / f"{first}.json").write_text(json.dumps(live))
        (claims / f"{second}.json").write_text(json.dumps({"host": hostname(), "pid": int(dead.stdout), "token": "dead"}))
        # the live holder's run is being written: its temporary folder must survive recovery
        (tmp_path / "r" / "tiny" / f".{first}.tmp-live").mkdir()
        (tmp_path / "r" / "tiny" / f".{second}.tmp-dead").mkdir()
        _, outcome = run(path, test_registry, tmp_path / "r")
    finally:
        sleeper.kill()
    assert outcome.counts == {"complete": 1} and outcome.elsewhere == 1
    assert set(runs_of(tmp_path / "r" / "tiny")) == {second}
    assert (tmp_path / "r" / "tiny" / f".{first}.tmp-live").is_dir()
    assert not (tmp_path / "r" / "tiny" / f".{second}.tmp-dead").exists()


def test_a_claim_silent_for_longer_than_the_timeout_is_taken_over(tmp_path, monkeypatch, test_registry, write_suite):
    path = write_suite()
    (run_id,) = (r.id for r in load_suite(path, test_registry).runs)
    claims = tmp_path / "r" / "tiny" / ".claims"
    claims.mkdir(parents=True)
    claim = claims / f"{run_id}.json"
    claim.write_text(json.dumps({"host": "another-host", "pid": 1, "token": "t"}))
    book = ClaimBook(tmp_path / "r" / "tiny")
    assert book.acquire(run_id, lambda: True)[0] is None  # fresh: another host's run in progress
    old = time.time() - 3600
    os.utime(claim, (old, old))
    monkeypatch.setenv("GANBENCH_CLAIM_TIMEOUT", "60")
    got, note = book.acquire(run_id, lambda: True)
    assert got is not None and "another-host" in note and "silent" in note
    book.release(got)
    assert not claim.exists()


def test_a_garbage_claim_or_one_naming_a_reused_pid_is_stale_at_once(tmp_path):
    # each blocked its run for 10 minutes ("being trained by ? pid ? since ?"), and `run` exited 0
    book = ClaimBook(tmp_path / "suite")
    claim = book.dir / "r.json"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # alive, not ganbench
    try:
        born = process_start(sleeper.pid)
        cases = {
            "not a readable claim": b"\x00garbage{",
            "is alive but is not a ganbench process": json.dumps({"host": hostname(), "pid": sleeper.pid, "token": "t"}).encode(),
            "now belongs to another process": json.dumps(
                {"host": hostname(), "pid": sleeper.pid, "pid_start": born - 1, "token": "t"}
            ).encode(),
        }
        for why, content in cases.items():
            claim.write_bytes(content)
            got, note = book.acquire("r", lambda: True)
            assert got is not None and why in note, (why, note)
            book.release(got)
        # the holder it names, started when the claim says: live, left to it
        claim.write_text(json.dumps({"host": hostname(), "pid": sleeper.pid, "pid_start": born, "token": "t"}))
        got, holder = book.acquire("r", lambda: True)
        assert got is None and f"pid {sleeper.pid}" in holder
    finally:
        sleeper.kill()


def _first_use(cache: str, seed: int, queue) -> None:
    os.environ["GANBENCH_CACHE"] = cache
    torch.manual_seed(seed)  # a different caller RNG state in each process
    torch.set_num_threads(1)
    from ganbench.builtin.datasets import digits
    from ganbench.metrics import classifier as clf

    model = clf.get_classifier("digits", {}, digits(), torch.device("cpu"))
    queue.put((model.hash, model.trained_here, model.accuracy))


def test_the_classifier_is_built_once_under_concurrent_first_uses_and_is_the_same_everywhere(tmp_path):
    from ganbench.builtin.datasets import digits
    from ganbench.metrics import classifier as clf

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    shared = str(tmp_path / "shared")
    procs = [ctx.Process(target=_first_use, args=(shared, seed, queue)) for seed in (1, 2)]
    for p in procs:
        p.start()
    got = [queue.get(timeout=240) for _ in procs]
    for p in procs:
        p.join()
    assert sorted(trained for _, trained, _ in got) == [False, True]  # trained once, loaded by the other
    # and the classifier of this test run's own cache, trained from whatever RNG state this
    # process (or another test's) had: the same weights, the same feature space
    mine = clf.get_classifier("digits", {}, digits(), torch.device("cpu"))
    assert {h for h, _, _ in got} == {mine.hash}
    files = list((tmp_path / "shared" / "classifiers").iterdir())
    assert [f.suffix for f in files if not f.name.endswith(".lock")] == [".pt"]  # no half-written file left


@pytest.mark.parametrize(
    "base, message",
    [
        ({"dataset": {"name": "tabular-csv", "path": "/nonexistent/table.csv"}, "architecture": "mlp"}, "dataset tabular-csv"),
        ({"batch_size": 4096}, "batch_size 4096 is larger than dataset digits's"),
        ({"dataset": {"name": "image-folder", "path": "/nonexistent/images", "image_size": 16}}, "dataset image-folder"),
    ],
)
def test_what_would_fail_inside_a_run_is_refused_before_anything_is_written(tmp_path, write_suite, base, message):
    path = write_suite(base=base)
    out = ganbench("run", path, "--results", tmp_path / "results", "--jobs", "2")
    assert out.returncode == 2, out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line
    assert not (tmp_path / "results").exists()


def test_a_dcgan_size_it_cannot_build_is_refused_up_front(tmp_path, test_registry, write_suite):
    path = write_suite(base={"dataset": {"name": "digits"}, "architecture": {"name": "dcgan", "ngf": 8, "ndf": 8}})
    suite = load_suite(path, test_registry)
    suite.runs[0].config["dataset"] = {"name": "ring8"}  # points: DCGAN refuses them when built
    with pytest.raises(SuiteInvalid, match="architecture dcgan"):
        run_suite(suite, test_registry, tmp_path / "r", "cpu", console=Console(quiet=True))
    assert not (tmp_path / "r").exists()


def test_sigterm_stops_the_workers_leaves_no_half_run_and_exits_143(tmp_path, write_suite):
    path = write_suite(base={"steps": 100000, "log_every": "100 steps"}, seeds=2)
    results = tmp_path / "results"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganbench.cli", "run", str(path), "--results", str(results), "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "GANBENCH_PROGRESS_EVERY": "3600"},
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(list((results / "tiny").glob(".*.tmp-*"))) < 2:
        time.sleep(0.1)
    time.sleep(3)  # both workers are training
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "run the same command again" in err.strip().splitlines()[-1]
    assert not list((results / "tiny").glob("[!.]*")) and not leftovers(results / "tiny")
    assert "Traceback" not in err


def test_plain_progress_when_stdout_is_not_a_terminal(tmp_path, write_suite):
    path = write_suite(seeds=2, base={"eval": {"every": "6 steps", "samples": 100}})
    out = ganbench("run", path, "--results", tmp_path / "r", "--jobs", "2", env={"GANBENCH_PROGRESS_EVERY": "0"})
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()  # progress goes to stderr: stdout stays for what commands output
    assert "tiny: 2 runs to train, 2 at once" in lines
    assert sum(line.startswith("started ") and " on cpu " in line for line in lines) == 2
    assert any("done after" in line for line in lines)  # the periodic status line
    finished = [line for line in lines if line.startswith("[")]
    assert len(finished) == 2 and all("complete (fid_domain " in line and "img/s" in line for line in finished)


def test_a_timed_out_worker_is_terminated_without_a_goodbye(tmp_path):
    """A worker stuck in a plugin never reads its pipe: abandoning its run terminates it at
    once. (Taking it for an idle worker, it was sent a goodbye and given 10 s to leave,
    so every --timeout cost 10 s more than it said.)"""
    import types

    from ganbench.executors.process import _Slot

    ctx = mp.get_context("spawn")
    slot = _Slot(ctx, "cpu", 1, {})
    slot.conn, child = ctx.Pipe()
    slot.proc = ctx.Process(target=time.sleep, args=(600,))  # hung: never reads its end
    slot.proc.start()
    proc = slot.proc
    slot.job, slot.since = types.SimpleNamespace(members=lambda: []), time.monotonic()
    slot.abandon(lambda event: None, "timed out")
    with pytest.raises(EOFError):  # the pipe was closed with nothing in it: no goodbye was sent
        child.recv()
    assert slot.proc is None and slot.job is None and not proc.is_alive() and proc.exitcode == -signal.SIGTERM
