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

from ..contracts import BUILTIN_FAMILIES, DIRECTIONS, Context, Metric, metric_problem

__all__ = ["BUILTIN_FAMILIES", "DIRECTIONS", "Context", "Metric", "metric_problem", "make_metrics"]


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
