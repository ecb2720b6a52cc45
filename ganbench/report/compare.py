"""Comparisons along an axis: is a difference more than seed noise, once every test counts?

Pairwise: for two values a, b of an axis, in every context where the other axes agree,
and for each compared metric: the difference of the cells' means (a - b), a 95% Welch
confidence interval of it, and a two-sided p-value — Welch's t-test (default), the
Mann-Whitney U test, or an exact permutation test of the difference of means (also used
whenever both sides have no spread, where a t-test is undefined). When diverged runs
make the two cells' success rates differ, Fisher's exact test compares those too.

Trends: for a numeric axis with 3 or more values (lr_ratio 0.25 ... 4, epochs, steps), the
Spearman rank correlation of the metric with the axis over runs, with its p-value.

Every p-value of a report belongs to one family and is adjusted together (Holm), and a
verdict ("a better", "lower lr_ratio better") rests on the adjusted p only. A verdict also
needs a known direction and enough seeds for the test (Welch's t: 3 per side); a note
says why a row has none.

The tests are two_sample_tests', the adjustment and the verdicts multiple_testing's.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..keys import COST_KEYS
from ..store import COMPLETE, DIVERGED
from .aggregate import sample_values
from .load import ReportError
from .metric_traits import value_range
from .multiple_testing import SUCCESS
from .multiple_testing import adjust as adjust  # re-exported: the tests import it from here
from .multiple_testing import holm as holm  # re-exported, as adjust
from .two_sample_tests import TESTS, two_sample
from .two_sample_tests import permutation as permutation  # re-exported, as adjust

SPEARMAN_EXACT_MAX_N = 8  # up to 8! = 40,320 pairings: an exact permutation p; above, the t approximation
COLUMNS = (
    "axis",
    "a",
    "b",
    "context",
    "metric",
    "column",
    "mean_a",
    "mean_b",
    "diff",
    "ci_low",
    "ci_high",
    "test",
    "p",
    "p_adj",
    "p_min",
    "n_a",
    "n_b",
    "runs_a",
    "runs_b",
    "better",
    "note",
)
TREND_COLUMNS = ("axis", "context", "metric", "column", "rho", "test", "p", "p_adj", "n", "levels", "better", "note")
OUTCOMES = (COMPLETE, DIVERGED)


def auto_axes(frame: pd.DataFrame, axes: list[str]) -> list[str]:
    """Axes with exactly two values are compared without being asked."""
    return [a for a in axes if frame[f"axis:{a}"].nunique() == 2]


def numeric_levels(frame: pd.DataFrame, axis: str) -> dict[str, float] | None:
    """{label: number} when every value of the axis is a number, else None."""
    out = {}
    for label in frame[f"axis:{axis}"].dropna().unique():
        try:
            out[label] = float(label)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(out[label]):
            return None
    return out


def trend_axes(frame: pd.DataFrame, axes: list[str]) -> list[str]:
    """Numeric axes with 3 or more values get a trend test without being asked."""
    return [a for a in axes if a != "protocol" and (lv := numeric_levels(frame, a)) is not None and len(set(lv.values())) >= 3]


# ---------------------------------------------------------------- pairwise comparisons


def _contexts(frame: pd.DataFrame, axes: list[str], axis: str):
    """(context text, rows) for every combination of the other axes (and protocol)."""
    others = [f"axis:{a}" for a in axes if a != axis]
    rows = frame[frame["status"].isin(OUTCOMES)]
    for ctx, group in rows.groupby(others + ["protocol"], sort=False):
        ctx = ctx if isinstance(ctx, tuple) else (ctx,)
        yield ", ".join(f"{o[5:]}={v}" for o, v in zip(others, ctx)), group


def compare(
    frame: pd.DataFrame,
    axes: list[str],
    axis: str,
    metrics: list[str],
    shown: dict,
    test: str = "welch",
    given: dict | None = None,
    declared: dict | None = None,
) -> pd.DataFrame:
    """One row per (pair of axis values, context, metric); see COLUMNS. `given`: directions
    beyond ganbench's own; `declared`: ranges metric plugins declare (metric_traits).

    `p_adj` and `better` are left for `adjust`, which sees the whole family of the report.
    """
    if axis not in axes:
        raise ReportError(f"--compare {axis}: not an axis of these runs; axes: {', '.join(axes) or 'none (one cell)'}")
    if test not in TESTS:
        raise ReportError(f"--test {test}: expected one of {', '.join(TESTS)}")
    col = f"axis:{axis}"
    values = list(dict.fromkeys(frame[col]))  # in the order the runs list them
    rows = []
    columns = {m: shown.get(m, m) for m in metrics}
    for context, group in _contexts(frame, axes, axis):
        parts = dict(tuple(group.groupby(col, sort=False)))
        # Each side's samples and ranges once, not once per pair (a report may run thousands of tests).
        samples = {(v, m): sample_values(g, c).to_numpy(float) for v, g in parts.items() for m, c in columns.items()}
        ranges = {(v, m): value_range(m, g, declared) for v, g in parts.items() for m in metrics}
        for a, b in itertools.combinations([v for v in values if v in parts], 2):
            ga, gb = parts[a], parts[b]
            runs_a, runs_b = len(ga), len(gb)
            base = {"axis": axis, "a": a, "b": b, "context": context, "runs_a": runs_a, "runs_b": runs_b, "p_adj": math.nan, "better": ""}
            done_a, done_b = int((ga["status"] == COMPLETE).sum()), int((gb["status"] == COMPLETE).sum())
            if done_a < runs_a or done_b < runs_b:  # diverged runs: is one recipe less reliable?
                p = float(stats.fisher_exact([[done_a, runs_a - done_a], [done_b, runs_b - done_b]])[1])
                rows.append(
                    {
                        **base,
                        "metric": SUCCESS,
                        "column": "status",
                        "mean_a": done_a / runs_a,
                        "mean_b": done_b / runs_b,
                        "diff": done_a / runs_a - done_b / runs_b,
                        "ci_low": math.nan,
                        "ci_high": math.nan,
                        "test": "fisher",
                        "p": p,
                        "p_min": math.nan,
                        "n_a": runs_a,
                        "n_b": runs_b,
                        "note": "",
                    }
                )
            contexts = set(ga["cost_context"]) | set(gb["cost_context"]) if "cost_context" in group else set()
            for m, c in columns.items():
                if m in COST_KEYS and len(contexts) > 1:
                    continue  # img/s alone vs. img/s sharing a GPU: not the same quantity
                xa, xb = samples[a, m], samples[b, m]
                if not len(xa) or not len(xb):
                    continue
                res = two_sample(xa, xb, test)
                low, high = ranges[a, m][0], max(ranges[a, m][1], ranges[b, m][1])
                width = high - low
                if np.isfinite(width):  # a difference of bounded values is bounded too
                    res["ci_low"], res["ci_high"] = max(res["ci_low"], -width), min(res["ci_high"], width)
                rows.append(
                    {
                        **base,
                        "metric": m,
                        "column": c,
                        "mean_a": float(xa.mean()),
                        "mean_b": float(xb.mean()),
                        "diff": float(xa.mean() - xb.mean()),
                        "n_a": len(xa),
                        "n_b": len(xb),
                        **res,
                    }
                )
    return pd.DataFrame(rows, columns=list(COLUMNS))


# ---------------------------------------------------------------- trends along numeric axes


def spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float, str]:
    """(rho, two-sided p, how p was computed) of y against x."""
    if len(x) < 3 or np.all(y == y[0]) or np.all(x == x[0]):
        return math.nan, math.nan, "spearman"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.spearmanr(x, y)
    rho = float(res.statistic)
    if len(x) > SPEARMAN_EXACT_MAX_N:
        return rho, float(res.pvalue), "spearman"
    # Exact: rho over every pairing of the runs' values with the axis values (ties keep average ranks).
    rx, ry = stats.rankdata(x), stats.rankdata(y)
    perms = ry[np.array(list(itertools.permutations(range(len(y)))))]  # (n!, n)
    rx, perms = rx - rx.mean(), perms - perms.mean(1, keepdims=True)
    rhos = perms @ rx / (np.linalg.norm(perms, axis=1) * np.linalg.norm(rx))
    p = np.count_nonzero(np.abs(rhos) >= abs(rho) - 1e-12) / len(rhos)
    return rho, float(p), "spearman (exact permutation)"


def trends(frame: pd.DataFrame, axes: list[str], axis: str, metrics: list[str], shown: dict, given: dict | None = None) -> pd.DataFrame:
    """One row per (context, metric): Spearman's rho of the metric with a numeric axis."""
    levels = numeric_levels(frame, axis)
    if levels is None:
        raise ReportError(f"trend along {axis}: its values are not all numbers")
    col = f"axis:{axis}"
    rows = []
    for context, group in _contexts(frame, axes, axis):
        for m in metrics:
            c = shown.get(m, m)
            if m in COST_KEYS and "cost_context" in group and group["cost_context"].nunique() > 1:
                continue
            y = sample_values(group, c)
            x = group.loc[y.index, col].map(levels).to_numpy(float)
            n_levels = len(set(x))
            if n_levels < 3:
                continue
            rho, p, how = spearman(x, y.to_numpy(float))
            rows.append(
                {
                    "axis": axis,
                    "context": context,
                    "metric": m,
                    "column": c,
                    "rho": rho,
                    "test": how,
                    "p": p,
                    "p_adj": math.nan,
                    "n": len(y),
                    "levels": n_levels,
                    "better": "",
                    "note": "" if np.isfinite(p) else "no spread over runs",
                }
            )
    return pd.DataFrame(rows, columns=list(TREND_COLUMNS))


