"""Before any run of a suite starts: refuse what would only fail inside a run.

`ganbench run` promises that bad input is exit 2 with nothing written. These checks load
each distinct dataset, build each distinct model pair on the CPU, check plugins' options
and loggers' libraries, and build the shared caches (the mode classifier) once, so that a
suite either starts every run or none. The scheduler (``ganbench.runner``) calls them.
"""

from __future__ import annotations

import torch
from rich.console import Console

from .build import Builder
from .loggers import unavailable
from .plugins import PluginError, Registry
from .suggest import error_line as one_line
from .suite import Run


class SuiteInvalid(ValueError):
    """Found before any run started (a missing data folder, an impossible model): exit 2."""


def check_runs(runs: list[Run], builder: Builder, devices: list = ()) -> None:
    """Refuse now what would only fail inside a run: SuiteInvalid names the run and key.

    Loads each distinct dataset (a missing CSV or image folder), checks the batch size
    against it, and builds each distinct model pair on the CPU (an image size DCGAN cannot
    build). A plugin's unexpected exception is left to fail its run with the traceback.
    """
    built: set[str] = set()
    for run in runs:
        cfg = run.config
        try:
            data = builder.data(cfg["dataset"])
        except (OSError, ValueError) as e:
            raise SuiteInvalid(f"run {run.id}: dataset {cfg['dataset']['name']}: {one_line(e)}") from None
        except BaseException as e:  # even sys.exit(): left to fail its run with the reason
            _unless_interrupt(e)
            continue
        if cfg.get("precision") == "fp16" and all(d.type == "cpu" for d in devices):
            raise SuiteInvalid(f"run {run.id}: precision fp16 needs a CUDA device (on the CPU use bf16)")
        n = len(data.train)
        if cfg["batch_size"] > n:
            raise SuiteInvalid(
                f"run {run.id}: batch_size {cfg['batch_size']} is larger than dataset {cfg['dataset']['name']}'s {n} training samples"
            )
        key = repr((cfg["dataset"], cfg["architecture"], cfg["z_dim"]))
        if key in built:
            continue
        built.add(key)
        try:
            with torch.random.fork_rng(devices=[]):
                builder.models(cfg, data)
        except ValueError as e:
            raise SuiteInvalid(f"run {run.id}: architecture {cfg['architecture']['name']}: {one_line(e)}") from None
        except BaseException as e:
            _unless_interrupt(e)
            continue


def check_loggers(registry: Registry, names) -> None:
    """Each logger is registered and can work here: SuiteInvalid otherwise, before any run.

    A logger factory may have a ``check()`` attribute (a classmethod of a Logger class)
    that raises, with the reason, when the logger cannot work on this machine: a missing
    package (TensorBoard), a missing token. Without it, the first run would fail on it, and
    every run after it.
    """
    for name in names:
        try:
            entry = registry.get("logger", name)
        except PluginError as e:
            raise SuiteInvalid(f"--logger: {e}") from None
        missing = unavailable(name, entry.factory)  # a tracker's library
        if missing:
            raise SuiteInvalid(missing)
        check = getattr(entry.factory, "check", None)
        if check is None:
            continue
        try:
            check()
        except BaseException as e:
            _unless_interrupt(e)
            raise SuiteInvalid(f"--logger {name}: {one_line(e)}") from None


def check_plugin_options(runs: list[Run], builder: Builder) -> None:
    """Make each distinct callback and metric a run asks for once, before any run starts:
    their options are checked by their constructors (a ValueError, `policy: zoom`), and a
    value one refuses would fail every run that names it. SuiteInvalid names the run and
    the plugin; other exceptions are left to fail their runs with the traceback.
    """
    from .callbacks import make_callbacks
    from .metrics.plugin import make_metrics

    seen: set[str] = set()
    for run in runs:
        cfg = run.config
        for i, spec in enumerate(cfg.get("callbacks") or []):
            key = repr(("callback", spec))
            if key in seen:
                continue
            seen.add(key)
            try:
                make_callbacks([spec], builder.registry)
            except ValueError as e:
                raise SuiteInvalid(f"run {run.id}: callbacks[{i}] {spec['name']}: {one_line(e)}") from None
            except BaseException as e:
                _unless_interrupt(e)
        specs = cfg["eval"].get("metrics") or {}
        key = repr(("metrics", specs, cfg["dataset"]))
        if not specs or cfg["eval"]["every"] == "none" or key in seen:
            continue
        seen.add(key)
        try:
            make_metrics(specs, builder.registry, builder.data(cfg["dataset"]).kind)
        except ValueError as e:
            raise SuiteInvalid(f"run {run.id}: eval.metrics: {one_line(e)}") from None
        except BaseException as e:
            _unless_interrupt(e)


def warm_caches(runs: list[Run], builder: Builder, device: torch.device, console: Console) -> None:
    """Train each mode classifier the runs need once, here, before workers fan out.

    Its cache is locked (``metrics.classifier``), so workers, and other schedulers, then
    load it instead of each training its own. A classifier that cannot be trained is left
    for the runs to fail with the reason.
    """
    from .metrics import classifier as clf

    seen: set[str] = set()
    for run in runs:
        cfg = run.config
        spec = cfg["dataset"]
        key = repr(spec)
        if key in seen or cfg["eval"]["every"] == "none":
            continue
        seen.add(key)
        try:
            data = builder.data(spec)
            if data.kind != "image" or data.train_labels is None or not data.num_classes:
                continue
            options = {k: v for k, v in spec.items() if k != "name"}
            if not clf.classifier_path(spec["name"], options, data)[0].is_file():
                console.print(f"training the {spec['name']} mode classifier (once; cached for every run)", markup=False, highlight=False)
            clf.get_classifier(spec["name"], options, data, device, cfg["eval"]["classifier_floor"])
        except BaseException as e:
            _unless_interrupt(e)
            continue


def _unless_interrupt(e: BaseException) -> None:
    """A plugin's exception in an up-front check, SystemExit included, is left for its run
    to fail with (one line and a traceback); Ctrl-C and SIGTERM still stop the suite."""
    if isinstance(e, KeyboardInterrupt):
        raise e
