"""Anytime views: every metric against the work spent, and the time to reach a threshold.

A final value compares runs at one point; a run that is better early and one that is better
late look equal there. Anytime curves show each evaluated metric against four measures of
work: G updates (steps), real images D has seen (steps x n_disc x batch_size), seconds of
training (history `train_s`, evaluation excluded) and FLOPs (steps x run.json
`flops.per_step`, counted from the models). Each cell is its seeds' mean at each
evaluation step with a band of ±1 std over seeds; on the seconds axis the x of a point is
the seeds' mean training time at that step.

Time to threshold (`ganbench report --threshold VALUE`, default: the runs' own
`eval.fid_threshold`): the first evaluation at which fid_domain is at or below VALUE, in
steps, images, training seconds and FLOPs. A run that never gets there is *censored*: it
counts as "not reached" (never as a number), the table shows how many seeds reached it,
and its own comparison (every pair of cells, a permutation test on the ranks of the steps,
Mann-Whitney's statistic, the censored runs ranked last, Holm-adjusted within this family) says whether one cell gets there
sooner than another by more than seed noise.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from ..keys import FID_DOMAIN
from ..store import COMPLETE
from .multiple_testing import holm

ALPHA = 0.05
PERMUTATIONS = 9_999  # exact below this many arrangements (6 vs 6 seeds: 924), else a seeded sample
X_AXES = (("step", "G updates"), ("images", "images seen by D"), ("train_s", "training seconds"), ("flops", "FLOPs"))
THRESHOLD_METRIC = FID_DOMAIN
COLUMNS = ("cell", "label", "runs", "reached", "steps.mean", "steps.std", "seconds.mean", "seconds.std", "images.mean", "flops.mean")
COMPARE_COLUMNS = ("a", "b", "reached_a", "reached_b", "median_steps_a", "median_steps_b", "U", "p", "p_adj", "sooner", "note")


def work_history(run) -> pd.DataFrame:
    """A run's history with the work columns: step, images, train_s, flops (NaN when unknown)."""
    h = run.history().copy()
    cfg = run.config
    per_image = (cfg.get("n_disc") or 1) * (cfg.get("batch_size") or math.nan)
    if cfg.get("freeze_d") == "all":
        per_image = cfg.get("batch_size") or math.nan  # D is only evaluated: it still sees one real batch per step
    h["images"] = h["step"] * per_image
    per_step = (run.record.get("flops") or {}).get("per_step")
    h["flops"] = h["step"] * per_step if isinstance(per_step, (int, float)) else math.nan
    if "train_s" not in h:
        h["train_s"] = math.nan
    return h


def curve_bands(runs, metric: str) -> pd.DataFrame:
    """Per evaluation step of a cell's complete runs: the mean and std of `metric` and the
    mean of each work column (columns step, images, train_s, flops, mean, std, n)."""
    parts = []
    for r in runs:
        if r.status != COMPLETE:
            continue
        h = work_history(r)
        if metric in h:
            parts.append(h[["step", "images", "train_s", "flops", metric]].dropna(subset=[metric]))
    if not parts:
        return pd.DataFrame(columns=["step", "images", "train_s", "flops", "mean", "std", "n"])
    g = pd.concat(parts).groupby("step")
    out = pd.DataFrame({c: g[c].mean() for c in ("images", "train_s", "flops")})
    out["mean"], out["std"], out["n"] = g[metric].mean(), g[metric].std(ddof=1).fillna(0.0), g[metric].count()
    return out.reset_index()


def first_reach(run, threshold: float, metric: str = THRESHOLD_METRIC) -> dict | None:
    """{step, images, train_s, flops} of the first evaluation with metric <= threshold, or None."""
    h = work_history(run)
    if metric not in h:
        return None
    hit = h[pd.to_numeric(h[metric], errors="coerce") <= threshold]
    if hit.empty:
        return None
    row = hit.iloc[0]
    return {k: float(row[k]) for k in ("step", "images", "train_s", "flops")}


def default_threshold(runs) -> float | None:
    """The runs' eval.fid_threshold when they share one."""
    values = {(r.config.get("eval") or {}).get("fid_threshold") for r in runs if r.status == COMPLETE}
    values.discard(None)
    return float(values.pop()) if len(values) == 1 else None


