"""Curves over training: each evaluation metric against step and wall time, D's accuracy on
real and fake samples, and the D and G losses; per cell, each complete seed thin, their mean
bold over a ±1 std band within the metric's range, and each diverged run dotted.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..store import COMPLETE
from .aggregate import QUALITY, TRAINING
from .load import HISTORY_INDEX
from .metric_traits import value_range
from .plot_base import MEAN_STYLE, SEED_STYLE, Figures, figure_legend, grid_axes, new_figure, plotted_cells, plt, scale_y, wrap

MAX_METRIC_PLOTS = 8  # one figure per logged metric: the page stays readable


def _seeds(runs, column: str) -> list[pd.DataFrame]:
    """(step, wall_s, value) of `column` for each complete seed that logged it."""
    out = []
    for r in runs:
        h = r.history()
        if r.status != COMPLETE or column not in h or not h[column].notna().any():
            continue
        h = h.assign(wall_s=h["wall_s"] if "wall_s" in h else np.nan)
        out.append(h[["step", "wall_s", column]].dropna(subset=[column]).rename(columns={column: "value"}))
    return out


def _band(seeds: list[pd.DataFrame], bounds: tuple[float, float]) -> pd.DataFrame | None:
    """Mean, std and the ±1 std band clipped to the metric's range, at each logged step.

    Diverged runs stay out of the band, as they stay out of the table's statistics; they are
    drawn one by one (`_diverged`).
    """
    if not seeds:
        return None
    g = pd.concat(seeds).groupby("step")
    b = pd.DataFrame({"mean": g["value"].mean(), "std": g["value"].std(ddof=1).fillna(0.0), "wall_s": g["wall_s"].mean()})
    b["low"] = (b["mean"] - b["std"]).clip(*bounds)
    b["high"] = (b["mean"] + b["std"]).clip(*bounds)
    return b.reset_index()


def _diverged(ax, runs, column: str, x: str, color) -> None:
    """Each diverged run as a thin dotted line ending in an x, where it blew up."""
    for r in runs:
        h = r.history()
        if r.status == COMPLETE or column not in h or x not in h:
            continue
        h = h[[x, column]].dropna()
        if len(h):
            ax.plot(h[x], h[column], ls=":", lw=0.8, color=color)
            ax.plot(h[x].iloc[-1:], h[column].iloc[-1:], marker="x", color=color, ls="none")


def _draw_cell(ax, runs, column: str, x: str, color, bounds, label=None, style="-") -> tuple[list, list]:
    """Seeds thin, their mean bold over a clipped ±1 std band, diverged runs dotted.
    Returns the values and the band edges the y range should cover (scale_y)."""
    seeds = _seeds(runs, column)
    b = _band(seeds, bounds)
    if b is None:
        _diverged(ax, runs, column, x, color)
        return [], []
    for s in seeds:
        ax.plot(s[x], s["value"], color=color, ls=style, **SEED_STYLE)
    ax.plot(b[x], b["mean"], color=color, ls=style, label=label, marker="." if len(b) < 20 else None, **MEAN_STYLE)
    ax.fill_between(b[x], b["low"], b["high"], alpha=0.15, color=color, lw=0)
    _diverged(ax, runs, column, x, color)
    return list(b["mean"]) + [v for s in seeds for v in s["value"]], list(b["low"]) + list(b["high"])


def logged_metrics(report, cells) -> list[str]:
    """Numeric history columns worth a curve (modes_total is the bound of modes_covered)."""
    names: list[str] = []
    for _, runs in cells:
        for r in runs:
            h = r.history()
            names += [
                c
                for c in h.columns
                if c not in HISTORY_INDEX
                and c not in TRAINING
                and c not in names
                and c != "modes_total"
                and pd.api.types.is_numeric_dtype(h[c])
                and h[c].notna().any()
            ]
    # The table's metrics first, then the quality metrics, then whatever else was logged.
    logged = list(names)
    names.sort(key=lambda m: (m not in report.metrics, m not in QUALITY, logged.index(m)))
    return names


BAND_NOTE = "bold: mean over complete seeds, band ±1 std (within the metric's range), thin: each seed, dotted ending in x: diverged runs"


def metric_curves(report) -> Figures:
    """Each evaluation metric in the histories vs step and vs wall time; one colour per cell."""
    cells = plotted_cells(report)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for m in logged_metrics(report, cells)[:MAX_METRIC_PLOTS]:
        if all(not _seeds(runs, m) for _, runs in cells):
            continue  # logged only by diverged runs
        bounds = value_range(m, report.frame, report.ranges)
        fig = new_figure(10, 3.6 + 0.18 * len(cells))
        a1, a2 = fig.subplots(1, 2)
        for ax, x in ((a1, "step"), (a2, "wall_s")):
            ys: list[float] = []
            band: list[float] = []
            for i, (label, runs) in enumerate(cells):
                y, b = _draw_cell(ax, runs, m, x, colors[i % len(colors)], bounds, label=label)
                ys, band = ys + y, band + b
            scale_y(ax, m, ys, band, m)
            ax.grid(alpha=0.3)
            ax.set_xlabel("step" if x == "step" else "wall time (s)", fontsize=8)
            ax.tick_params(labelsize=7)
        handles, labels = a1.get_legend_handles_labels()
        figure_legend(fig, handles, labels, 10)
        fig.suptitle(wrap(f"{m} over training. {BAND_NOTE}", 10, 9), fontsize=9)
        yield f"{m} vs step and wall time", fig


def _pair_curves(report, columns: tuple[str, str], styles, title: str, ylabel: str) -> Figures:
    cells = [(label, runs) for label, runs in plotted_cells(report) if runs]
    if not any(columns[0] in r.history() for _, runs in cells for r in runs):
        return
    cols = min(len(cells), 4)
    fig = new_figure(3.2 * cols, 2.6 * math.ceil(len(cells) / cols) + 0.9)
    for ax, (label, runs) in zip(grid_axes(fig, len(cells)), cells):
        ys: list[float] = []
        band: list[float] = []
        for col, (color, style) in zip(columns, styles):
            y, b = _draw_cell(ax, runs, col, "step", color, _bounds(col, runs, report), label=col, style=style)
            ys, band = ys + y, band + b
        scale_y(ax, columns[0], ys, band, ylabel)
        ax.set_title(wrap(label, 3.0), fontsize=8), ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7), ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color=c, ls=s, **MEAN_STYLE) for c, s in styles]
    figure_legend(fig, handles, list(columns), 3.2 * cols)
    fig.suptitle(wrap(f"{title}. {BAND_NOTE}", 3.2 * cols, 9), fontsize=9)
    yield title, fig


# Built-in losses that cannot go below 0 (cross-entropies, squares, hinge margins), by plugin
# name; the others (WGAN critics, the hinge's and minimax G losses) are unbounded.
_NON_NEGATIVE_LOSS = {"vanilla": ("d_loss", "g_loss"), "lsgan": ("d_loss", "g_loss"), "hinge": ("d_loss",)}


def _bounds(column: str, runs, report) -> tuple[float, float]:
    """value_range, and ≥ 0 for a loss every run of the cell computes as a distance."""
    frame = report.frame
    if column not in ("d_loss", "g_loss"):
        return value_range(column, frame, report.ranges)
    for r in runs:
        loss = r.config.get("loss")
        loss = loss if isinstance(loss, dict) else {"name": loss}
        if column not in _NON_NEGATIVE_LOSS.get(str(loss.get("name")), ()) or (
            column == "g_loss" and loss.get("generator_loss") == "minimax"
        ):
            return -math.inf, math.inf
    return 0.0, math.inf


def d_accuracy(report) -> Figures:
    return _pair_curves(
        report, ("d_acc_real", "d_acc_fake"), (("tab:green", "-"), ("tab:red", "--")), "D accuracy on real and on fake samples", "accuracy"
    )


def losses(report) -> Figures:
    return _pair_curves(report, ("d_loss", "g_loss"), (("tab:blue", "-"), ("tab:orange", "-")), "D and G losses", "loss")
