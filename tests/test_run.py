"""Running suites end to end: the run folder, determinism, skipping, divergence, failures."""

from __future__ import annotations

import json

import pandas as pd
import plugin_for_tests
import pytest
import torch
from conftest import ganbench
from rich.console import Console

from ganbench.plugins import add_plugin, build_registry, get_plugin_manager
from ganbench.runner import run_suite
from ganbench.suite import load_suite


@pytest.fixture
def test_registry():
    """The installed plugins plus tests/plugin_for_tests.py."""
    pm = get_plugin_manager()
    add_plugin(pm, plugin_for_tests, "tests:plugin_for_tests", "tests", "0")
    return build_registry(pm)


def run(path, registry, results, **kw):
    suite = load_suite(path, registry, kw.pop("overrides", []))
    return suite, run_suite(suite, registry, results, torch.device("cpu"), console=Console(quiet=True), **kw)


def test_run_folder_holds_what_was_promised(tmp_path, registry, write_suite):
    suite, outcome = run(write_suite(), registry, tmp_path / "results")
    assert outcome.counts == {"complete": 1} and outcome.exit_code == 0
    folder = tmp_path / "results" / "tiny" / suite.runs[0].id
    rec = json.loads((folder / "run.json").read_text())
    assert rec["id"] == suite.runs[0].id and rec["suite"] == "tiny" and rec["status"] == "complete"
    assert rec["config"] == suite.runs[0].config
    assert rec["params_g"] > 0 and rec["params_d"] > 0
    assert rec["started"] <= rec["finished"]
    assert {"ganbench", "torch", "device", "device_name", "plugins"} <= rec["env"].keys()
    assert rec["env"]["plugins"]["ganbench"]
    m = rec["metrics"]
    assert m["train_img_per_s"] > 0 and m["steps"] == 6
    assert all(isinstance(v, (int, float)) for v in m.values())
    for key in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake"):
        assert key in m
    history = pd.read_csv(folder / "history.csv")
    assert list(history["step"]) == [2, 4, 6]  # every `log_every`, and at the end
    assert history[["d_acc_real", "d_acc_fake"]].stack().between(0, 1).all()
    assert sorted(p.name for p in (folder / "grids").iterdir()) == ["step_0000003.png", "step_0000006.png"]
    assert (folder / "G.pt").stat().st_size > 0 and (folder / "D.pt").stat().st_size > 0
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".") and p.name != ".claims"]  # no temp left
    assert not list((folder.parent / ".claims").glob("*.json"))  # every claim released


def test_same_seed_same_numbers_on_cpu(tmp_path, registry, write_suite):
    path = write_suite(seeds=[0])
    a, _ = run(path, registry, tmp_path / "a")
    b, _ = run(path, registry, tmp_path / "b")
    read = lambda root, s: pd.read_csv(root / "tiny" / s.runs[0].id / "history.csv")[["d_loss", "g_loss"]]
    pd.testing.assert_frame_equal(read(tmp_path / "a", a), read(tmp_path / "b", b))
    c, _ = run(write_suite(seeds=[1]), registry, tmp_path / "c")
    assert not read(tmp_path / "a", a).equals(read(tmp_path / "c", c))


def test_second_run_skips_finished_runs_and_rerun_forces(tmp_path, registry, write_suite):
    path = write_suite(seeds=2)
    _, first = run(path, registry, tmp_path / "r")
    assert first.counts["complete"] == 2 and first.skipped == 0
    _, second = run(path, registry, tmp_path / "r")
    assert second.skipped == 2 and not second.counts
    _, forced = run(path, registry, tmp_path / "r", rerun=True)
    assert forced.counts["complete"] == 2 and forced.skipped == 0


def test_nan_losses_stop_the_run_as_diverged_and_the_suite_goes_on(tmp_path, test_registry, write_suite):
    path = write_suite(base={"steps": 20}, matrix={"loss": [{"name": "nan-after", "after": 5}, "vanilla"]})
    suite, outcome = run(path, test_registry, tmp_path / "r")
    assert outcome.counts == {"diverged": 1, "complete": 1} and outcome.exit_code == 0
    diverged = json.loads((tmp_path / "r" / "tiny" / suite.runs[0].id / "run.json").read_text())
    assert diverged["status"] == "diverged" and diverged["diverged_at_step"] == 5
    assert diverged["metrics"]["steps"] < 20
    _, again = run(path, test_registry, tmp_path / "r")
    assert again.skipped == 2  # a divergence is an outcome, not something to retry