def time_to_threshold(report, threshold: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-cell table, pairwise comparison) of the time to fid_domain <= threshold."""
    by_id = {r.id: r for r in report.runs}
    rows, reach = [], {}
    for _, c in report.trained_cells().iterrows():
        runs = [by_id[i] for i in report.frame.loc[report.frame["cell"] == c["cell"], "id"] if by_id[i].status == COMPLETE]
        hits = [first_reach(r, threshold) for r in runs]
        got = [h for h in hits if h is not None]
        reach[c["cell"]] = (c["label"], [h["step"] if h else math.inf for h in hits])
        row = {"cell": c["cell"], "label": c["label"], "runs": len(runs), "reached": len(got)}
        for key, col in (("steps", "step"), ("seconds", "train_s"), ("images", "images"), ("flops", "flops")):
            v = np.array([h[col] for h in got], dtype=float)
            row[f"{key}.mean"] = float(np.nanmean(v)) if len(v) and np.isfinite(v).any() else math.nan
            row[f"{key}.std"] = float(np.nanstd(v, ddof=1)) if np.isfinite(v).sum() > 1 else math.nan
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(dict.fromkeys([*COLUMNS, *(k for r in rows for k in r)])))
    return table, compare_reach(reach)


def rank_test(a: list[float], b: list[float]) -> tuple[float, float]:
    """(Mann-Whitney U of a, two-sided p) by a permutation test on ranks: exact up to
    PERMUTATIONS arrangements, ties (runs that never reached the threshold, ranked last
    together) handled exactly, which scipy's exact U distribution does not."""
    from scipy.stats import permutation_test, rankdata

    x = np.nan_to_num(np.concatenate([a, b]), posinf=np.inf)
    ranks = rankdata(x)  # ties share their mean rank; inf ranks last
    ra, rb = ranks[: len(a)], ranks[len(a) :]
    u = float(ra.sum() - len(a) * (len(a) + 1) / 2)
    test = permutation_test(
        (ra, rb),
        lambda p, q, axis: np.mean(p, axis=axis) - np.mean(q, axis=axis),
        permutation_type="independent",
        n_resamples=PERMUTATIONS,
        alternative="two-sided",
        random_state=0,
        vectorized=True,
    )
    return u, float(test.pvalue)


def compare_reach(reach: dict[str, tuple[str, list[float]]]) -> pd.DataFrame:
    """Every pair of cells: a rank test (Mann-Whitney's statistic, permutation p) on steps to
    the threshold, the runs that never reached it ranked last (inf), Holm-adjusted over these pairs."""
    rows = []
    for (ca, (la, a)), (cb, (lb, b)) in itertools.combinations(reach.items(), 2):
        row = {"a": la, "b": lb, "reached_a": int(np.isfinite(a).sum()), "reached_b": int(np.isfinite(b).sum())}
        row["median_steps_a"], row["median_steps_b"] = float(np.median(a)) if a else math.nan, float(np.median(b)) if b else math.nan
        if len(a) < 2 or len(b) < 2 or not (np.isfinite(a).any() or np.isfinite(b).any()):
            row.update(U=math.nan, p=math.nan, note="needs 2+ seeds each and a run that reached the threshold")
        else:
            u, p = rank_test(a, b)
            row.update(U=u, p=p, note="")
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))
    if out.empty:
        return out
    ps = out["p"].to_numpy(float)
    adj = np.full(len(ps), math.nan)
    adj[np.isfinite(ps)] = holm(ps[np.isfinite(ps)])
    out["p_adj"] = adj
    sooner = []
    for _, r in out.iterrows():
        if np.isfinite(r["p_adj"]) and r["p_adj"] < ALPHA:
            sooner.append(r["a"] if r["median_steps_a"] < r["median_steps_b"] else r["b"])
        else:
            sooner.append("")
    out["sooner"] = sooner
    return out


def add_time_to_threshold(report, threshold: float | None) -> None:
    """Set report.threshold, report.time_to_threshold and report.threshold_comparisons."""
    threshold = default_threshold(report.runs) if threshold is None else threshold
    report.threshold = threshold
    if threshold is not None:
        report.time_to_threshold, report.threshold_comparisons = time_to_threshold(report, threshold)


def _fmt(mean, std) -> str:
    if not np.isfinite(mean):
        return ""
    return f"{mean:,.4g}" + (f" ± {std:,.2g}" if np.isfinite(std) else "")


def table_rows(report) -> tuple[list[str], list[list[str]]]:
    t = report.time_to_threshold
    header = ["cell", "reached", "steps", "seconds", "images", "FLOPs"]
    rows = [
        [
            r["label"],
            f"{r['reached']}/{r['runs']}",
            _fmt(r["steps.mean"], r["steps.std"]),
            _fmt(r["seconds.mean"], r["seconds.std"]),
            _fmt(r["images.mean"], math.nan),
            _fmt(r["flops.mean"], math.nan),
        ]
        for _, r in t.iterrows()
    ]
    return header, rows


