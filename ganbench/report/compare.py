"""Pairwise comparisons along one axis: is the difference more than seed noise?

For two values a, b of an axis, in every context where the other axes agree, and for
each compared metric: the difference of the cells' means (a - b) over their complete
runs, a 95% Welch confidence interval of that difference, and a two-sided test p-value
(Welch's t-test, or Mann-Whitney U for a rank-based test that assumes no normality).
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..metrics.keys import COST_KEYS
from ..store import COMPLETE
from .aggregate import CONFIDENCE, LOWER, direction
from .load import ReportError

TESTS = {"welch": "Welch t-test", "mwu": "Mann-Whitney U"}
ALPHA = 0.05  # the `better` column names a winner only below this p-value
COLUMNS = ("axis", "a", "b", "context", "metric", "column", "mean_a", "mean_b", "diff", "ci_low", "ci_high",
           "test", "p", "n_a", "n_b", "better")


def auto_axes(frame: pd.DataFrame, axes: list[str]) -> list[str]:
    """Axes with exactly two values are compared without being asked."""
    return [a for a in axes if frame[f"axis:{a}"].nunique() == 2]


def welch(xa: np.ndarray, xb: np.ndarray) -> tuple[float, float, float]:
    """(p, ci_low, ci_high) of mean(xa) - mean(xb), Welch's unequal-variance t."""
    if len(xa) < 2 or len(xb) < 2:
        return math.nan, math.nan, math.nan
    if np.var(xa) == 0 and np.var(xb) == 0:
        # Every seed gave the same value (e.g. an accuracy saturated at 1): the difference is
        # exact for these seeds, but a t-test is undefined and a p of 0 would overclaim.
        d = float(xa.mean() - xb.mean())
        return math.nan, d, d
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # near-identical seeds: scipy warns about precision, the numbers stand
        res = stats.ttest_ind(xa, xb, equal_var=False)
    lo, hi = res.confidence_interval(CONFIDENCE)
    return float(res.pvalue), float(lo), float(hi)


def mann_whitney(xa: np.ndarray, xb: np.ndarray) -> float:
    if len(xa) < 1 or len(xb) < 1:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.mannwhitneyu(xa, xb, alternative="two-sided").pvalue)


def compare(frame: pd.DataFrame, axes: list[str], axis: str, metrics: list[str], shown: dict, test: str = "welch",
            given: dict | None = None) -> pd.DataFrame:
    """One row per (pair of axis values, context, metric); see COLUMNS."""
    if axis not in axes:
        raise ReportError(f"--compare {axis}: not an axis of these runs; axes: {', '.join(axes) or 'none (one cell)'}")
    if test not in TESTS:
        raise ReportError(f"--test {test}: expected one of {', '.join(TESTS)}")
    done = frame[frame["status"] == COMPLETE]
    col = f"axis:{axis}"
    others = [f"axis:{a}" for a in axes if a != axis]
    values = list(dict.fromkeys(frame[col]))  # in the order the runs list them
    rows = []
    contexts = done.groupby(others + ["protocol"], sort=False) if others else done.groupby(["protocol"], sort=False)
    for ctx, group in contexts:
        ctx = ctx if isinstance(ctx, tuple) else (ctx,)
        context = ", ".join(f"{o[5:]}={v}" for o, v in zip(others, ctx))
        for a, b in itertools.combinations([v for v in values if v in set(group[col])], 2):
            for m in metrics:
                c = shown.get(m, m)
                pair = group[group[col].isin([a, b])]
                if m in COST_KEYS and "cost_context" in pair and pair["cost_context"].nunique() > 1:
                    continue  # img/s alone vs. img/s sharing a GPU: not the same quantity
                xa = pd.to_numeric(group.loc[group[col] == a, c], errors="coerce").dropna().to_numpy(float)
                xb = pd.to_numeric(group.loc[group[col] == b, c], errors="coerce").dropna().to_numpy(float)
                if not len(xa) or not len(xb):
                    continue
                p, lo, hi = welch(xa, xb)
                if test == "mwu":
                    p = mann_whitney(xa, xb)
                diff = float(xa.mean() - xb.mean())
                d = direction(m, given)
                better = ""
                if d and np.isfinite(p) and p < ALPHA and diff != 0:
                    better = a if (diff < 0) == (d == LOWER) else b
                rows.append({
                    "axis": axis, "a": a, "b": b, "context": context, "metric": m, "column": c,
                    "mean_a": float(xa.mean()), "mean_b": float(xb.mean()), "diff": diff, "ci_low": lo, "ci_high": hi,
                    "test": test, "p": p, "n_a": len(xa), "n_b": len(xb), "better": better,
                })
    return pd.DataFrame(rows, columns=list(COLUMNS))


def sentence(row) -> str:
    """'adam vs sgd: fid_domain -12.3 [-15.1, -9.4], p=0.003, n=5/5'."""
    ctx = f" ({row['context']})" if row["context"] else ""
    ci = f" [{_g(row['ci_low'])}, {_g(row['ci_high'])}]" if np.isfinite(row["ci_low"]) else ""
    if np.isfinite(row["p"]):
        p = f"p={row['p']:.3g}"
    else:
        p = "p=n/a (needs 2+ seeds each)" if min(row["n_a"], row["n_b"]) < 2 else "p=n/a (no spread over seeds)"
    better = f" → {row['better']} better" if row["better"] else ""
    what = row["metric"] if row["column"] == row["metric"] else f"{row['metric']} ({row['column'].split('.', 1)[1]})"
    return f"{row['a']} vs {row['b']}{ctx}: {what} {_g(row['diff'], signed=True)}{ci}, {p}, n={row['n_a']}/{row['n_b']}{better}"


def _g(x: float, signed: bool = False) -> str:
    s = f"{x:+.3g}" if signed else f"{x:.3g}"
    return s.replace("-", "−")

