"""Faults and bad input from the hardening probe: one short line and exit 2 for bad input;
a fault fails its run with the reason and the suite goes on; nothing finished is lost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import plugin_for_tests
import pytest
import torch
import yaml
from conftest import TINY_BASE, ganbench, ganbench_process
from rich.console import Console

from ganbench.runner import SuiteInvalid, run_suite
from ganbench.suite import load_suite
from ganbench.testing import make_registry


@pytest.fixture
def test_registry():
    return make_registry(plugin_for_tests)


def run(path, registry, results, **kw):
    suite = load_suite(path, registry)
    return suite, run_suite(suite, registry, results, "cpu", console=Console(quiet=True), **kw)


def one_line_exit_2(out, *fragments):
    assert out.returncode == 2, (out.returncode, out.stderr)
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("error: ") and "Traceback" not in out.stderr
    for fragment in fragments:
        assert fragment in line, line


# ---------------------------------------------------------------- damaged and special files


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda d: (d / "run.json").write_text('{"status": "complete"}'), "`id` missing"),
        (lambda d: (d / "history.csv").write_bytes(b"\x00\x01\xff\xfe"), "not a text file"),
        (lambda d: ((d / "run.json").unlink(), os.mkfifo(d / "run.json")), "not a regular file"),
    ],
)
def test_a_damaged_finished_run_is_trained_again_with_a_message(write_suite, finished_run, tmp_path, damage, reason):
    path = write_suite()  # the suite finished_run was trained from: the same run id
    run_dir = finished_run
    damage(run_dir)
    # a FIFO must not block: a process, which a timeout can stop, reads it
    cli = ganbench_process if (run_dir / "run.json").is_fifo() else ganbench
    out = cli("run", path, "--results", tmp_path / "r")
    assert out.returncode == 0, out.stderr
    assert f"{run_dir.name}: damaged" in out.stderr and reason in out.stderr and "training it again" in out.stderr
    assert json.loads((run_dir / "run.json").read_text())["status"] == "complete"
    report = ganbench("report", tmp_path / "r", "--no-plots")
    assert report.returncode == 0, report.stderr


def test_a_fifo_run_json_does_not_block_the_report(tmp_path, write_suite):
    path = write_suite(seeds=2)
    assert ganbench("run", path, "--results", tmp_path / "r").returncode == 0
    first = sorted((tmp_path / "r" / "tiny").glob("[!.]*"))[0]
    (first / "run.json").unlink()
    os.mkfifo(first / "run.json")
    out = ganbench_process("report", tmp_path / "r", "--no-plots", "--format", "md", timeout=120)
    assert out.returncode == 0 and "damaged run left out" in out.stdout and "not a regular file" in out.stdout


# ---------------------------------------------------------------- full disk


def limited(limit_bytes: int, *args) -> subprocess.CompletedProcess:
    """The CLI with every file write capped at `limit_bytes` (a disk that fills up)."""
    code = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit_bytes}, {limit_bytes})); "
        "from ganbench.cli import main; sys.argv[0] = 'ganbench'; main()"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=env, timeout=300)


def test_a_disk_too_full_for_the_weights_fails_each_run_with_its_reason_and_goes_on(tmp_path, write_suite):
    path = write_suite(seeds=2, base={"grid_every": "none"})
    out = limited(6_000, "run", path, "--results", tmp_path / "r")  # run.json fits, G.pt does not
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    records = [json.loads(p.read_text()) for p in (tmp_path / "r" / "tiny").glob("*/run.json")]
    assert len(records) == 2  # the second run was tried too
    assert all(
        r["status"] == "failed" and "File too large" in r["error"] and not (tmp_path / "r" / "tiny" / r["id"] / "G.pt").exists()
        for r in records
    )


def test_a_disk_where_nothing_can_be_written_stops_the_suite_with_a_message(tmp_path, write_suite):
    path = write_suite(seeds=2)
    out = limited(64, "run", path, "--results", tmp_path / "r")  # not even a claim (~150 bytes) fits
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert "stopped early: cannot write" in out.stderr
    assert not list((tmp_path / "r" / "tiny").glob("[!.]*"))


# ---------------------------------------------------------------- unusable results locations


def test_unusable_results_locations_are_one_line_exit_2(tmp_path, write_suite):
    path = write_suite()
    (tmp_path / "file").write_text("x")
    one_line_exit_2(ganbench("run", path, "--results", tmp_path / "file" / "sub"), "--results", "Not a directory")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "tiny").write_text("a file where the suite's folder goes")
    one_line_exit_2(ganbench("run", path, "--results", tmp_path / "r"), "--results")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    one_line_exit_2(ganbench("run", path, "--results", tmp_path / "loop"), "--results")


def test_resuming_into_a_read_only_suite_folder_is_one_line_exit_2(tmp_path, write_suite, monkeypatch):
    """An existing suite folder that cannot be written (chmod, a read-only mount) is an
    unusable results location, refused before any run, as a read-only root is."""
    path = write_suite()
    assert ganbench("run", path, "--results", tmp_path / "r").returncode == 0
    more = tmp_path / "more.yaml"
    more.write_text(path.read_text() + "seeds: 2\n")  # a second seed still to train
    suite_dir = tmp_path / "r" / "tiny"
    os.chmod(suite_dir, 0o555)
    try:
        if os.geteuid() != 0:
            out = ganbench("run", more, "--results", tmp_path / "r")
        else:  # root writes through any mode: the folder refuses as a read-only mount would
            import tempfile

            from click.testing import CliRunner

            from ganbench.cli import main

            def read_only(*args, **kwargs):
                raise PermissionError(30, "Read-only file system")

            monkeypatch.setattr(tempfile, "mkdtemp", read_only)
            result = CliRunner().invoke(main, ["run", str(more), "--results", str(tmp_path / "r")])
            out = subprocess.CompletedProcess([], result.exit_code, result.stdout, result.stderr)
    finally:
        os.chmod(suite_dir, 0o755)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    (error,) = [line for line in out.stderr.splitlines() if line.startswith("error:")]  # after "skipping 1 of 2 runs ..."
    assert "--results" in error and "cannot write" in error and str(suite_dir) in error, error
    assert len(list(suite_dir.glob("*/run.json"))) == 1  # the finished run is untouched


# ---------------------------------------------------------------- plugins that break contracts


@pytest.mark.parametrize(
    "breach, reason",
    [
        ("int64", "uint8 images or floats, got torch.int64"),
        ("float255", "must lie in [-1, 1]"),
        ("video", "kind 'video'"),
        ("labels", "10 labels for 64 samples"),
    ],
)
def test_a_dataset_breaking_the_contract_is_refused_naming_the_plugin(tmp_path, test_registry, write_suite, breach, reason):
    path = write_suite(base={"dataset": {"name": "bad-data", "breach": breach}, "architecture": "mlp", "batch_size": 16})
    with pytest.raises(SuiteInvalid, match="breaks the GanData contract") as e:
        run(path, test_registry, tmp_path / "r")
    assert reason in str(e.value) and "plugin_for_tests" in str(e.value)
    assert not (tmp_path / "r").exists()


def test_a_hung_plugin_is_stopped_by_the_timeout_and_the_suite_goes_on(tmp_path, test_registry, write_suite):
    path = write_suite(base={"architecture": "mlp", "steps": 6}, matrix={"architecture": [{"name": "dies", "how": "hang"}, "mlp"]})
    # 15 s: a fresh worker's start-up (~4 s of imports) and the MLP run fit with room on a
    # loaded 2-core machine; the hung run costs all of it
    _, outcome = run(path, test_registry, tmp_path / "r", executor="process", timeout=15, threads=1)
    assert outcome.counts == {"failed": 1, "complete": 1}
    records = [json.loads(p.read_text()) for p in (tmp_path / "r" / "tiny").glob("*/run.json")]
    (failed,) = [r for r in records if r["status"] == "failed"]
    assert failed["error"].startswith("timed out after 15 s")
    assert all(r["env"]["timeout_s"] == 15 for r in records if r["status"] == "complete")


# ---------------------------------------------------------------- tampered run folders


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory):
    """One tiny run trained through the CLI, for the tests below to copy and tamper with."""
    root = tmp_path_factory.mktemp("trained")
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump({"name": "tiny", "base": TINY_BASE}, sort_keys=False))
    assert ganbench("run", path, "--results", root / "r").returncode == 0
    (run_dir,) = (root / "r" / "tiny").glob("[!.]*")
    return run_dir


@pytest.fixture
def finished_run(tmp_path, trained_once):
    """A fresh copy of the finished run folder (r/tiny/<run id>), this test's to damage."""
    run_dir = tmp_path / "r" / "tiny" / trained_once.name
    shutil.copytree(trained_once, run_dir)
    return run_dir