def intro(report) -> str:
    return (
        f"first evaluation with {THRESHOLD_METRIC} ≤ {report.threshold:g}: mean ± std over the seeds that reached it "
        "(reached = seeds / complete runs; the others never did and are not averaged in). Pairwise: permutation test "
        f"on the ranks of the steps (Mann-Whitney U), runs that never reached it ranked last, Holm-adjusted over these {len(report.threshold_comparisons)} pairs "
        "(a family of its own); `sooner` only where the adjusted p < 0.05."
    )


def comparison_text(r) -> str:
    p = "n/a" if not np.isfinite(r["p"]) else f"{r['p']:.3g} (Holm {r['p_adj']:.3g})"
    text = f"{r['a']} vs {r['b']}: reached {r['reached_a']} vs {r['reached_b']}, median steps {r['median_steps_a']:g} vs {r['median_steps_b']:g}, p={p}"
    return text + (f" → {r['sooner']} sooner" if r["sooner"] else "") + (f" [{r['note']}]" if r["note"] else "")


def markdown_lines(report) -> list[str]:
    """The Markdown section, or nothing without a threshold."""
    if getattr(report, "time_to_threshold", None) is None:
        return []
    header, rows = table_rows(report)
    out = ["", f"## Time to {THRESHOLD_METRIC} ≤ {report.threshold:g}", "", intro(report), ""]
    out += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out += [""] + [f"- {comparison_text(r)}" for _, r in report.threshold_comparisons.iterrows()]
    return out


def html_lines(report, esc) -> list[str]:
    """The HTML section, or nothing without a threshold."""
    if getattr(report, "time_to_threshold", None) is None:
        return []
    header, rows = table_rows(report)
    out = [f"<h2>Time to {esc(THRESHOLD_METRIC)} ≤ {report.threshold:g}</h2>", f'<p class="note">{esc(intro(report))}</p>']
    out.append(
        '<div class="scroll"><table id="time-to-threshold"><thead><tr>'
        + "".join(f"<th>{esc(h)}</th>" for h in header)
        + "</tr></thead><tbody>"
    )
    out += ["<tr>" + "".join(f"<td>{esc(v)}</td>" for v in r) + "</tr>" for r in rows]
    out.append("</tbody></table></div>")
    if not report.threshold_comparisons.empty:
        out.append("<ul>" + "".join(f"<li>{esc(comparison_text(r))}</li>" for _, r in report.threshold_comparisons.iterrows()) + "</ul>")
    return out


# ---------------------------------------------------------------- figures


def anytime_figures(report):
    """One figure per evaluated metric: a panel per work axis (G updates, images,
    training seconds, FLOPs when recorded), each cell's mean with a ±1 std band over seeds."""
    # matplotlib only when the figures are drawn: build_report computes the rest of this module
    from .plot_base import MAX_CELLS, new_figure, plotted_cells, scale_y
    from .training_curves import MAX_METRIC_PLOTS, logged_metrics

    cells = plotted_cells(report)[:MAX_CELLS]
    for metric in logged_metrics(report, cells)[:MAX_METRIC_PLOTS]:  # the metrics the curves over training show
        bands = [(label, curve_bands(runs, metric)) for label, runs in cells]
        axes = [(x, name) for x, name in X_AXES if any(b[x].notna().any() for _, b in bands if len(b))]
        if not axes or not any(len(b) for _, b in bands):
            continue
        fig = new_figure(3.2 * len(axes) + 1.5, 2.8)
        panels = fig.subplots(1, len(axes), squeeze=False)[0]
        values, band_values = [], []
        for ax, (x, name) in zip(panels, axes):
            for label, b in bands:
                b = b.dropna(subset=[x])
                if b.empty:
                    continue
                (line,) = ax.plot(b[x], b["mean"], lw=1.6, label=label)
                ax.fill_between(b[x], b["mean"] - b["std"], b["mean"] + b["std"], color=line.get_color(), alpha=0.2, lw=0)
                values += list(b["mean"])
                band_values += list(b["mean"] - b["std"]) + list(b["mean"] + b["std"])
            ax.set_xlabel(name, fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in panels:
            scale_y(ax, metric, values, band_values, metric)
        handles, labels = panels[0].get_legend_handles_labels()
        if handles:
            fig.legend(handles, labels, loc="outside right upper", fontsize=7)
        fig.suptitle(f"{metric}: anytime (mean ± std over seeds)", fontsize=9)
        yield f"anytime: {metric} vs G updates, images, seconds and FLOPs", fig
