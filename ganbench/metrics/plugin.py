"""Metric plugins: evaluation metrics registered through the ``register_metrics`` hook.

A metric plugin registers ``make(**options) -> Metric`` (usually the Metric subclass
itself). ``make`` declares, as attributes readable without building anything:

- ``directions``: {result key: "higher" | "lower" | "none"}; every key the metric returns,
  and which way is better (the report's verdicts, ``keep_best``);
- ``kinds``: the data kinds it applies to, a subset of ("image", "points", "tabular");
- optionally ``ranges``: {result key: (low, high)}, the values a key can take (None: no
  bound), e.g. ``(0.0, None)`` for a distance: the report clips confidence intervals to
  them, as it does for ganbench's own bounded metrics.

A run enables metric plugins with ``eval: {metrics: {name: {option: value}}}``; their
options are ``make``'s keyword parameters, validated like any plugin's. ganbench's own
metric families (``metrics.families``: mode coverage, domain and Inception fidelity, 2-D
mixture coverage) are registered the same way and are on in every run they apply to.

Once per run the Evaluator calls ``setup(ctx)``, which may say why this run cannot measure
the metric (it is then left out, the reason noted in run.json), and ``protocol(ctx)``: the
fields that make two values of the metric comparable (recorded in run.json ``protocol`` as
``<metric>.<field>``). At each evaluation it calls ``metric(samples, ctx)`` with the
generator's samples in the data's native format (uint8 (N, C, H, W) images; float (N, F)
points or rows, standardized like the data) and the Context.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..contracts import DATA_KINDS, GanData

if TYPE_CHECKING:  # annotations only: registering a metric must not import torch
    import torch

DIRECTIONS = ("higher", "lower", "none")
# ganbench's own families (metrics.families), on in every run whose data kind they apply
# to, in this order; the registry names under which ganbench.builtin.metrics registers them.
BUILTIN_FAMILIES = ("mode-coverage", "domain-fidelity", "inception-fidelity", "mixture-coverage")


@dataclass
class Context:
    """What a metric may use besides the samples."""

    data: GanData  # the whole dataset (train, test, labels, info)
    dataset: dict  # the run's dataset config: {name, **options}
    device: torch.device
    seed: int  # the run's seed: seed anything random from it (e.g. seed + 1)
    final: bool  # the last evaluation (eval.samples samples) or an intermediate one
    samples: int  # how many samples the final evaluation draws (eval.samples)
    classifier: Any = None  # the dataset's mode classifier (ganbench.metrics.classifier), images with labels only
    notes: list[str] = field(default_factory=list)  # one-line remarks for run.json
    eval: dict = field(default_factory=dict)  # the run's validated `eval` options (config.EVAL_DEFAULTS)
    # Images: the real side every feature-space metric compares against (eval.real_samples,
    # in a fixed random order) and its content hash (a key for caches of real features).
    real: torch.Tensor | None = None  # uint8 (M, C, H, W)
    real_hash: str | None = None
    # A conditional generator's samples: the class each was drawn for, (N,) int64 on the
    # CPU, aligned with the samples a metric is called with; None for an unconditional one.
    labels: torch.Tensor | None = None
    conditional: bool = False  # the run's architecture takes labels (known at set-up, before any sample)


class Metric:
    """Subclass, set ``directions`` and ``kinds``, and implement ``__call__``."""

    directions: dict[str, str] = {}
    kinds: tuple[str, ...] = DATA_KINDS
    ranges: dict[str, tuple] = {}  # {key: (low, high)}, None for no bound: where the report clips intervals
    final_only: bool = False  # True: measured at the last evaluation only (an expensive metric)
    feature_space: str | None = None  # the feature space it measures in, if any (run.json protocol `feature_spaces`)

    def setup(self, ctx: Context) -> str | None:
        """Prepare once per run (find weights, fit features); return why this run cannot
        measure the metric (a note for run.json: the metric is then left out), or None."""
        return None

    def protocol(self, ctx: Context) -> dict:
        """Fields that make two values of this metric comparable (flat: str -> scalar): the
        same for every seed of a cell (sample counts, a library's version, a fixed seed of
        the metric's own), never a per-run value such as ctx.seed: the report pools the
        seeds of a cell only when their protocols are equal."""
        return {}

    def __call__(self, samples: torch.Tensor, ctx: Context) -> dict[str, float]:
        raise NotImplementedError


def metric_problem(factory, name: str | None = None) -> str | None:
    """Why a metric factory registered as `name` breaks the contract, or None."""
    from . import keys

    directions = getattr(factory, "directions", None)
    if not isinstance(directions, dict) or not directions:
        return f"{getattr(factory, '__name__', factory)} must declare `directions`, a non-empty {{key: higher|lower|none}}"
    for key, how in directions.items():
        if not isinstance(key, str) or not key or how not in DIRECTIONS:
            return f"directions[{key!r}] = {how!r}: keys are non-empty strings, values one of {', '.join(DIRECTIONS)}"
    taken = sorted(set(directions) & set(keys.DIRECTIONS))
    if taken and name not in BUILTIN_FAMILIES:
        return f"{taken[0]!r} is a key of ganbench's own metrics: name yours differently"
    kinds = getattr(factory, "kinds", None)
    if not isinstance(kinds, (tuple, list)) or not kinds or not set(kinds) <= set(DATA_KINDS):
        return f"`kinds` must be a non-empty subset of {DATA_KINDS}, got {kinds!r}"
    ranges = getattr(factory, "ranges", None) or {}
    if not isinstance(ranges, dict):
        return f"`ranges` must be a dict {{key: (low, high)}}, got {ranges!r}"
    for key, bounds in ranges.items():
        if key not in directions:
            return f"ranges[{key!r}]: not a key the metric declares in `directions`"
        ok = isinstance(bounds, (tuple, list)) and len(bounds) == 2
        ok = ok and all(b is None or (isinstance(b, (int, float)) and not isinstance(b, bool)) for b in bounds)
        if not ok or (None not in bounds and bounds[0] > bounds[1]):
            return f"ranges[{key!r}] = {bounds!r}: expected (low, high) numbers or None, low <= high"
    if inspect.isclass(factory) and not issubclass(factory, Metric):
        return f"{factory.__name__} is not a subclass of ganbench.metrics.plugin.Metric"
    return None


def registry_direction(key: str, registry=None) -> str | None:
    """ "higher", "lower" or None for a result key some metric plugin declares (None also
    for "none" and for keys no plugin declares). The report can call this for keys
    ``ganbench.metrics.keys.direction`` does not know; `registry` defaults to the
    current one (``ganbench.plugins.current_registry``)."""
    from ..plugins import current_registry

    registry = registry or current_registry()
    base = key.split(".")[0]  # `aug_gain_argmax.best` -> its metric
    for entry in registry.entries.get("metric", {}).values():
        how = entry.factory.directions.get(base)
        if how is not None:
            return how if how in ("higher", "lower") else None
    return None


def registry_range(key: str, registry=None) -> tuple[float, float] | None:
    """(low, high) a metric plugin declares for `key` in its ``ranges`` (inf for None), or
    None when no plugin declares one (the report then uses ganbench's own rules)."""
    import math

    from ..plugins import current_registry

    registry = registry or current_registry()
    base = key.split(".")[0]
    for entry in registry.entries.get("metric", {}).values():
        bounds = (getattr(entry.factory, "ranges", None) or {}).get(base)
        if bounds is not None:
            low, high = bounds
            return (-math.inf if low is None else float(low), math.inf if high is None else float(high))
    return None


def registry_keys(name: str, registry=None) -> list[str]:
    """The keys metric plugin `name` declares with a direction (what a table shows), or []."""
    from ..plugins import PluginError, current_registry

    registry = registry or current_registry()
    try:
        directions = registry.get("metric", name).factory.directions
    except (PluginError, AttributeError):
        return []
    return [k for k, how in directions.items() if how in ("higher", "lower")]


def make_metrics(specs: dict, registry, kind: str) -> tuple[dict, list[str]]:
    """{name: Metric}: the built-in families that apply to `kind` data, then those a run's
    ``eval.metrics`` enables; and notes on the enabled ones skipped."""
    out, notes = {}, []
    families = [name for name in BUILTIN_FAMILIES if kind in registry.get("metric", name).factory.kinds]
    for name, options in [(name, {}) for name in families] + list(specs.items()):
        entry = registry.get("metric", name)
        if kind not in entry.factory.kinds:
            notes.append(f"metric {name} skipped: it applies to {', '.join(entry.factory.kinds)} data, not {kind}")
            continue
        metric = entry.factory(**options)
        if not isinstance(metric, Metric):
            raise TypeError(f"metric {name!r} ({entry.plugin}) returned {type(metric).__name__}, not Metric")
        if not metric.directions:  # a factory function declared them, not the class
            metric.directions = dict(entry.factory.directions)
        out[name] = metric
    return out, notes
