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

from .anytime import anytime_figures
from .axis_plots import axis_plots
from .plot_base import MAX_CELLS, MEAN_STYLE, SEED_STYLE, Figures, figure_png, overlaps, plt
from .sample_plots import final_grids, grid_strips, model_figures
from .search import search_figures
from .training_curves import d_accuracy, losses, metric_curves

# figures and all_figures are this module's own; the others are re-exported for the tests,
# which inspect a figure's layout and styles through this module.
__all__ = ["figures", "all_figures", "axis_plots", "figure_png", "overlaps", "plt", "SEED_STYLE", "MEAN_STYLE"]


def figures(report, models: bool = True, warnings: list[str] | None = None) -> Figures:
    """Every figure of the report, one at a time (the caller renders and closes each)."""
    warnings = warnings if warnings is not None else []
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
