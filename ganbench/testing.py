"""A test kit for plugin authors, loaded by pytest through the ``pytest11`` entry point.

With ganbench installed, any pytest session gets these fixtures (disable with
``-p no:ganbench``):

- ``ganbench_plugins``: the plugin modules under test. Override it in your conftest.py
  (``return [my_package.plugin]``); the default is none (the built-ins only).
- ``ganbench_pm`` / ``ganbench_registry``: a fresh plugin manager and registry holding the
  built-ins plus ``ganbench_plugins`` (never other installed plugins), failing the test
  with the one-line reason if a plugin under test is broken.
- ``ganbench_tiny_images`` / ``ganbench_tiny_points``: tiny in-memory datasets.
- ``ganbench_smoke``: ``ganbench_smoke(architecture=..., loss=..., data=...)`` trains a few
  steps on CPU through the runner's own code path and checks that the losses are finite,
  samples have the data's shape (and range, for images) and D gives one score per sample.
- ``ganbench_run``: ``ganbench_run(callbacks=[...], eval={...}, loggers=[...], executor=...)``
  trains a tiny suite through the real scheduler (``ganbench run``'s own code: up-front
  checks, claims, executor, store) with the plugins under test, for callbacks, metrics,
  loggers and executors, and checks every run ended as expected and is accounted for.

The same helpers work outside pytest: ``make_plugin_manager``, ``make_registry``,
``tiny_data``, ``smoke_train``, ``run_tiny_suite``.
Imports of torch and the rest of ganbench happen inside the helpers, so pytest sessions
that never use the fixtures start as fast as before.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SMOKE_DATASET = "ganbench-testing-data"  # the name a GanData passed to smoke_train gets


def make_plugin_manager(*modules, builtins: bool = True):
    """A fresh plugin manager holding the built-ins and `modules` only (not what is installed)."""
    from . import plugins

    return plugins.modules_plugin_manager(modules, builtins=builtins)


def make_registry(*modules, builtins: bool = True):
    """A registry of the built-ins and `modules` only, built as ganbench builds it.

    Raises AssertionError naming the reason when one of `modules` is broken.
    """
    from . import plugins

    registry = plugins.modules_registry(modules, builtins=builtins)
    if registry.broken:
        raise AssertionError("broken plugin: " + "; ".join(f"{p}: {r}" for p, r in sorted(registry.broken.items())))
    return registry


def tiny_data(kind: str = "image", n: int = 128, shape: tuple[int, ...] | None = None, num_classes: int = 4, seed: int = 0):
    """A small labelled GanData: uint8 images of bright squares, or 2-D Gaussian blobs.

    Each class has its own square position (images) or centre (points), so a model has
    modes to find; `shape` defaults to (1, 16, 16) for images and (2,) for points.
    """
    import torch

    from .contracts import GanData

    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % num_classes  # (N,) balanced classes
    if kind == "image":
        c, h, w = shape or (1, 16, 16)
        x = torch.randint(0, 40, (n, c, h, w), generator=g, dtype=torch.uint8)  # dark noise
        side = max(2, h // 4)
        for k in range(num_classes):
            r, col = (k * side) % (h - side + 1), (k * 2 * side) % (w - side + 1)
            x[y == k, :, r : r + side, col : col + side] = 255
    elif kind in ("points", "tabular"):
        f = (shape or (2,))[0]
        centres = torch.randn(num_classes, f, generator=g) * 2  # (K, F)
        x = centres[y] + 0.1 * torch.randn(n, f, generator=g)
    else:
        raise ValueError(f"kind must be image, points or tabular, got {kind!r}")
    split = n * 3 // 4
    return GanData(x[:split], kind, y[:split], x[split:], y[split:], num_classes=num_classes, info={"source": "ganbench.testing.tiny_data"})


@dataclass
class SmokeResult:
    config: dict  # the resolved run config
    history: list[dict]  # one row per step
    samples: Any  # (B, *shape) from the trained generator, eval mode
    scores: Any  # (B,) the discriminator's raw scores of those samples
    models: Any  # ganbench.contracts.Models
    loss: Any  # ganbench.contracts.Loss


def smoke_train(
    architecture: str | dict = "mlp",
    loss: str | dict = "vanilla",
    data=None,
    registry=None,
    steps: int = 3,
    out_dir: str | Path | None = None,
    **config,
) -> SmokeResult:
    """Train `steps` generator steps on CPU exactly as `ganbench run` would, and check them.

    architecture / loss: a registered name or {name, **options}. data: a registered
    dataset name or {name, **options}, or a GanData (default: tiny_data()). Extra keyword
    arguments are run-config values (n_disc=2, batch_size=8...). Raises AssertionError
    saying what broke the contract.
    """
    import torch

    from .build import Builder, seed_everything
    from .config import resolve
    from .contracts import GanData
    from .engine import train
    from .plugins import Entry
    from .sampling import sample

    registry = registry if registry is not None else make_registry()
    if data is None:
        data = tiny_data()
    if isinstance(data, GanData):
        given = data
        registry.entries["dataset"][SMOKE_DATASET] = Entry(SMOKE_DATASET, "dataset", lambda: given, "ganbench:testing", "ganbench", "")
        data = SMOKE_DATASET
    layer = {
        "dataset": data,
        "architecture": architecture,
        "loss": loss,
        "steps": steps,
        "batch_size": 16,
        "z_dim": 16,
        "log_every": "1 step",  # one history row per step: every loss value is checked
        "grid_every": "none",
        "eval": {"every": "none"},
        **config,
    }
    cfg = resolve([("smoke", layer)], registry)
    builder = Builder(registry)
    gan_data = builder.data(cfg["dataset"])
    seed_everything(cfg["seed"])
    models = builder.models(cfg, gan_data)
    loss_obj = builder.loss(cfg)
    _check_shapes(models, gan_data, cfg)  # before training: a clear message beats a matmul error
    device = torch.device("cpu")
    # One thread: tiny models gain nothing from more, and on a busy CI machine OpenMP
    # threads contending for cores made a 3-step smoke run ~50x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = train(cfg, gan_data, models, loss_obj, device, Path(out_dir or tmp))
    finally:
        torch.set_num_threads(threads)
    bad = [r for r in result.history if not (math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]))]
    assert result.status == "complete" and not bad, (
        f"losses stopped being finite at step {result.diverged_at_step or bad[0]['step']}: {bad[0] if bad else result.history[-1]}"
    )
    assert len(result.history) == steps, f"expected {steps} history rows, got {len(result.history)}"
    samples = sample(models.generator, torch.randn(cfg["batch_size"], cfg["z_dim"]))
    _check_shapes(models, gan_data, cfg)
    assert samples.is_floating_point() and torch.isfinite(samples).all(), "generator samples must be finite floats"
    if gan_data.kind == "image":
        lo, hi = samples.min().item(), samples.max().item()
        assert lo >= -1 - 1e-5 and hi <= 1 + 1e-5, f"image samples must lie in [-1, 1] (end G with tanh), got [{lo:.3g}, {hi:.3g}]"
    models.discriminator.eval()
    with torch.no_grad():
        scores = models.discriminator(samples)
    assert tuple(scores.shape) == (cfg["batch_size"],), f"discriminator must return (B,) scores, got {tuple(scores.shape)}"
    assert torch.isfinite(scores).all(), "discriminator scores must be finite"
    return SmokeResult(cfg, result.history, samples, scores, models, loss_obj)


# A run small enough for a test (about 0.1 s on a CPU): the built-in ring8 mixture and a narrow
# MLP, so that worker processes (the process executor, Ray) can rebuild it by name.
TINY_RUN = {
    "dataset": {"name": "ring8", "n_train": 256, "n_test": 64},
    "architecture": {"name": "mlp", "g_hidden": [16], "d_hidden": [16]},
    "batch_size": 32,
    "z_dim": 4,
    "steps": 4,
    "log_every": "2 steps",
    "grid_every": "none",
    "eval": {"every": "none"},
}


@dataclass
class SuiteResult:
    outcome: Any  # ganbench.api.Outcome: counts by status, exit_code
    records: list[dict]  # each run's run.json, in the suite's order
    folders: list[Path]  # each run's folder (G.pt, history.csv, what loggers and callbacks wrote)


def run_tiny_suite(
    registry=None,
    results: str | Path | None = None,
    seeds: int = 1,
    loggers=(),
    executor: str = "local",
    executor_options: dict | None = None,
    expect: str = "complete",
    jobs: int = 1,
    **config,
) -> SuiteResult:
    """Train a tiny suite of `seeds` runs through the real scheduler, as `ganbench run` does,
    with the plugins of `registry` (default: the built-ins): a callback under test in
    ``callbacks=[{"name": ...}]``, a metric in ``eval={"every": "2 steps", "metrics": {name:
    {}}}``, a logger in ``loggers=[name]``, an executor in ``executor=name``. Other keyword
    arguments are run-config values over TINY_RUN. Raises AssertionError when a run did not
    end with status `expect`, or when a run of the suite has no record (its executor lost
    it), saying which and why.
    """
    from rich.console import Console

    from . import api

    registry = registry if registry is not None else make_registry()
    if results is None:  # the caller's to remove: the records point into it
        results = tempfile.mkdtemp(prefix="ganbench-testing-")
    layer = {**TINY_RUN, **config}
    suite = {"name": "kit", "base": layer, "seeds": seeds}
    outcome = api.run_suite(
        suite,
        results,
        devices="cpu",
        registry=registry,
        executor=executor,
        executor_options=executor_options,
        loggers=list(loggers),
        jobs=jobs,
        threads=1,
        console=Console(quiet=True),
        profile="none",
    )
    folders = [outcome.folder / r.id for r in outcome.suite.runs]
    missing = [f.name for f in folders if not (f / "run.json").is_file()]
    assert not missing, f"runs without a record (lost by executor {executor}?): {', '.join(missing)}"
    records = [json.loads((f / "run.json").read_text()) for f in folders]
    wrong = [r for r in records if r["status"] != expect]
    assert not wrong, f"run {wrong[0]['id']} ended {wrong[0]['status']}, not {expect}: {wrong[0].get('error')}"
    return SuiteResult(outcome, records, folders)


def _check_shapes(models, data, cfg) -> None:
    """G: (B, Z) -> (B, *shape); D: (B, *shape) -> (B,), on a real batch."""
    import torch

    from .contracts import GanData
    from .sampling import sample

    bs = cfg["batch_size"]
    want = (bs, *data.spec.shape)
    z = torch.randn(bs, cfg["z_dim"], generator=torch.Generator().manual_seed(0))  # leaves the run's RNG alone
    samples = sample(models.generator, z)
    assert tuple(samples.shape) == want, f"generator made samples of shape {tuple(samples.shape)}, expected {want}"
    was_training = models.discriminator.training
    models.discriminator.eval()
    with torch.no_grad():
        scores = models.discriminator(GanData.as_float(data.train[:bs]))
    models.discriminator.train(was_training)
    assert tuple(scores.shape) == (bs,), f"discriminator must return (B,) scores for a real batch, got {tuple(scores.shape)}"


# ---------------------------------------------------------------- pytest fixtures


@pytest.fixture
def ganbench_plugins() -> list:
    """The plugin modules under test; override in your conftest.py."""
    return []


@pytest.fixture
def ganbench_registry(ganbench_plugins):
    """Built-ins + ganbench_plugins; a broken plugin fails the test with its reason."""
    try:
        return make_registry(*ganbench_plugins)
    except AssertionError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def ganbench_pm(ganbench_plugins):
    """A fresh pluggy plugin manager with the built-ins and ganbench_plugins registered."""
    pm = make_plugin_manager(*ganbench_plugins)
    if pm.broken:
        pytest.fail("broken plugin: " + "; ".join(f"{p}: {r}" for p, r in pm.broken.items()), pytrace=False)
    return pm


@pytest.fixture
def ganbench_tiny_images():
    """96 train / 32 test uint8 images (1, 16, 16), 4 classes."""
    return tiny_data("image")


@pytest.fixture
def ganbench_tiny_points():
    """96 train / 32 test 2-D points in 4 blobs."""
    return tiny_data("points")


@pytest.fixture
def ganbench_run(ganbench_registry, tmp_path):
    """run_tiny_suite bound to ganbench_registry: ganbench_run(callbacks=[...], loggers=[...], ...)."""

    def run(**kw):
        return run_tiny_suite(ganbench_registry, tmp_path / "results", **kw)

    return run


@pytest.fixture
def ganbench_smoke(ganbench_registry, tmp_path):
    """smoke_train bound to ganbench_registry: ganbench_smoke(architecture=..., loss=..., data=...)."""

    def smoke(architecture="mlp", loss="vanilla", data=None, steps=3, **config):
        return smoke_train(architecture, loss, data, ganbench_registry, steps, tmp_path, **config)

    return smoke
