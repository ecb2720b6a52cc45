"""A `search:` suite read at equal budget: the expected best score after n configurations.

Expected validation performance (Dodge et al. 2019, "Show Your Work"): if a researcher
tries n configurations drawn from the search's N, the best score they can expect is

    E[max of n] = sum_j v_(j) [ ((k+j)/N)^n - ((k+j-1)/N)^n ] / (1 - (k/N)^n)

over the m scored configurations sorted worst to best (v_(1) .. v_(m)), where the k = N - m
configurations with no score (every seed diverged or failed) are worse than any scored one:
they are the best of n only when all n draws are such, with probability (k/N)^n, which is
reported beside the curve rather than hidden. The band is a percentile bootstrap over the N
configurations (BOOTSTRAP resamples, seeded: the same report every time). A configuration's
score is the mean over its complete seeds of the report's first headline metric.

Read two cells' curves at the same n: "loss A beats loss B" then holds for a search of n
configurations, not for one hand-tuned setting each (Lucic et al. 2018).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..store import COMPLETE
from .metric_traits import direction
from .number_format import num

BOOTSTRAP = 1000
LEVEL = 0.95
COLUMNS = ("search_cell", "metric", "better", "n", "configs", "unscored", "emp", "emp_low", "emp_high", "p_unscored")
SCORE_COLUMNS = ("search_cell", "index", "score", "seeds", "complete")


def expected_max(scores: np.ndarray, unscored: int, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """(E[best of n], P(all n unscored)) for n = 1..n_max; higher scores are better.

    scores: (m,) the scored configurations; unscored: k, those without a score."""
    v = np.sort(np.asarray(scores, dtype=float))  # (m,) worst to best
    m, k = len(v), unscored
    total = m + k
    n = np.arange(1, n_max + 1)[:, None]  # (n_max, 1)
    upto = (k + np.arange(0, m + 1)) / total  # (m + 1,): P(a draw <= v_(j)), j = 0..m (j = 0: unscored)
    cdf = upto[None, :] ** n  # (n_max, m + 1): P(best of n <= v_(j))
    weights = np.diff(cdf, axis=1)  # (n_max, m): P(best of n == v_(j))
    p_none = cdf[:, 0]  # (n_max,)
    with np.errstate(invalid="ignore", divide="ignore"):
        emp = (weights @ v) / (1 - p_none) if m else np.full(n_max, np.nan)
    return emp, p_none


def curve(scores: np.ndarray, unscored: int, higher: bool, seed: int = 0) -> pd.DataFrame:
    """E[best of n] with its bootstrap band, n = 1..N, in the metric's own direction."""
    sign = 1.0 if higher else -1.0
    signed = sign * np.asarray(scores, dtype=float)
    total = len(signed) + unscored
    emp, p_none = expected_max(signed, unscored, total)
    pool = np.concatenate([signed, np.full(unscored, np.nan)])  # (N,): NaN = unscored
    rng = np.random.default_rng(seed)
    boot = np.full((BOOTSTRAP, total), np.nan)
    for b in range(BOOTSTRAP):
        draw = pool[rng.integers(0, total, total)]
        kept = draw[~np.isnan(draw)]
        if len(kept):
            boot[b] = expected_max(kept, total - len(kept), total)[0]
    tail = (1 - LEVEL) / 2 * 100
    with np.errstate(invalid="ignore"), _quiet():
        low, high = np.nanpercentile(boot, tail, axis=0), np.nanpercentile(boot, 100 - tail, axis=0)
    if not higher:
        emp, low, high = -emp, -high, -low
    return pd.DataFrame({"n": np.arange(1, total + 1), "emp": emp, "emp_low": low, "emp_high": high, "p_unscored": p_none})


