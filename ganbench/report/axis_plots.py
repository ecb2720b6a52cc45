"""Final metrics (or values at --at) against each numeric matrix axis: an ordered x, not
categories, one line per combination of the other axes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..store import FAILED
from .aggregate import sample_statuses
from .compare import numeric_levels
from .metric_traits import value_range
from .plot_base import MAX_CELLS, MEAN_STYLE, Figures, figure_legend, grid_axes, new_figure, plt, scale_y, wrap


def numeric_axes(report) -> list[tuple[str, dict[str, float]]]:
    """(axis, {label: number}) for each matrix axis whose values are all numbers (2 or more)."""
    out = []
    for a in report.axes:
        levels = numeric_levels(report.frame, a) if a != "protocol" else None
        if levels is not None and len(set(levels.values())) >= 2:
            out.append((a, levels))
    return out


def axis_plots(report) -> Figures:
    """Each table metric's final value against each numeric axis: an ordered x, not categories.

    Per combination of the other axes: the mean over the seeds the table averages, a ±1 std
    band within the metric's range, every seed as a dot, and runs the mean leaves out
    (diverged, for final values) as an x.
    """
    shown = set(report.trained_cells()["cell"].head(MAX_CELLS))
    frame = report.frame[report.frame["cell"].isin(shown) & (report.frame["status"] != FAILED)]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, levels in numeric_axes(report):
        metrics = [m for m in report.metrics if report.shown[m] in frame and frame[report.shown[m]].notna().any()]
        if not metrics:
            continue
        others = [a for a in report.axes if a != axis]
        groups = list(frame.groupby([f"axis:{a}" for a in others], sort=False)) if others else [((), frame)]
        if all(rows[f"axis:{axis}"].nunique() < 2 for _, rows in groups):
            continue  # the axis only moves with another one (n_disc 5 with WGAN-GP alone): no line to draw
        cols = 2 if len(metrics) == 4 else min(len(metrics), 3)
        fig = new_figure(3.6 * cols, 3.0 * math.ceil(len(metrics) / cols) + 0.6 + 0.18 * len(groups))
        x_all = np.array(sorted(set(levels.values())))
        for ax, m in zip(grid_axes(fig, len(metrics), cols), metrics):
            column, bounds = report.shown[m], value_range(m, frame, report.ranges)
            ys: list[float] = []
            band: list[float] = []
            for i, (key, rows) in enumerate(groups):
                color = colors[i % len(colors)]
                x = rows[f"axis:{axis}"].map(levels)
                y = pd.to_numeric(rows[column], errors="coerce")
                used = rows["status"].isin(sample_statuses(column)) & y.notna()
                stats = y[used].groupby(x[used]).agg(["mean", "std"]).fillna({"std": 0.0}).sort_index()
                key = key if isinstance(key, tuple) else (key,)
                label = ", ".join(f"{a}={v}" for a, v in zip(others, key)) or "all runs"
                ax.plot(stats.index, stats["mean"], color=color, marker="o", label=label, **MEAN_STYLE)
                low, high = (stats["mean"] - stats["std"]).clip(*bounds), (stats["mean"] + stats["std"]).clip(*bounds)
                ax.fill_between(stats.index, low, high, color=color, alpha=0.15, lw=0)
                ax.scatter(x[used], y[used], color=color, s=12, alpha=0.6, zorder=3)
                left_out = ~used & y.notna()
                ax.scatter(x[left_out], y[left_out], color=color, marker="x", s=30, zorder=3)
                ys, band = ys + list(y[used]) + list(stats["mean"]), band + list(low) + list(high)
            if x_all.min() > 0 and x_all.max() / x_all.min() >= 8:
                ax.set_xscale("log", base=2)  # ratios and sizes double from value to value
            if len(x_all) <= 10:  # every level labelled, as the table names them
                ax.set_xticks(x_all, [f"{v:g}" for v in x_all])
                ax.minorticks_off()
            scale_y(ax, m, ys, band, column)
            ax.set_xlabel(axis, fontsize=8), ax.tick_params(labelsize=7), ax.grid(alpha=0.3)
            ax.set_title(wrap(f"{column} vs {axis}", 3.4, 8), fontsize=8)
        if others:  # one line per combination of the other axes
            handles, labels = fig.axes[0].get_legend_handles_labels()
            figure_legend(fig, handles, labels, 3.6 * cols)
        what = "values at " + report.at.suffix.replace("_", " ") if report.at else "final values"
        note = f"{what} vs {axis}: line and band: mean ±1 std over seeds (complete runs), dots: each seed, x: runs left out of the mean"
        fig.suptitle(wrap(note, 3.6 * cols, 9), fontsize=9)
        yield f"final metrics vs {axis}" if not report.at else f"metrics at {report.at.unit} {report.at.value:g} vs {axis}", fig
