"""Broken plugins through the CLI: real distributions on the PYTHONPATH of a fresh
interpreter (does ganbench start?), or on sys.path for click's in-process runner."""

import json

import pytest
import torch
from click.testing import CliRunner
from plugin_helpers import BROKEN_REASONS, TINY_SUITE, dists_in, ganbench, write_all

from ganbench.cli import main


@pytest.fixture
def cli(workspace, monkeypatch):
    """Invoke the CLI in this process, with the written distributions installed on sys.path
    and pinned as the plugin set (other plugins installed here stay out)."""
    monkeypatch.syspath_prepend(str(workspace[1]))
    monkeypatch.setenv("GANBENCH_PLUGINS", ",".join(dists_in(workspace[1])))
    monkeypatch.delenv("GANBENCH_TRACE_PLUGINS", raising=False)

    def invoke(*args, env=None):
        return CliRunner().invoke(main, list(args), env=env)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny runs; OpenMP threads contend badly on a busy machine
    yield invoke
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    site = write_all(root / "site")
    (root / "good.yaml").write_text(TINY_SUITE.format(name="good", loss="half-ls"))
    (root / "uses-broken.yaml").write_text(TINY_SUITE.format(name="uses-broken", loss="raises-loss"))
    return root, site


def test_plugins_lists_broken_ones_with_distribution_and_reason_and_traces(workspace):
    root, site = workspace
    out = ganbench("plugins", site=site, env={"GANBENCH_TRACE_PLUGINS": "1"})
    assert out.returncode == 0, out.stderr
    rows = out.stdout.splitlines()
    assert any("fake-good" in r and "1.2.3" in r and "loss: half-ls" in r for r in rows)
    for plugin_id, fragment in BROKEN_REASONS.items():
        dist, ep = plugin_id.split(":")
        assert any(dist in r and ep in r and "broken:" in r for r in rows), plugin_id
        # rich may fold a long reason over lines; the warning on stderr is one line
        assert any(line.startswith(f"warning: plugin {plugin_id} is broken") and fragment in line for line in out.stderr.splitlines()), (
            plugin_id
        )
    assert "call fake-good:good.register_losses(register)" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_suite_that_does_not_use_a_broken_plugin_runs_and_records_plugins(workspace, cli):
    root, site = workspace
    out = cli("run", str(root / "good.yaml"), "--results", str(root / "results"))
    assert out.exit_code == 0, out.stderr
    (run_json,) = (root / "results" / "good").glob("*/run.json")
    record = json.loads(run_json.read_text())
    assert record["status"] == "complete"
    assert record["config"]["loss"] == {"name": "half-ls"}
    assert set(record["env"]["plugins"]) == {"ganbench", "fake-good"} and record["env"]["plugins"]["fake-good"] == "1.2.3"


def test_a_suite_naming_what_a_broken_plugin_provides_fails_validation(workspace, cli):
    root, site = workspace
    out = cli("run", str(root / "uses-broken.yaml"), "--results", str(root / "results"))
    assert out.exit_code == 2
    error = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "unknown loss 'raises-loss'" in error[0] and "hook raised RuntimeError: no GPU found" in error[0]
    assert "Traceback" not in out.stderr and not (root / "results" / "uses-broken").exists()


def test_no_plugins_and_allow_list_for_reproducible_runs(workspace, cli):
    root, site = workspace
    out = cli("--no-plugins", "run", str(root / "good.yaml"), "--dry-run")
    assert out.exit_code == 2 and "unknown loss 'half-ls'" in out.stderr and "disabled by --no-plugins" in out.stderr
    assert "warning" not in out.stderr  # broken plugins are not even imported
    out = cli("plugins", env={"GANBENCH_PLUGINS": "fake-good", "COLUMNS": "400"})
    assert out.exit_code == 0 and "broken" not in out.stdout and "warning" not in out.stderr
    assert "fake-good" in out.stdout and "not loaded: not in GANBENCH_PLUGINS" in out.stdout