def test_a_raising_plugin_fails_its_run_only(tmp_path, test_registry, write_suite):
    path = write_suite(matrix={"architecture": [{"name": "broken"}, {"name": "mlp"}]})
    suite, outcome = run(path, test_registry, tmp_path / "r")
    assert outcome.counts == {"failed": 1, "complete": 1} and outcome.exit_code == 1
    folder = tmp_path / "r" / "tiny" / suite.runs[0].id
    rec = json.loads((folder / "run.json").read_text())
    assert rec["status"] == "failed" and "broken on purpose" in rec["error"]
    assert "Traceback" in (folder / "traceback.txt").read_text()
    _, again = run(path, test_registry, tmp_path / "r")
    assert again.skipped == 1 and again.counts == {"failed": 1}  # failed runs are retried


@pytest.mark.parametrize("pretrain", [{"steps": 3}, {"classifier": True, "steps": 3}])
def test_pretraining_and_freezing(tmp_path, registry, write_suite, pretrain):
    """Pretraining changes D before the loop; freezing keeps exactly the frozen part as pretrained.

    Every run of a seed starts from the same initial D, so D.pt of the runs compare directly:
    `none` + `all` is the initial D, `pretrained` + `all` is D right after pretraining.
    """
    path = write_suite(
        matrix={"d_pretrain": [pretrain], "freeze_d": ["none", "trunk", "all"]}, include=[{"d_pretrain": "none", "freeze_d": "all"}]
    )
    suite, outcome = run(path, registry, tmp_path / "r")
    assert outcome.counts == {"complete": 4}
    folders = {(r.config["d_pretrain"] != "none", r.config["freeze_d"]): tmp_path / "r" / "tiny" / r.id for r in suite.runs}
    D = {k: torch.load(f / "D.pt", weights_only=True) for k, f in folders.items()}
    record = {k: json.loads((f / "run.json").read_text()) for k, f in folders.items()}
    history = {k: pd.read_csv(f / "history.csv") for k, f in folders.items()}
    head = lambda sd: {k: v for k, v in sd.items() if k.startswith("head.")}  # noqa: E731
    trunk = lambda sd: {k: v for k, v in sd.items() if not k.startswith("head.")}  # noqa: E731
    same = lambda a, b: all(torch.equal(a[k], b[k]) for k in a)  # noqa: E731
    initial, pretrained = D[False, "all"], D[True, "all"]
    assert not same(trunk(initial), trunk(pretrained))  # pretraining trained the trunk
    if "classifier" in pretrain:
        assert same(head(initial), head(pretrained))  # through a temporary head: D's own is untouched
    else:
        assert not same(head(initial), head(pretrained))  # D-only steps train all of D
    assert same(trunk(D[True, "trunk"]), trunk(pretrained))  # frozen trunk: exactly as pretrained ...
    assert not same(head(D[True, "trunk"]), head(pretrained))  # ... while the head trained on
    assert not same(trunk(D[True, "none"]), trunk(pretrained))  # nothing frozen: the trunk trained on too
    for freeze in ("none", "trunk", "all"):
        m = record[True, freeze]["metrics"]
        assert m["d_pretrain_s"] > 0
        lr_d = history[True, freeze]["lr_d"]
        if freeze == "all":  # no D optimizer, no D step time
            assert lr_d.isna().all() and m["d_step_ms"] is None
        else:
            assert (lr_d == 2.0e-4).all() and m["d_step_ms"] > 0
    assert record[False, "all"]["metrics"]["d_pretrain_s"] == 0


def test_frozen_d_keeps_its_weights_and_from_run_loads_them(tmp_path, registry, write_suite):
    donor, _ = run(write_suite(name="donor"), registry, tmp_path / "r")
    donor_dir = tmp_path / "r" / "donor" / donor.runs[0].id
    path = write_suite(name="frozen", base={"d_pretrain": {"from_run": str(donor_dir)}, "freeze_d": "all"})
    frozen, outcome = run(path, registry, tmp_path / "r")
    assert outcome.counts == {"complete": 1}
    before = torch.load(donor_dir / "D.pt")
    after = torch.load(tmp_path / "r" / "frozen" / frozen.runs[0].id / "D.pt")
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_cli_run_then_skip_and_dry_run(tmp_path, write_suite):
    path = write_suite(seeds=2)
    results = tmp_path / "results"
    first = ganbench("run", path, "--results", results)
    assert first.returncode == 0, first.stderr
    assert "2 complete" in first.stderr and "[2/2]" in first.stdout + first.stderr
    dry = ganbench("run", path, "--results", results, "--dry-run")
    assert dry.returncode == 0 and dry.stdout.count("complete (skip)") == 2
    second = ganbench("run", path, "--results", results)
    assert second.returncode == 0 and "skipping 2 of 2 runs" in second.stderr