class _quiet:
    """nanpercentile warns on an all-NaN column (every resample unscored): that is a NaN band."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def cell_label(cell: dict) -> str:
    parts = []
    for k, v in cell.items():
        if k == "seed":
            continue
        parts.append(f"{k}={v.get('name', json.dumps(v, sort_keys=True)) if isinstance(v, dict) else v}")
    return ", ".join(parts) or "all runs"


def search_tables(runs, frame: pd.DataFrame, metrics: list[str], shown: dict[str, str], given: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, scores) for the runs of a `search:` suite; two empty frames otherwise.

    curves: COLUMNS, one row per search cell and n; scores: each configuration's score."""
    empty = pd.DataFrame(columns=list(COLUMNS)), pd.DataFrame(columns=list(SCORE_COLUMNS))
    searched = [r for r in runs if isinstance(r.record.get("search"), dict)]
    metric = next((m for m in metrics if direction(m, given) in ("lower", "higher")), None)
    if not searched or metric is None:
        return empty
    column, higher = shown.get(metric, metric), direction(metric, given) == "higher"
    values = frame.set_index("id")[column] if column in frame.columns else pd.Series(dtype=float)
    groups: dict[tuple, dict[int, list]] = {}
    labels: dict[tuple, str] = {}
    for r in searched:
        cell = {k: v for k, v in (r.record.get("cell") or {}).items() if k != "seed"}
        key = (r.record["suite"], json.dumps(cell, sort_keys=True))
        labels[key] = cell_label(cell) if len({r.record["suite"] for r in searched}) == 1 else f"{r.record['suite']}: {cell_label(cell)}"
        value = values.get(r.id, np.nan) if r.status == COMPLETE else np.nan
        groups.setdefault(key, {}).setdefault(int(r.record["search"]["index"]), []).append(value)
    curves, scores = [], []
    for key, configs in groups.items():
        per = []
        for index, vals in sorted(configs.items()):
            finite = [float(v) for v in vals if v is not None and np.isfinite(v)]
            score = float(np.mean(finite)) if finite else np.nan
            per.append(score)
            scores.append({"search_cell": labels[key], "index": index, "score": score, "seeds": len(vals), "complete": len(finite)})
        per_arr = np.asarray(per)
        ok = per_arr[np.isfinite(per_arr)]
        table = curve(ok, len(per_arr) - len(ok), higher)
        table.insert(0, "search_cell", labels[key])
        table.insert(1, "metric", column)
        table.insert(2, "better", "higher" if higher else "lower")
        table.insert(4, "configs", len(per_arr))
        table.insert(5, "unscored", len(per_arr) - len(ok))
        curves.append(table)
    return pd.concat(curves, ignore_index=True)[list(COLUMNS)], pd.DataFrame(scores, columns=list(SCORE_COLUMNS))


def budgets(total: int) -> list[int]:
    """The n shown in text: 1, 2, 5, 10, 20, 50... up to N, and N."""
    out = [n for n in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if n < total]
    return out + [total]


def search_lines(report) -> list[str]:
    """One line per search cell: the expected best at a few budgets, with the band."""
    curves = report.search
    if curves.empty:
        return []
    metric, better = curves["metric"].iloc[0], curves["better"].iloc[0]
    lines = [
        f"search: expected best {metric} ({better} is better) after n of the configurations tried "
        f"(Dodge et al. 2019), [{LEVEL:.0%} bootstrap band]:"
    ]
    for label, table in curves.groupby("search_cell", sort=False):
        total = int(table["configs"].iloc[0])
        parts = []
        for n in budgets(total):
            row = table[table["n"] == n].iloc[0]
            band = f" [{num(row['emp_low'])}, {num(row['emp_high'])}]" if np.isfinite(row["emp_low"]) else ""
            parts.append(f"n={n} {num(row['emp'])}{band}")
        scored = report.search_scores[report.search_scores["search_cell"] == label]["score"].dropna()
        spread = f"; scores {num(scored.min())} to {num(scored.max())}, median {num(scored.median())}" if len(scored) else ""
        unscored = int(table["unscored"].iloc[0])
        none = f"; {unscored} of {total} configurations without a score (every seed diverged or failed)" if unscored else ""
        lines.append(f"  {label}: " + ", ".join(parts) + spread + none)
    return lines


def search_figures(report):
    """The curves with their bands, one line per search cell, and each cell's score distribution."""
    from .plot_base import new_figure  # matplotlib only when the figure is drawn

    curves = report.search
    if curves.empty:
        return
    metric, better = curves["metric"].iloc[0], curves["better"].iloc[0]
    fig = new_figure(9, 3.6)
    ax_curve, ax_dist = fig.subplots(1, 2, width_ratios=[3, 2])
    cells = list(dict.fromkeys(curves["search_cell"]))
    for i, label in enumerate(cells):
        t = curves[curves["search_cell"] == label]
        (line,) = ax_curve.plot(t["n"], t["emp"], marker=".", label=label)
        ax_curve.fill_between(t["n"], t["emp_low"], t["emp_high"], color=line.get_color(), alpha=0.2, lw=0)
        scores = report.search_scores[report.search_scores["search_cell"] == label]["score"].dropna()
        jitter = np.random.default_rng(i).uniform(-0.15, 0.15, len(scores))
        ax_dist.scatter(scores, np.full(len(scores), i) + jitter, s=12, color=line.get_color(), alpha=0.7)
        if len(scores):
            ax_dist.plot([scores.median()] * 2, [i - 0.3, i + 0.3], color="black", lw=1.5)
    ax_curve.set_xscale("log")
    ticks = budgets(int(curves["configs"].max()))
    ax_curve.set_xticks(ticks, [str(t) for t in ticks])
    ax_curve.minorticks_off()
    ax_curve.set_xlabel("configurations tried (n)")
    ax_curve.set_ylabel(f"expected best {metric}")
    ax_curve.set_title(f"expected best {metric} ({better} is better), {LEVEL:.0%} bootstrap band", fontsize=9)
    ax_dist.set_yticks(range(len(cells)), [c[:30] for c in cells], fontsize=7)
    ax_dist.set_xlabel(f"{metric} per configuration (mean over seeds; bar: median)")
    ax_dist.set_title("score distribution", fontsize=9)
    fig.legend(loc="outside lower center", ncols=min(4, len(cells)), fontsize=7)
    yield f"search: expected best {metric} vs configurations tried, and the score distribution", fig
