"""Per-cell statistics over seeds: mean, std, a 95% confidence interval, n, status counts.

Final values use the *complete* runs of a cell only; diverged and failed runs are counted,
not averaged (a diverged run's last FID says nothing about the recipe's usual outcome).
Values at a point of training (`--at`) use every run that reached that point, diverged
later or not. Every statistic carries its own n, and `outcomes` (complete + diverged) is
what it is out of: a cell whose seeds mostly diverged cannot look like a good recipe.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..metrics.keys import LOWER
from ..metrics.keys import direction as known_direction
from ..store import COMPLETE, DIVERGED, FAILED
from .load import RUN_COLUMNS, ReportError, RunRecord, flatten, history_metrics, lookup

CONFIDENCE = 0.95
CI_METHODS = ("t", "bootstrap")
BOOTSTRAP_RESAMPLES = 2000  # enough for a stable 95% percentile interval
BOOTSTRAP_SEED = 0  # the same folder gives the same report
# A percentile bootstrap over n seeds covers far less than its nominal 95% at small n
# (about 75% at n = 3, 90% at n = 10 for normal data): below this, cells get the t interval.
BOOTSTRAP_MIN_N = 10
SHOW_SEEDS_BELOW = 5  # with fewer values, the tables show each seed's value, not only mean ± std

# Direction of a metric: "lower" / "higher" is better; unknown metrics get none (no ranking, no best).

# What the terminal table shows first when present: sample quality, then D's view of training.
QUALITY = (
    "fid_domain",
    "kid_domain",
    "is_domain",
    "precision_domain",
    "recall_domain",
    "fid",
    "kid",
    "is",
    "modes_covered",
    "mode_kl",
    "high_quality_frac",
    "confident_frac",
)
TRAINING = ("d_acc_real", "d_acc_fake", "d_loss", "g_loss")
THROUGHPUT = "train_img_per_s"
HEADLINE_QUALITY = 3  # more columns than this no longer fits a terminal
HEADLINE_PLUGINS = 2  # keys of the metric plugins the runs name, shown after them

# Suffixes of the aggregate columns: `<value>.mean` etc. (see docs/report.md).
STAT_SUFFIXES = ("mean", "std", "ci_low", "ci_high", "n")


def direction(metric: str, given: dict[str, str] | None = None) -> str | None:
    base = metric.split(".")[0]
    if given and base in given:
        return given[base]
    return known_direction(base) or _plugin_direction(base)


def _plugin_direction(key: str) -> str | None:
    """What the metric plugin that produces `key` declares (cas: higher), if any does."""
    from ..metrics.plugin import registry_direction

    return registry_direction(key)


def _plugin_range(key: str) -> tuple[float, float] | None:
    from ..metrics.plugin import registry_range

    return registry_range(key)


@dataclass(frozen=True)
class At:
    """`--at epoch=10` / `--at step=5000`: values at the latest log point at or before N."""

    unit: str  # "epoch" or "step"
    value: float

    @classmethod
    def parse(cls, text: str) -> "At":
        m = re.fullmatch(r"\s*(epoch|step)s?\s*=\s*([0-9]+(?:\.[0-9]+)?)\s*", text or "")
        if not m:
            raise ReportError(f"--at {text!r}: expected epoch=N or step=N, e.g. --at epoch=10")
        return cls(m.group(1), float(m.group(2)))

    @property
    def suffix(self) -> str:
        return f"at_{self.unit}_{self.value:g}"


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


def metric_range(metric: str) -> tuple[float, float | str]:
    """(low, high) a metric's values can take; high may name the per-run metric that bounds it.

    KID's unbiased estimate can be negative, losses are unbounded: (-inf, inf).
    """
    base = metric.split(".")[0]
    declared = _plugin_range(base)
    if declared is not None:  # what the metric plugin that produces it declares (`ranges`)
        return declared
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


def value_range(metric: str, rows: pd.DataFrame) -> tuple[float, float]:
    """metric_range with a per-run bound (modes_total) read from `rows` (inf when absent)."""
    low, high = metric_range(metric)
    if isinstance(high, str):
        bound = pd.to_numeric(rows[high], errors="coerce").max() if high in rows else math.nan
        high = float(bound) if np.isfinite(bound) else math.inf
    return low, high


def is_at_column(column: str) -> bool:
    return ".at_" in column


def sample_statuses(column: str) -> tuple[str, ...]:
    """Which runs a value column's statistics use: final and best values come from complete
    runs; a value at a point of training from every run that reached it (diverged later or not)."""
    return (COMPLETE, DIVERGED) if is_at_column(column) else (COMPLETE,)


def sample_values(rows: pd.DataFrame, column: str) -> pd.Series:
    """The values of `column` that its statistics use (see sample_statuses), NaN dropped."""
    if column not in rows:
        return pd.Series(dtype=float)
    keep = rows["status"].isin(sample_statuses(column))
    return pd.to_numeric(rows.loc[keep, column], errors="coerce").dropna()


def ci(values: np.ndarray, method: str = "t", bounds: tuple[float, float] = (-math.inf, math.inf)) -> tuple[float, float]:
    """95% CI of the mean of `values` (over seeds), clipped to `bounds`; NaN when fewer than two."""
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return math.nan, math.nan
    mean = float(x.mean())
    if np.all(x == x[0]):
        return mean, mean  # no spread: both methods give a point
    lo, hi = _interval(x, mean, method)
    return max(lo, bounds[0]), min(hi, bounds[1])


def _interval(x: np.ndarray, mean: float, method: str) -> tuple[float, float]:
    if method == "t":
        lo, hi = stats.t.interval(CONFIDENCE, len(x) - 1, loc=mean, scale=stats.sem(x))
        return float(lo), float(hi)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns that tiny samples give degenerate intervals
        res = stats.bootstrap(
            (x,),
            np.mean,
            confidence_level=CONFIDENCE,
            n_resamples=BOOTSTRAP_RESAMPLES,
            method="percentile",
            rng=np.random.default_rng(BOOTSTRAP_SEED),
        )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def summarize_values(x: pd.Series, method: str, bounds: tuple[float, float] = (-math.inf, math.inf)) -> dict:
    """mean, std, ci_low, ci_high, n, plus `clipped` (the interval met the metric's range) and
    `method` (the interval used: a bootstrap over fewer than BOOTSTRAP_MIN_N seeds falls back to t)."""
    x = pd.to_numeric(x, errors="coerce").dropna().to_numpy(float)
    used = "t" if method == "bootstrap" and len(x) < BOOTSTRAP_MIN_N else method
    raw = ci(x, used)
    lo, hi = ci(x, used, bounds)
    return {
        "mean": float(x.mean()) if len(x) else math.nan,
        "std": (float(x.std(ddof=1)) if np.ptp(x) > 0 else 0.0) if len(x) > 1 else math.nan,  # equal values: exactly 0
        "ci_low": lo,
        "ci_high": hi,
        "n": len(x),
        "clipped": bool(len(x) > 1 and (lo != raw[0] or hi != raw[1])),
        "method": used,
    }


# ---------------------------------------------------------------- axes and labels


def find_axes(runs: list[RunRecord]) -> list[str]:
    """The matrix axes of the runs' cells, then any other config key that varies between cells."""
    axes: dict[str, None] = {}
    for r in runs:
        for k in r.record.get("cell") or {}:
            if k != "seed":
                axes[k] = None
    configs = {r.cell_key: flatten(json.loads(r.cell_key)) for r in runs}
    keys = sorted({k for c in configs.values() for k in c})
    for k in keys:
        if any(k == a or k.startswith(a + ".") for a in axes):
            continue
        if len({json.dumps(c.get(k), sort_keys=True) for c in configs.values()}) > 1:
            axes[k] = None
    return list(axes)


def axis_labels(values: list) -> dict[str, str]:
    """Short readable labels for the distinct values of one axis: {json(value): label}.

    A plugin/optimizer mapping is labelled by its name, plus the options that differ
    between values of the same name (adam lr=0.001 vs adam lr=0.0002).
    """
    distinct = {json.dumps(v, sort_keys=True): v for v in values}
    labels = {}
    for key, v in distinct.items():
        if not isinstance(v, dict):
            labels[key] = "" if v is None else (str(v) if not isinstance(v, float) else f"{v:g}")
            continue
        same_name = [o for o in distinct.values() if isinstance(o, dict) and o.get("name") == v.get("name")]
        varying = [k for k in v if k != "name" and len({json.dumps(o.get(k), sort_keys=True) for o in same_name}) > 1]
        parts = [str(v["name"])] if "name" in v else []
        parts += [f"{k}={_fmt_value(v[k])}" for k in (varying if "name" in v else v)]
        labels[key] = " ".join(parts)
    return labels


def _fmt_value(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "[" + ",".join(_fmt_value(x) for x in v) + "]"
    return str(v)


# ---------------------------------------------------------------- per run values


def run_values(runs: list[RunRecord], frame: pd.DataFrame, at: At | None, given: dict) -> tuple[pd.DataFrame, dict]:
    """Add `<m>.best` and `<m>.at_<unit>_<N>` columns from the histories.

    Returns the frame and {metric: value column shown for it} (the `--at` column when asked).
    """
    frame = frame.copy()
    hist_metrics = history_metrics(runs)
    shown = {m: m for m in frame.columns if m not in _non_metric(frame)}
    for m in hist_metrics:
        final, best, at_val = [], [], []
        for r in runs:
            h = r.history()
            col = pd.to_numeric(h[m], errors="coerce") if m in h else pd.Series(dtype=float)
            ok = col.dropna()
            # null at a complete run's final evaluation by definition (2-D mode_kl with no
            # high-quality sample): an earlier evaluation's value is not its final one
            null_final = r.status == COMPLETE and m in (r.record.get("metrics") or {}) and r.record["metrics"][m] is None
            final.append(float(ok.iloc[-1]) if len(ok) and not null_final else math.nan)
            d = direction(m, given)
            best.append(float(ok.min() if d == LOWER else ok.max()) if len(ok) and d else math.nan)
            if at:
                at_val.append(_value_at(h, col, at, r.status, r.record.get("diverged_at_step")))
        if m not in frame.columns:
            frame[m] = final  # a metric only logged in the history: its last value is final
        else:
            frame[m] = frame[m].where(frame[m].notna(), final)
        if direction(m, given):
            frame[f"{m}.best"] = best
        shown[m] = m
        if at:
            frame[f"{m}.{at.suffix}"] = at_val
            shown[m] = f"{m}.{at.suffix}"
    return frame, shown


def _value_at(h: pd.DataFrame, col: pd.Series, at: At, status: str = COMPLETE, diverged_at=None) -> float:
    """The latest value logged at or before `at`, for a run that reached it; NaN otherwise.

    A complete run reached every point up to its last log. A diverged run was healthy until
    the step its losses stopped being finite, so it reached every point before that (its
    values there count, however it ended); its last row, where divergence was seen, does not.
    """
    if at.unit not in h or not len(h):
        return math.nan
    pos = pd.to_numeric(h[at.unit], errors="coerce")
    reached = pos.max()
    if status == DIVERGED:
        steps = pd.to_numeric(h["step"], errors="coerce")
        if diverged_at is not None and np.isfinite(steps.max()) and steps.max() > 0:
            per_step = 1.0 if at.unit == "step" else float(pos.max() / steps.max())  # epochs per step
            reached = (float(diverged_at) - 1) * per_step
        else:
            reached = pos.iloc[:-1].max() if len(pos) > 1 else math.nan
    if not (reached >= at.value - 1e-6):
        return math.nan  # the run never got there (diverged before, or shorter)
    ok = col[(pos <= at.value + 1e-6) & col.notna()]
    return float(ok.iloc[-1]) if len(ok) else math.nan


def _non_metric(frame: pd.DataFrame) -> set:
    return set(RUN_COLUMNS) | {c for c in frame.columns if c.startswith("axis:")}


def metric_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in _non_metric(frame) and pd.api.types.is_numeric_dtype(frame[c])]


# ---------------------------------------------------------------- per cell


def cell_table(frame: pd.DataFrame, axes: list[str], method: str) -> pd.DataFrame:
    """One row per cell: axes, counts, and `<value>.{mean,std,ci_low,ci_high,n}` per value column.

    `outcomes` = complete + diverged runs (what every n is out of; failed runs measured
    nothing and are retried). `cells.attrs` holds `clipped` (value columns with an interval
    clipped to the metric's range) and `ci_fallback` (value columns where a bootstrap was
    asked for but too few seeds gave a t interval instead).
    """
    values = metric_columns(frame)
    rows = []
    clipped, fallback = set(), set()
    for cell, group in frame.groupby("cell", sort=False):
        counts = group["status"].value_counts()
        row = {"cell": cell, "label": group["label"].iloc[0]}
        row.update({f"axis:{a}": group[f"axis:{a}"].iloc[0] for a in axes})
        row.update(
            {
                "suite": ",".join(sorted(group["suite"].unique())),
                "protocol": ",".join(sorted(group["protocol"].unique())),
                "runs": len(group),
                COMPLETE: int(counts.get(COMPLETE, 0)),
                DIVERGED: int(counts.get(DIVERGED, 0)),
                FAILED: int(counts.get(FAILED, 0)),
                "seeds": " ".join(str(s) for s in sorted(group["seed"].dropna().astype(int))),
            }
        )
        row["outcomes"] = row[COMPLETE] + row[DIVERGED]
        row["success_rate"] = row[COMPLETE] / row["outcomes"] if row["outcomes"] else math.nan
        for v in values:
            stats_ = summarize_values(sample_values(group, v), method, value_range(v, group))
            clipped.update([v] if stats_.pop("clipped") else [])
            fallback.update([v] if stats_.pop("method") != method else [])
            for k, x in stats_.items():
                row[f"{v}.{k}"] = x
        rows.append(row)
    cells = pd.DataFrame(rows)
    cells.attrs.update(clipped=sorted(clipped), ci_fallback=sorted(fallback))
    return cells


def rank(cells: pd.DataFrame, column: str, how: str) -> pd.DataFrame:
    """Cells ordered best first, with a `rank` column (cells without the value last).

    First by the share of the cell's outcomes that produced the value (complete runs for a
    final value, runs that reached the point for `--at`): a cell with 1 complete and 2
    diverged seeds never outranks one whose seeds all finished. Then by `<column>.mean`.
    """
    key = f"{column}.mean"
    share = (cells[f"{column}.n"] / cells["outcomes"].where(cells["outcomes"] > 0)).fillna(0.0)
    order = cells.assign(_has=cells[key].notna(), _share=share.round(12))
    order = order.sort_values(["_has", "_share", key], ascending=[False, False, how == LOWER], kind="stable")
    out = order.drop(columns=["_has", "_share"]).reset_index(drop=True)
    out.attrs.update(cells.attrs)
    out.insert(0, "rank", [i + 1 if np.isfinite(v) else None for i, v in enumerate(out[key])])
    return out


def headline(frame: pd.DataFrame, shown: dict, chosen: list[str] | None, named: list[str] = ()) -> list[str]:
    """The metrics the terminal and page tables show: the main quality metrics, then the
    keys of the metric plugins the runs name (`named`: a run that enables a plugin is run
    to see it), else D's view of training; and throughput."""
    present = [m for m in shown if frame[shown[m]].notna().any()]
    if chosen:
        unknown = [m for m in chosen if m not in shown]
        if unknown:
            raise ReportError(f"--metrics: no metric {unknown[0]!r} in these runs; known: {', '.join(sorted(shown))}")
        return chosen
    quality = [m for m in QUALITY if m in present][:HEADLINE_QUALITY]
    quality += [m for m in dict.fromkeys(named) if m in present and m not in quality][:HEADLINE_PLUGINS]
    out = quality or [m for m in TRAINING if m in present][:2]
    if THROUGHPUT in present:
        out.append(THROUGHPUT)
    return out


def label_runs(runs: list[RunRecord], frame: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """Add `axis:<axis>` columns (short labels) and a `label` joining them."""
    frame = frame.copy()
    for a in axes:
        vals = [lookup(r.record["config"], a) for r in runs]
        labels = axis_labels(vals)
        frame[f"axis:{a}"] = [labels[json.dumps(v, sort_keys=True)] for v in vals]
    frame["label"] = [", ".join(f"{a}={frame.at[i, f'axis:{a}']}" for a in axes) or "(one cell)" for i in frame.index]
    return frame