# ---------------------------------------------------------------- sentences


def sentence(row) -> str:
    """'adam vs sgd: fid_domain −12.3 [−15.1, −9.4], p=0.003, Holm p=0.012, n=3/4 vs 3/3 → adam better'."""
    ctx = f" ({row['context']})" if row["context"] else ""
    ci = f" [{_g(row['ci_low'])}, {_g(row['ci_high'])}]" if np.isfinite(row["ci_low"]) else ""
    what = row["metric"] if row["column"] in (row["metric"], "status") else f"{row['metric']} ({row['column'].split('.', 1)[1]})"
    test = f" ({row['test']})" if row["test"] in ("perm", "fisher") else ""
    better = f" → {row['better']} better" if row["better"] else ""
    note = f" [{row['note']}]" if row["note"] else ""
    return (
        f"{row['a']} vs {row['b']}{ctx}: {what} {_g(row['diff'], signed=True)}{ci}, {_p(row)}{test}, "
        f"n={row['n_a']}/{row['runs_a']} vs {row['n_b']}/{row['runs_b']}{better}{note}"
    )


def trend_sentence(row) -> str:
    """'lr_ratio trend: fid_domain ρ=+0.92, p=1.2e-06, Holm p=5e-05, n=15 over 5 values → lower lr_ratio better'."""
    ctx = f" ({row['context']})" if row["context"] else ""
    what = row["metric"] if row["column"] == row["metric"] else f"{row['metric']} ({row['column'].split('.', 1)[1]})"
    rho = f"ρ={_g(row['rho'], signed=True)}" if np.isfinite(row["rho"]) else "ρ=n/a"
    better = f" → {row['better']} better" if row["better"] else ""
    note = f" [{row['note']}]" if row["note"] else ""
    return f"{row['axis']} trend{ctx}: {what} {rho}, {_p(row)}, n={row['n']} over {row['levels']} values{better}{note}"


def _p(row) -> str:
    if not np.isfinite(row["p"]):
        return "p=n/a"
    return f"p={row['p']:.3g}, Holm p={row['p_adj']:.3g}" if np.isfinite(row["p_adj"]) else f"p={row['p']:.3g}"


def _g(x: float, signed: bool = False) -> str:
    s = f"{x:+.3g}" if signed else f"{x:.3g}"
    return s.replace("-", "−")
