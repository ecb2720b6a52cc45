"""Helpers for the plugin tests: real distributions written into a folder.

A distribution here is a `<name>-<version>.dist-info` folder (METADATA + entry_points.txt)
beside its module: put the folder on sys.path / PYTHONPATH and importlib.metadata finds
a real entry point, exactly as for a pip-installed package.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import subprocess
import sys
import textwrap
from pathlib import Path

# A working plugin: an LSGAN-like loss with a 0.5 target, named so nothing else has it.
GOOD_PLUGIN = """
from ganbench import hookimpl
from ganbench.contracts import Loss

GANBENCH_PLUGIN_API = 1


class HalfLS(Loss):
    def d_loss(self, real_scores, fake_scores):
        return ((real_scores - 1) ** 2).mean() + (fake_scores ** 2).mean()

    def g_loss(self, fake_scores, real_scores=None):
        return ((fake_scores - 0.5) ** 2).mean()


@hookimpl
def register_losses(register):
    register("half-ls", HalfLS)
"""

# One module per way a plugin can break; each would have provided `<module>-loss`.
BROKEN_PLUGINS = {
    "import_fails": "import not_a_module_anywhere\n",
    "misspelled": "from ganbench import hookimpl\n\n@hookimpl\ndef register_loss(register):\n    register('misspelled-loss', object)\n",
    "raises": "from ganbench import hookimpl\n\n@hookimpl\ndef register_losses(register):\n    raise RuntimeError('no GPU found for raises-loss')\n",
    "returns": "from ganbench import hookimpl\n\n@hookimpl\ndef register_losses(register):\n    return {'returns-loss': object}\n",
    "wrong_type": "from ganbench import hookimpl\n\n@hookimpl\ndef register_losses(register):\n    register('wrong_type-loss', dict)\n",
    "duplicate": "from ganbench import hookimpl\nfrom ganbench.contracts import Loss\n\n@hookimpl\ndef register_losses(register):\n    register('duplicate-loss', Loss)\n    register('vanilla', Loss)\n",
    "future_api": "from ganbench import hookimpl\nfrom ganbench.contracts import Loss\nGANBENCH_PLUGIN_API = '>=2'\n\n@hookimpl\ndef register_losses(register):\n    register('future_api-loss', Loss)\n",
}

# plugin id -> a fragment of the one-line reason it must be listed with
BROKEN_REASONS = {
    "fake-import-fails:import_fails": "import of import_fails failed: ModuleNotFoundError",
    "fake-misspelled:misspelled": "'register_loss' (did you mean 'register_losses'?)",
    "fake-raises:raises": "hook raised RuntimeError: no GPU found",
    "fake-returns:returns": "register_losses returned dict",
    "fake-wrong-type:wrong_type": "dict is not a subclass of ganbench.contracts.Loss",
    "fake-duplicate:duplicate": "loss 'vanilla' is registered by both ganbench:losses and fake-duplicate:duplicate",
    "fake-future-api:future_api": "needs ganbench plugin API >=2 but this ganbench provides 1",
}


def write_dist(site: Path, dist: str, version: str, module: str, code: str, entry_point: str | None = None) -> None:
    """A distribution `dist` whose `ganbench` entry point `entry_point` names `module`."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(code))
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[ganbench]\n{entry_point or module} = {module}\n")


def write_all(site: Path) -> Path:
    """The good plugin (fake-good 1.2.3) and every broken one, in one folder."""
    write_dist(site, "fake-good", "1.2.3", "good_plugin", GOOD_PLUGIN, "good")
    for module, code in BROKEN_PLUGINS.items():
        write_dist(site, "fake-" + module.replace("_", "-"), "0.0.1", module, code)
    return site


def entry_points_in(site: Path) -> list[md.EntryPoint]:
    """The `ganbench` entry points of the built-ins plus the distributions in `site`."""
    builtin = [ep for ep in md.entry_points(group="ganbench") if ep.dist and ep.dist.name == "ganbench"]
    found = [ep for d in md.distributions(path=[str(site)]) for ep in d.entry_points if ep.group == "ganbench"]
    return builtin + found


def dists_in(site: Path) -> list[str]:
    """The distributions written into `site` (the plugin set a test pins)."""
    return sorted(d.metadata["Name"] for d in md.distributions(path=[str(site)]))


def ganbench(*args: str, site: Path | None = None, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh interpreter, `site` on its PYTHONPATH; wide terminal.

    The plugins it loads are pinned to the built-ins and those in `site` (GANBENCH_PLUGINS),
    unless `env` says otherwise: plugins installed in this environment stay out.
    """
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("GANBENCH_")}  # only what the test sets
    pinned = {"GANBENCH_PLUGINS": ",".join(dists_in(site)) if site is not None else ""}
    # one OpenMP thread: tiny runs, and on a busy 2-core machine threads contend badly
    full = {**inherited, **pinned, "COLUMNS": "400", "OMP_NUM_THREADS": "1", **(env or {})}
    if site is not None:
        full["PYTHONPATH"] = os.pathsep.join([str(site), full.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run([sys.executable, "-m", "ganbench.cli", *args], capture_output=True, text=True, env=full, cwd=cwd, timeout=300)


TINY_SUITE = """
name: {name}
base:
  dataset: {{name: ring8, n_train: 256, n_test: 64}}
  architecture: {{name: mlp, g_hidden: [16], d_hidden: [16]}}
  loss: {loss}
  batch_size: 32
  z_dim: 8
  steps: 4
  log_every: 2 steps
  grid_every: none
  eval: {{every: none}}
"""
