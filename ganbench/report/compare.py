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
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..metrics.keys import COST_KEYS, LOWER
from ..store import COMPLETE, DIVERGED
from .aggregate import CONFIDENCE, sample_values
from .load import ReportError
from .metric_traits import direction, value_range

TESTS = {"welch": "Welch t-test", "mwu": "Mann-Whitney U", "perm": "exact permutation test of the difference of means"}
ALPHA = 0.05  # family-wise error rate of a report's verdicts
ADJUST = "holm"  # Holm's step-down adjustment over every p-value of the report
MIN_N_WELCH = 3  # seeds per side below which Welch's t gives no verdict (2 seeds: 1 degree of freedom)
PERM_EXACT_MAX = 200_000  # splits a permutation test enumerates; beyond, Monte Carlo
PERM_RESAMPLES = 100_000
PERM_SEED = 0  # the same folder gives the same report
SPEARMAN_EXACT_MAX_N = 8  # up to 8! = 40,320 pairings: an exact permutation p; above, the t approximation
SUCCESS = "success_rate"  # the metric name of the success-rate rows (complete / (complete + diverged))
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


# ---------------------------------------------------------------- two-sample tests


def welch(xa: np.ndarray, xb: np.ndarray) -> tuple[float, float, float]:
    """(p, ci_low, ci_high) of mean(xa) - mean(xb), Welch's unequal-variance t."""
    if len(xa) < 2 or len(xb) < 2:
        return math.nan, math.nan, math.nan
    if np.ptp(xa) == 0 and np.ptp(xb) == 0:
        # Every seed gave the same value: the difference is exact for these seeds, but a
        # t-test is undefined (a p of 0 would overclaim). The caller uses a permutation test.
        d = float(xa.mean() - xb.mean())
        return math.nan, d, d
    # scipy.stats.ttest_ind(xa, xb, equal_var=False) and its confidence_interval, written out:
    # a report runs thousands of these, and the closed form is 20x faster than the wrapper.
    va, vb = np.var(xa, ddof=1) / len(xa), np.var(xb, ddof=1) / len(xb)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(xa) - 1) + vb**2 / (len(xb) - 1))
    d = float(xa.mean() - xb.mean())
    p = float(2 * stats.t.sf(abs(d) / se, df))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, df) * se)
    return p, d - half, d + half


def mann_whitney(xa: np.ndarray, xb: np.ndarray) -> float:
    if len(xa) < 1 or len(xb) < 1:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.mannwhitneyu(xa, xb, alternative="two-sided").pvalue)


def mann_whitney_min_p(na: int, nb: int) -> float:
    """The smallest two-sided p Mann-Whitney U can give with na vs nb seeds (no ties)."""
    return mann_whitney(np.arange(na, dtype=float), np.arange(na, na + nb, dtype=float))


def permutation(xa: np.ndarray, xb: np.ndarray) -> tuple[float, float]:
    """(p, smallest attainable p) of a two-sided permutation test of mean(xa) - mean(xb).

    Every split of the pooled values into groups of len(xa) and len(xb) is enumerated when
    there are at most PERM_EXACT_MAX of them (10,10,10 vs 1,1,1: 2 of 20 splits are as
    extreme, p = 0.1); otherwise PERM_RESAMPLES seeded random splits, p = (k + 1) / (R + 1).
    """
    na, nb = len(xa), len(xb)
    if na < 1 or nb < 1:
        return math.nan, math.nan
    pooled = np.concatenate([xa, xb]).astype(float)
    total, n = pooled.sum(), na + nb
    splits = math.comb(n, na)
    if splits <= PERM_EXACT_MAX:
        idx = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(n), na)), int, splits * na).reshape(splits, na)
        sums = pooled[idx].sum(1)
        extra = 0
    else:
        rng = np.random.default_rng(PERM_SEED)
        sums = np.array([pooled[rng.permutation(n)[:na]].sum() for _ in range(PERM_RESAMPLES)])
        extra = 1
    diffs = np.abs(sums / na - (total - sums) / nb)
    observed = abs(xa.mean() - xb.mean())
    tol = 1e-9 * max(1.0, float(np.abs(pooled).max()))
    p = (np.count_nonzero(diffs >= observed - tol) + extra) / (len(diffs) + extra)
    p_min = (np.count_nonzero(diffs >= diffs.max() - tol) + extra) / (len(diffs) + extra)
    return float(p), float(p_min)