@pytest.mark.parametrize(
    "tamper, fragment",
    [
        (lambda c: c["architecture"].update(name="mlp", g_hidden=[4e9]), "config is not valid"),
        (lambda c: c.update(dataset={"name": "tabular-csv", "path": "/dev/zero"}), "is not a regular file"),
        (lambda c: c.update(z_dim="a lot"), "corrupt run.json"),
        (lambda c: c.update(batch_size=-3), "config is not valid"),
    ],
)
def test_traverse_validates_a_tampered_config_before_building(finished_run, tamper, fragment):
    record = json.loads((finished_run / "run.json").read_text())
    tamper(record["config"])
    (finished_run / "run.json").write_text(json.dumps(record))
    one_line_exit_2(ganbench("traverse", finished_run, "-o", finished_run.parent / "t.png"), fragment)


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda g: (g.unlink(), g.symlink_to("/etc/passwd")), "not a readable torch weights file"),
        (lambda g: (g.unlink(), g.symlink_to("/dev/zero")), "not a regular file"),
        (lambda g: (g.unlink(), g.mkdir()), "not a regular file"),
        (lambda g: g.write_bytes(g.read_bytes()[:200]), "not a readable torch weights file"),
        (lambda g: torch.save({"net.0.weight": torch.zeros(3)}, g), "does not fit this model"),
    ],
)
def test_weight_files_that_cannot_be_used_say_why_naming_the_file(finished_run, make, fragment):
    make(finished_run / "G.pt")
    out = ganbench("traverse", finished_run, "-o", finished_run.parent / "t.png")
    one_line_exit_2(out, fragment, "G.pt")


