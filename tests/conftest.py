"""Shared fixtures: a registry built from the real installed entry points, tiny suites."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
import yaml

from ganbench.plugins import build_registry, get_plugin_manager

REPO = Path(__file__).resolve().parents[1]

# Tiny models gain nothing from intra-op threads, and on a loaded 2-core machine torch's
# threads contend with each other and slow such runs 10-50x: tests train on one thread,
# in this process and in the CLI subprocesses they start.
torch.set_num_threads(1)

# Tests pin the plugin set they run with: the built-ins only, whatever else is installed
# in this environment (a third party's plugins, e.g. plugins/ganbench-sngan, would change
# what a registry holds and what run.json records). Set for this session and the CLI
# subprocesses it starts; tests that need other plugins set GANBENCH_PLUGINS themselves.
os.environ["GANBENCH_PLUGINS"] = ""

# Classifiers trained for the metrics are cached; tests keep theirs out of the user's
# ~/.cache: one cache per test run, shared with the CLI subprocesses it starts and, under
# pytest-xdist, by every worker of the run (they inherit the controller's environment), so
# each classifier is trained once per run, not once per worker (the cache is file-locked).
_SHARED = "GANBENCH_TEST_RUN_CACHE"
if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get(_SHARED):
    os.environ["GANBENCH_CACHE"] = os.environ[_SHARED]  # the controller's: it removes it at the end
else:
    os.environ["GANBENCH_CACHE"] = os.environ[_SHARED] = tempfile.mkdtemp(prefix="ganbench-test-cache-")


def pytest_sessionfinish(session):
    """The cache goes with the test run: removed by the process that ran or coordinated it
    (xdist's workers, which have `workerinput`, leave it to the controller)."""
    if not hasattr(session.config, "workerinput"):
        import shutil

        shutil.rmtree(os.environ["GANBENCH_CACHE"], ignore_errors=True)


# A suite small enough to train in about a second per run on a 2-core CPU:
# 8x8 digits, a narrow DCGAN, a handful of steps.
TINY_BASE = {
    "dataset": "digits",
    "architecture": {"name": "dcgan", "ngf": 8, "ndf": 8},
    "loss": "vanilla",
    "batch_size": 32,
    "z_dim": 8,
    "steps": 6,
    "log_every": "2 steps",
    "grid_every": "3 steps",
    "eval": {"every": "none", "samples": 100},
}


@pytest.fixture
def registry():
    """A fresh registry from a fresh plugin manager (the real entry points)."""
    return build_registry(get_plugin_manager())


@pytest.fixture
def write_suite(tmp_path):
    """write_suite(name, **suite keys) -> path of a YAML suite file in tmp_path."""

    def write(name="tiny", base=None, **keys):
        suite = {"name": name, "base": {**TINY_BASE, **(base or {})}, **keys}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(suite, sort_keys=False))
        return path

    return write


def ganbench(*args, cwd=None, env=None, timeout=300) -> subprocess.CompletedProcess:
    """The CLI as a user types it, run in this process by click's runner: its exit status,
    stdout and stderr, with the traceback of anything it let escape appended to stderr as
    the interpreter would print it (so `"Traceback" not in out.stderr` still catches one),
    and so are the warnings a process would print. `timeout` seconds end a call that hangs
    (SIGALRM: a TimeoutError, so the test fails instead of blocking its worker).

    In-process because a CLI process spends ~4 s importing torch and the rest before it
    does anything, which made most of the test suite's time. What it cannot see: output of
    the worker processes an executor starts (they write to the real file descriptors). A
    test that needs a real process (signals, kills, a closed pipe, a FIFO that must not
    block, limits on the process, worker output) uses `ganbench_process`."""
    import signal
    import traceback
    import warnings

    from click.testing import CliRunner

    from ganbench.cli import main

    def too_long(signum, frame):
        raise TimeoutError(f"ganbench {' '.join(map(str, args))} took longer than {timeout} s")

    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM)}
    before = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        signal.signal(signal.SIGALRM, too_long)
        signal.alarm(timeout)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")  # as a process shows them: once per place
            # one intra-op thread per worker, as the CLI subprocesses had (OMP_NUM_THREADS=1)
            result = CliRunner().invoke(main, [str(a) for a in args], env={"OMP_NUM_THREADS": "1", **(env or {})})
    finally:
        signal.alarm(0)
        os.chdir(before)
        for s, handler in handlers.items():  # the CLI sets its own SIGTERM handler
            signal.signal(s, handler)
    stderr = result.stderr
    hidden = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)  # a process hides these
    for w in caught:
        if not issubclass(w.category, hidden):
            stderr += warnings.formatwarning(w.message, w.category, w.filename, w.lineno)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return subprocess.CompletedProcess(["ganbench", *map(str, args)], result.exit_code, result.stdout, stderr)


def ganbench_process(*args, cwd=None, timeout=300, **kw) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess (what a user types), for what needs a process."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "ganbench.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )
