"""The report's figures, as PNG bytes: curves over training with a band over seeds, final
metrics against numeric matrix axes, sample grids, latent traversals and 2-D scatters.

Builders yield (caption, matplotlib Figure) so that tests can inspect each figure's layout
(`overlaps`) before it is rendered; `all_figures` renders them to {caption: png bytes} for
the Markdown writer (files) and the HTML writer (data: URIs).

Layout rules every figure keeps: constrained layout, legends outside the axes (one figure
legend), long titles wrapped, and a y range that neither cuts a bounded metric's band
beyond its range nor lets one diverged run flatten the others.
"""

from __future__ import annotations

import io
import math
import re
import textwrap
from collections.abc import Iterator
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display, no GUI toolkit
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from ..store import COMPLETE, FAILED  # noqa: E402
from .aggregate import QUALITY, TRAINING, sample_statuses, value_range  # noqa: E402
from .compare import numeric_levels  # noqa: E402
from .load import HISTORY_INDEX  # noqa: E402

MAX_CELLS = 24  # small multiples beyond this are unreadable; the rest is left out with a note
MAX_METRIC_PLOTS = 8  # one figure per logged metric: the page stays readable
DPI = 80
SEED_STYLE: dict[str, Any] = {"lw": 0.7, "alpha": 0.35}  # each complete seed: thin, under the mean
MEAN_STYLE: dict[str, Any] = {"lw": 2.0}
# FID and KID span orders of magnitude over training: a linear axis hides the late progress.
_LOG = re.compile(r"^(fid|kid)(_.*)?$")

Figures = Iterator[tuple[str, "plt.Figure"]]


def figure_png(fig, close: bool = True) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    if close:  # pyplot keeps every figure until closed
        plt.close(fig)
    return buf.getvalue()


def new_figure(width: float, height: float, images: bool = False):
    """A figure whose subplots, titles and outside legends are placed by constrained layout;
    its "compressed" variant for grids of images, whose fixed aspect it packs without gaps."""
    return plt.figure(figsize=(width, height), layout="compressed" if images else "constrained")


def wrap(text: str, width_in: float, fontsize: float = 8) -> str:
    """`text` broken into lines that fit `width_in` inches at `fontsize` points."""
    chars = max(12, int(width_in * 72 / (0.6 * fontsize)))  # ~0.6 em per character
    return "\n".join(textwrap.fill(line, chars) for line in str(text).split("\n"))


def grid_axes(fig, n: int, cols: int = 4):
    """n subplots in rows of `cols` (unused slots hidden); returns the flat list of n axes."""
    cols = max(1, min(n, cols))
    axs = fig.subplots(math.ceil(n / cols), cols, squeeze=False).ravel()
    for ax in axs[n:]:
        ax.set_visible(False)
    return list(axs[:n])


def figure_legend(fig, handles, labels, width_in: float, **kw) -> None:
    """One legend below the axes, never over the data."""
    if not handles:
        return
    longest = max(len(lbl) for lbl in labels)
    cols = max(1, min(len(labels), int(width_in * 72 / (0.6 * 7 * (longest + 4)))))
    fig.legend(handles, labels, loc="outside lower center", ncols=cols, fontsize=7, frameon=False, **kw)


# ---------------------------------------------------------------- layout checks


def text_boxes(fig) -> list[tuple[str, Bbox]]:
    """(name, window extent) of every title, suptitle, axis label, legend and axes box of a
    figure and its subfigures, after layout; what must not overlap for a reader."""
    fig.canvas.draw()  # runs the layout engine: extents are final only after a draw
    renderer = fig.canvas.get_renderer()
    out = []

    def visit(f, prefix):
        sup = getattr(f, "_suptitle", None)  # matplotlib keeps the suptitle Text here only
        if sup is not None and sup.get_text():
            out.append((f"{prefix}suptitle", sup.get_window_extent(renderer)))
        for i, leg in enumerate(f.legends):
            out.append((f"{prefix}figure legend {i}", leg.get_window_extent(renderer)))
        for i, ax in enumerate(a for a in f.axes if a.get_visible() and a.figure is f):
            name = f"{prefix}axes {i}"
            if ax.has_data() or ax.images:
                out.append((name, ax.bbox))
            for what, t in (("title", ax.title), ("xlabel", ax.xaxis.label), ("ylabel", ax.yaxis.label)):
                if t.get_text() and t.get_visible() and (what == "title" or ax.axison):  # axis("off") hides labels
                    out.append((f"{name} {what}", t.get_window_extent(renderer)))
            if ax.get_legend() is not None:
                out.append((f"{name} legend", ax.get_legend().get_window_extent(renderer)))
        for i, sub in enumerate(f.subfigs):
            visit(sub, f"{prefix}subfigure {i} ")

    visit(fig, "")
    return out


