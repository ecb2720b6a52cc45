"""Per-cell statistics over seeds: mean, std, a 95% confidence interval, n, status counts.

Final values use the *complete* runs of a cell only; diverged and failed runs are counted,
not averaged (a diverged run's last FID says nothing about the recipe's usual outcome).
Values at a point of training (`--at`) use every run that reached that point, diverged
later or not. Every statistic carries its own n, and `outcomes` (complete + diverged) is
what it is out of: a cell whose seeds mostly diverged cannot look like a good recipe.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..keys import LOWER
from ..store import COMPLETE, DIVERGED, FAILED
from .load import ReportError
from .metric_traits import direction as direction  # re-exported: the tests import it from here
from .metric_traits import metric_range as metric_range  # re-exported, as direction
from .metric_traits import value_range
from .run_columns import metric_columns

CONFIDENCE = 0.95
CI_METHODS = ("t", "bootstrap")
BOOTSTRAP_RESAMPLES = 2000  # enough for a stable 95% percentile interval
BOOTSTRAP_SEED = 0  # the same folder gives the same report
# A percentile bootstrap over n seeds covers far less than its nominal 95% at small n
# (about 75% at n = 3, 90% at n = 10 for normal data): below this, cells get the t interval.
BOOTSTRAP_MIN_N = 10
SHOW_SEEDS_BELOW = 5  # with fewer values, the tables show each seed's value, not only mean ± std

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


# ---------------------------------------------------------------- per cell


def cell_table(frame: pd.DataFrame, axes: list[str], method: str, declared: dict | None = None) -> pd.DataFrame:
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
            stats_ = summarize_values(sample_values(group, v), method, value_range(v, group, declared))
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
