"""The example package, installed for real with pip, used through the CLI beside a broken plugin.

pip installs it into a throwaway --target folder (never the running interpreter's
site-packages), found through sys.path / PYTHONPATH, and every run keeps the test session's
GANBENCH_CACHE (never the user's ~/.cache/ganbench).
"""

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from plugin_helpers import BROKEN_PLUGINS, write_dist

from ganbench.cli import main

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "plugins" / "ganbench-sngan"
PINNED = "ganbench-sngan,fake-raises"  # the plugin set these tests use (GANBENCH_PLUGINS)
SUITE = """
name: sngan-installed
base:
  dataset: {name: digits, image_size: 16}
  architecture: {name: sngan-cnn, width: 4}
  batch_size: 32
  z_dim: 8
  steps: 3
  log_every: 3 steps
  grid_every: none
  eval: {every: none}
matrix:
  loss: [ragan, hinge]   # the plugin's loss against a built-in one
"""


def pip(*args):
    return subprocess.run(
        [sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check"], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """pip-install a copy of plugins/ganbench-sngan into a throwaway folder (the build stays
    out of the repo, the running interpreter's site-packages untouched)."""
    root = tmp_path_factory.mktemp("install")
    source = shutil.copytree(PACKAGE, root / "ganbench-sngan", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = root / "target"
    # --no-build-isolation --no-index: built with this interpreter's setuptools, offline
    out = pip("install", "--no-deps", "--no-build-isolation", "--no-index", "--target", str(target), str(source))
    if out.returncode != 0:
        pytest.skip(f"pip could not build ganbench-sngan (is setuptools installed?): {out.stderr.strip().splitlines()[-1:]}")
    # Whether or not ganbench-sngan is also installed for real (a plugin author's environment),
    # `target` comes first on sys.path / PYTHONPATH below: these tests use this copy.
    assert (target / "ganbench_sngan").is_dir()
    site = root / "site"
    write_dist(site, "fake-raises", "0.0.1", "raises", BROKEN_PLUGINS["raises"])  # broken, beside it
    (root / "suite.yaml").write_text(SUITE)
    yield root, target, site
    for name in [m for m in sys.modules if m.split(".")[0] in ("ganbench_sngan", "raises")]:
        del sys.modules[name]  # imported from the throwaway folder by the in-process test


def test_ganbench_plugins_lists_the_installed_package_with_its_version(installed, monkeypatch):
    root, target, site = installed
    importlib.invalidate_caches()  # pip wrote the folder after this process started
    monkeypatch.syspath_prepend(str(target))
    monkeypatch.syspath_prepend(str(site))
    out = CliRunner().invoke(main, ["plugins"], env={"COLUMNS": "400", "GANBENCH_PLUGINS": PINNED})
    assert out.exit_code == 0, out.stderr
    row = next(r for r in out.stdout.splitlines() if "ganbench-sngan" in r)
    assert "0.1.0" in row and "sngan-cnn" in row and "ragan" in row and "swissroll" in row
    assert any("fake-raises" in r and "broken" in r for r in out.stdout.splitlines())


def test_a_suite_benchmarks_the_plugin_against_a_builtin(installed):
    root, target, site = installed
    # this checkout's ganbench first, then the installed plugin and the broken one
    env = {
        "PYTHONPATH": os.pathsep.join(map(str, (REPO, target, site))),
        "COLUMNS": "200",
        "OMP_NUM_THREADS": "1",
        "GANBENCH_PLUGINS": PINNED,
    }
    out = subprocess.run(
        [sys.executable, "-m", "ganbench.cli", "run", str(root / "suite.yaml"), "--results", str(root / "results")],
        capture_output=True,
        text=True,
        env={**_base_env(), **env},
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    records = [json.loads(p.read_text()) for p in (root / "results" / "sngan-installed").glob("*/run.json")]
    assert sorted(r["config"]["loss"]["name"] for r in records) == ["hinge", "ragan"]
    for r in records:
        assert r["status"] == "complete", r.get("error")
        assert r["env"]["plugins"]["ganbench-sngan"] == "0.1.0" and "fake-raises" not in r["env"]["plugins"]
        assert r["config"]["architecture"] == {"name": "sngan-cnn", "width": 4}


def _base_env():
    """The environment without ganbench settings (an allow-list would hide the plugin), but
    with the session's GANBENCH_CACHE: nothing is trained into the user's ~/.cache/ganbench."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GANBENCH_")}
    env["GANBENCH_CACHE"] = os.environ["GANBENCH_CACHE"]  # set by conftest.py to a temporary folder
    return env
