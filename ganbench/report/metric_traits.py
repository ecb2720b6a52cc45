"""What the report knows about a metric: which way is better, and what range its values take.

Both come from ganbench's own rules (``ganbench.keys`` and the patterns below) or from what
the metric plugin that produces a key declares (its ``directions`` and ``ranges``), which
build_report reads from its registry once (``Registry.metric_directions``,
``Registry.metric_ranges``) and passes down; `--direction METRIC=lower|higher` overrides a direction.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from ..keys import direction as known_direction


def direction(metric: str, given: dict[str, str] | None = None) -> str | None:
    """ "lower" or "higher" is better; None for a metric nobody declares (no ranking, no best).
    `given`: the report's directions beyond ganbench's own (plugins' declared, then --direction)."""
    base = metric.split(".")[0]
    if given and base in given:
        return given[base]
    return known_direction(base)


# ---------------------------------------------------------------- ranges of bounded metrics

# [0, 1]: shares, accuracies, precision/recall, SDMetrics scores; built-in metric plugins too.
_UNIT = re.compile(
    r"^(precision|recall)(_.*)?$|_frac$|^d_acc_(real|fake)$|^cas(_real)?$|^aug_acc_.*$"
    r"|^tab_(column_shapes|pair_trends|detection)$"
)
_AT_MOST_ONE = re.compile(r"^tab_ml_efficacy(_real)?$")  # F1 in [0, 1], or R^2 (at most 1, any negative)
_GAIN = re.compile(r"^aug_gain_.*$")  # a difference of two accuracies
_NON_NEGATIVE = re.compile(r"^fid(_.*)?$|^mode_kl$|_ms$|^peak_mem_mb$|_s$|^time_to_.*$|^train_img_per_s$|^(steps|epochs)$")
_AT_LEAST_ONE = re.compile(r"^is(_.*)?$")  # exp(E KL) >= 1


def metric_range(metric: str, declared: dict | None = None) -> tuple[float, float | str]:
    """(low, high) a metric's values can take; high may name the per-run metric that bounds it.
    `declared`: the ranges metric plugins declare (Registry.metric_ranges), which come first.

    KID's unbiased estimate can be negative, losses are unbounded: (-inf, inf).
    """
    base = metric.split(".")[0]
    if declared and base in declared:  # what the metric plugin that produces it declares (`ranges`)
        return declared[base]
    if base == "modes_covered":
        return 0.0, "modes_total"
    if _UNIT.search(base):
        return 0.0, 1.0
    if _AT_MOST_ONE.search(base):
        return -math.inf, 1.0
    if _GAIN.search(base):
        return -1.0, 1.0
    if _AT_LEAST_ONE.search(base):
        return 1.0, math.inf
    if _NON_NEGATIVE.search(base):
        return 0.0, math.inf
    return -math.inf, math.inf


def value_range(metric: str, rows: pd.DataFrame, declared: dict | None = None) -> tuple[float, float]:
    """metric_range with a per-run bound (modes_total) read from `rows` (inf when absent)."""
    low, high = metric_range(metric, declared)
    if isinstance(high, str):
        bound = pd.to_numeric(rows[high], errors="coerce").max() if high in rows else math.nan
        high = float(bound) if np.isfinite(bound) else math.inf
    return low, high