def test_a_plugin_printing_at_import_does_not_reach_the_reports_stdout(tmp_path, monkeypatch, capsys):
    from plugin_helpers import entry_points_in, write_dist

    from ganbench.plugins import build_registry, get_plugin_manager

    site = tmp_path / "site"
    write_dist(
        site,
        "fake-chatty",
        "0.1",
        "chatty",
        "print('hello from a plugin')\nfrom ganbench import hookimpl\n\n"
        "@hookimpl\ndef register_losses(register):\n    print('registering')\n",
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("GANBENCH_PLUGINS", raising=False)
    build_registry(get_plugin_manager(found=entry_points_in(site)))
    out = capsys.readouterr()
    assert out.out == "" and "hello from a plugin" in out.err and "registering" in out.err


def test_recovery_removes_leftover_links_and_read_only_folders_but_never_follows_links(tmp_path):
    from ganbench.store import ResultsStore

    store = ResultsStore(tmp_path, "s").create()
    target = tmp_path / "precious"
    target.mkdir()
    (target / "data").write_text("keep me")
    (store.dir / ".run-a.tmp-dead-1-x").symlink_to(target)
    locked = store.dir / ".run-b.old-dead-2-y"
    (locked / "grids").mkdir(parents=True)
    (store.dir / "run-b").mkdir()  # the swap had finished: the old copy is a leftover
    os.chmod(locked / "grids", 0o500)
    os.chmod(locked, 0o500)
    store.recover(set())
    assert not (store.dir / ".run-a.tmp-dead-1-x").exists() and (target / "data").read_text() == "keep me"
    assert not locked.exists()


def test_a_classifier_cache_without_meta_is_rebuilt_and_eval_none_trains_none(tmp_path, monkeypatch, write_suite):
    from ganbench.builtin.datasets import digits
    from ganbench.metrics import classifier as clf

    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    data = digits()
    path, _, _ = clf.classifier_path("digits", {}, data)
    path.parent.mkdir(parents=True)
    torch.save({"state": {}}, path)  # an old or foreign file: no `meta`
    monkeypatch.setattr(clf, "_LOADED", {})
    model = clf.get_classifier("digits", {}, data, torch.device("cpu"))
    assert model.trained_here and "meta" in torch.load(path, weights_only=True)

    env_cache = tmp_path / "cache-eval-none"
    monkeypatch.setattr(clf, "_LOADED", {})  # nothing loaded in this process either
    out = ganbench("run", write_suite(), "--results", tmp_path / "r", env={"GANBENCH_CACHE": str(env_cache)})
    assert out.returncode == 0, out.stderr  # TINY_BASE has eval.every: none
    assert not list(env_cache.rglob("*.pt"))  # no classifier was trained for a run that scores nothing