def two_sample(xa: np.ndarray, xb: np.ndarray, test: str) -> dict:
    """{test, p, p_min, ci_low, ci_high, note} for one pair of samples."""
    p_w, lo, hi = welch(xa, xb)
    out = {"test": test, "p": math.nan, "p_min": math.nan, "ci_low": lo, "ci_high": hi, "note": ""}
    if min(len(xa), len(xb)) < 2:
        out["note"] = "needs 2+ seeds each"
        return out
    if test == "welch" and np.isfinite(p_w):
        out["p"] = p_w
        if min(len(xa), len(xb)) < MIN_N_WELCH:
            out["note"] = f"no verdict: Welch's t needs {MIN_N_WELCH}+ seeds per side"
        return out
    if test == "mwu":
        out["p"], out["p_min"] = mann_whitney(xa, xb), mann_whitney_min_p(len(xa), len(xb))
    else:  # perm, or Welch undefined because neither side has any spread
        out["test"] = "perm"
        out["p"], out["p_min"] = permutation(xa, xb)
        if test == "welch":
            out["note"] = "no spread over seeds: exact permutation test"
    if np.ptp(np.concatenate([xa, xb])) == 0:  # every seed of both sides gave the same value
        out["p"], out["note"] = 1.0, "every seed of both sides gave the same value"
        return out
    if out["p_min"] >= ALPHA:
        why = f"{out['test']} with {len(xa)} vs {len(xb)} seeds cannot go below p = {out['p_min']:.2g}"
        out["note"] = "; ".join(n for n in (out["note"], why) if n)
    return out


# ---------------------------------------------------------------- pairwise comparisons


def _contexts(frame: pd.DataFrame, axes: list[str], axis: str):
    """(context text, rows) for every combination of the other axes (and protocol)."""
    others = [f"axis:{a}" for a in axes if a != axis]
    rows = frame[frame["status"].isin(OUTCOMES)]
    for ctx, group in rows.groupby(others + ["protocol"], sort=False):
        ctx = ctx if isinstance(ctx, tuple) else (ctx,)
        yield ", ".join(f"{o[5:]}={v}" for o, v in zip(others, ctx)), group


def compare(
    frame: pd.DataFrame, axes: list[str], axis: str, metrics: list[str], shown: dict, test: str = "welch", given: dict | None = None
) -> pd.DataFrame:
    """One row per (pair of axis values, context, metric); see COLUMNS.

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
        ranges = {(v, m): value_range(m, g) for v, g in parts.items() for m in metrics}
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


# ---------------------------------------------------------------- the family: Holm, verdicts


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control under any dependence)."""
    p = np.asarray(p, float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


def adjust(comparisons: pd.DataFrame, trend_rows: pd.DataFrame, given: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Holm-adjust every finite p of the report together; set `p_adj`, `better` and `note`.

    Returns (comparisons, trends, family size).
    """
    comparisons, trend_rows = comparisons.copy(), trend_rows.copy()
    ps = np.concatenate([comparisons["p"].to_numpy(float), trend_rows["p"].to_numpy(float)])
    finite = np.isfinite(ps)
    adjusted = np.full(len(ps), math.nan)
    adjusted[finite] = holm(ps[finite])
    comparisons["p_adj"] = adjusted[: len(comparisons)]
    trend_rows["p_adj"] = adjusted[len(comparisons) :]
    for frame, kind in ((comparisons, "pair"), (trend_rows, "trend")):
        better, notes = [], []
        for _, r in frame.iterrows():
            d = direction(r["metric"], given) if r["metric"] != SUCCESS else "higher"
            winner, note = _verdict(r, d, kind)
            better.append(winner)
            notes.append("; ".join(n for n in (r["note"], note) if n))
        frame["better"], frame["note"] = better, notes
    return comparisons, trend_rows, int(finite.sum())


def _verdict(r, d: str | None, kind: str) -> tuple[str, str]:
    significant = np.isfinite(r["p_adj"]) and r["p_adj"] < ALPHA
    if not significant:
        before = np.isfinite(r["p"]) and r["p"] < ALPHA
        return "", "p < 0.05 before the adjustment only" if before else ""
    if r["note"].startswith("no verdict"):
        return "", ""
    if not d:
        return "", "no known direction (--direction METRIC=lower|higher)"
    if kind == "pair":
        if r["diff"] == 0:
            return "", ""
        return (r["a"] if (r["diff"] < 0) == (d == LOWER) else r["b"]), ""
    up = r["rho"] > 0  # the metric grows with the axis
    return (f"higher {r['axis']}" if up != (d == LOWER) else f"lower {r['axis']}"), ""


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
