"""The plugin contract: the hooks a ganbench plugin may implement.

A plugin is a module named by an entry point in the ``ganbench`` group. It implements
any of the hooks below with ``@ganbench.hookimpl``. Each hook receives a ``register``
callback and calls it once per thing it provides; it returns nothing.

    from ganbench import hookimpl

    @hookimpl
    def register_losses(register):
        register("my-loss", MyLoss)

What each registered factory must accept and return is defined in ``ganbench.contracts``.
"""

from __future__ import annotations

from typing import Callable

import pluggy

hookspec = pluggy.HookspecMarker("ganbench")
hookimpl = pluggy.HookimplMarker("ganbench")

# register(name, factory): `name` is how suites refer to it; names are unique across all
# plugins of one kind.
Register = Callable[[str, Callable], None]


@hookspec
def register_architectures(register: Register) -> None:
    """Register (generator, discriminator) builders.

    ``register(name, build)`` where ``build(data: DataSpec, z_dim: int, **options)``
    returns a ``ganbench.contracts.Models`` pair. Its keyword options are what a suite may
    set under ``architecture: {name: ..., option: value}``.
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Register datasets.

    ``register(name, load)`` where ``load(**options)`` returns a
    ``ganbench.contracts.GanData`` with the whole dataset as tensors.
    """


@hookspec
def register_losses(register: Register) -> None:
    """Register adversarial losses.

    ``register(name, make)`` where ``make(**options)`` returns a
    ``ganbench.contracts.Loss``.
    """


@hookspec
def register_executors(register: Register) -> None:
    """Register executors: where and how many runs of a suite train at once.

    ``register(name, make)`` where ``make(options: ganbench.executors.ExecutorOptions)``
    returns a ``ganbench.executors.Executor``; ``ganbench run --executor NAME`` uses it.
    The contract (one ``run(jobs, report)`` method) is in ``ganbench/executors/__init__.py``.
    """


@hookspec
def register_loggers(register: Register) -> None:
    """Register loggers: where a run's history rows and sample grids go as they are made.

    ``register(name, make)`` where ``make(run_dir: Path, record: dict)`` returns a
    ``ganbench.loggers.Logger``; a suite's ``loggers: [name]`` or ``--logger NAME`` uses it.
    """


@hookspec
def register_callbacks(register: Register) -> None:
    """Register training callbacks: code that runs in the training loop after D's and G's
    updates and chooses the generator that is evaluated (an EMA of G).

    ``register(name, make)`` where ``make(**options)`` returns a
    ``ganbench.callbacks.Callback``; a run config names it in ``callbacks: [{name: ...}]``.
    """


@hookspec
def register_metrics(register: Register) -> None:
    """Register evaluation metrics (ganbench's own families are registered this way too).

    ``register(name, make)`` where ``make(**options)`` returns a
    ``ganbench.metrics.plugin.Metric``; ``make`` (usually the Metric subclass) declares
    ``directions`` ({result key: "higher" | "lower" | "none"}) and ``kinds`` (the data
    kinds it applies to). A run config enables it: ``eval: {metrics: {name: {options}}}``.
    """


@hookspec
def register_augments(register: Register) -> None:
    """Register transforms of D's inputs: applied alike to real and fake batches inside the
    training step, differentiably, before every D call (DiffAugment, ADA).

    ``register(name, make)`` where ``make(**options)`` returns a
    ``ganbench.augment.Augment``; a run config names it in ``augment: {name: ...}``.
    """