def overlaps(fig, tolerance: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of text boxes (titles, labels, legends) and axes boxes that intersect by more
    than `tolerance` pixels each way; [] for a legible figure."""
    boxes = text_boxes(fig)
    bad = []
    for i, (na, a) in enumerate(boxes):
        for nb, b in boxes[i + 1 :]:
            if min(a.x1, b.x1) - max(a.x0, b.x0) > tolerance and min(a.y1, b.y1) - max(a.y0, b.y0) > tolerance:
                bad.append((na, nb))
    return bad


# ---------------------------------------------------------------- curves over training


def plotted_cells(report):
    """[(label, [RunRecord...])] in table order, failed runs left out (no history)."""
    by_id = {r.id: r for r in report.runs}
    out = []
    for _, c in report.trained_cells().head(MAX_CELLS).iterrows():
        rows = report.frame[(report.frame["cell"] == c["cell"]) & (report.frame["status"] != FAILED)]
        out.append((c["label"], [by_id[i] for i in rows["id"]]))
    return out


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


def scale_y(ax, metric: str, values, band, label: str) -> None:
    """Label the y axis and fit its range to the complete runs' `values` (seeds, means) and
    `band` (a diverged run's blow-up would flatten them). FID and KID get a log scale: they
    span orders of magnitude over training, and a linear axis hides the late progress."""
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    b = np.asarray([x for x in band if np.isfinite(x)], dtype=float)
    if len(v) == 0:
        ax.set_ylabel(wrap(label, 2.4, 8), fontsize=8)
        return
    both = np.concatenate([v, b])
    lo, hi = float(both.min()), float(both.max())
    if _LOG.match(metric.split(".")[0]) and v.min() > 0:
        ax.set_yscale("log")
        # A band reaching 0 would stretch a log axis without end: at most a decade below the data.
        lo = max(float(both[both > 0].min()), v.min() / 10)
        ax.set_ylim(lo / 1.15, hi * 1.15)
        label += " (log scale)"
    elif _LOG.match(metric.split(".")[0]):
        # KID's unbiased estimate is ≤ 0 on small samples: symlog keeps those values visible
        # (linear near 0) where a log scale would drop them.
        positive = np.abs(v[v != 0])
        thresh = 10.0 ** math.floor(math.log10(positive.min())) if len(positive) else 1e-3
        ax.set_yscale("symlog", linthresh=thresh)
        ax.set_ylim(lo - (0.1 * (hi - lo) or thresh), hi + (0.1 * (hi - lo) or thresh))
        label += f" (symlog: linear within ±{thresh:g}, values ≤ 0 occur)"
    else:
        pad = 0.1 * (hi - lo) or 0.1 * abs(hi) or 0.1
        ax.set_ylim(lo - pad, hi + pad)
    ax.set_ylabel(wrap(label, 2.4, 8), fontsize=8)


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


def _logged_metrics(report, cells) -> list[str]:
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
    for m in _logged_metrics(report, cells)[:MAX_METRIC_PLOTS]:
        if all(not _seeds(runs, m) for _, runs in cells):
            continue  # logged only by diverged runs
        bounds = value_range(m, report.frame)
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
            y, b = _draw_cell(ax, runs, col, "step", color, _bounds(col, runs, report.frame), label=col, style=style)
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


def _bounds(column: str, runs, frame) -> tuple[float, float]:
    """value_range, and ≥ 0 for a loss every run of the cell computes as a distance."""
    if column not in ("d_loss", "g_loss"):
        return value_range(column, frame)
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


# ---------------------------------------------------------------- final metrics vs a numeric axis


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
            column, bounds = report.shown[m], value_range(m, frame)
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


# ---------------------------------------------------------------- all of them


def figures(report, models: bool = True, warnings: list[str] | None = None) -> Figures:
    """Every figure of the report, one at a time (the caller renders and closes each)."""
    from .sample_plots import final_grids, grid_strips, model_figures

    warnings = warnings if warnings is not None else []
    from .anytime import anytime_figures
    from .search import search_figures

    for make in (search_figures, metric_curves, anytime_figures, axis_plots, d_accuracy, losses, grid_strips, final_grids):
        yield from make(report)
    if models:
        yield from model_figures(report, warnings)
    if len(report.cells) > MAX_CELLS:
        warnings.append(f"plots show the first {MAX_CELLS} of {len(report.cells)} cells")


def all_figures(report, models: bool = True) -> tuple[dict[str, bytes], list[str]]:
    warnings: list[str] = []
    figs = {caption: figure_png(fig) for caption, fig in figures(report, models, warnings)}
    return figs, warnings
