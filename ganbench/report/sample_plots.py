"""Figures of samples: grids saved during training (a strip per cell, and the final grid),
latent traversals and 2-D scatters of rebuilt generators. Builders yield (caption, Figure)
like those of training_curves.py; plots.figures collects them.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from ..store import COMPLETE, G_WEIGHTS, GRID_DIR
from .load import ReportError
from .plot_base import DPI, Figures, figure_legend, new_figure, plotted_cells, plt, wrap

STRIP = 6  # grids per cell across training: enough to see samples evolve, small enough to read
SCATTER_SAMPLES = 2500  # the 2-D mixture protocol's sample count (VEEGAN, PacGAN)
_GRID_NAME = re.compile(r"(epoch|step)_(\d+)")  # train._grid_name: epoch_003.png, step_0001000.png


def _by_seed(runs, has) -> list:
    """Runs with `has(run)`, complete ones first, then by seed: the lowest complete seed."""
    return sorted((r for r in runs if has(r)), key=lambda r: (r.status != COMPLETE, r.record.get("seed", 0)))


def saved_grids(run) -> list[tuple[int, str, Path]]:
    """(step, "step N · epoch E", path) of each sample grid the run saved, in training order."""
    folder = run.path / GRID_DIR
    h = run.history()
    per_epoch = None
    if {"step", "epoch"} <= set(h.columns):
        rows = h[h["epoch"] > 0]
        per_epoch = float((rows["step"] / rows["epoch"]).median()) if len(rows) else None
    out = []
    for f in sorted(folder.glob("*.png")) if folder.is_dir() else []:
        m = _GRID_NAME.fullmatch(f.stem)
        if not m:
            continue
        n = int(m.group(2))
        if m.group(1) == "epoch":
            if not per_epoch:
                continue  # no history to place it by
            step = round(n * per_epoch)
        else:
            step = n
        label = f"step {step}" + (f" · epoch {step / per_epoch:.3g}" if per_epoch else "")
        out.append((step, label, f))
    return sorted(out, key=lambda g: g[0])


def evenly(items: list, k: int = STRIP) -> list:
    """Up to k items evenly spaced over the list, the first and the last included."""
    if len(items) <= k:
        return list(items)
    return [items[i] for i in sorted(set(np.linspace(0, len(items) - 1, k).round().astype(int)))]


def grid_strips(report) -> Figures:
    """Per cell, one seed's sample grids at up to STRIP points of training: a row per cell."""
    rows = []
    for label, runs in plotted_cells(report):
        picks = _by_seed(runs, lambda r: bool(saved_grids(r)))
        if picks:
            rows.append((label, picks[0], evenly(saved_grids(picks[0]))))
    if not rows or all(len(g) < 2 for _, _, g in rows):
        return  # nothing evolves: the final grids show it
    cols = max(len(g) for _, _, g in rows)
    width = 2.2 * cols + 0.3  # 2 in (160 px) a grid
    # One plain grid, the cell named on the left of its row: matplotlib draws a subfigure's
    # title where its layout did not reserve room once saved with a tight bounding box.
    fig = new_figure(width + 0.4, 2.4 * len(rows) + 0.4, images=True)
    axs = fig.subplots(len(rows), cols, squeeze=False)
    for row_axes, (label, run, grids) in zip(axs, rows):
        status = "" if run.status == COMPLETE else f", {run.status}"  # no complete seed saved grids
        for ax in row_axes:
            ax.set_xticks([]), ax.set_yticks([])
            ax.spines[:].set_visible(False)
        for ax in row_axes[len(grids) :]:
            ax.set_visible(False)
        for ax, (_, step_label, path) in zip(row_axes, grids):
            ax.imshow(plt.imread(path))
            ax.set_title(step_label, fontsize=7)
        row_axes[0].set_ylabel(wrap(f"{label} (seed {run.record.get('seed')}{status})", 2.0, 8), fontsize=8)
    fig.suptitle(wrap("samples over training: one seed per cell, the same latent batch at every step", width, 9), fontsize=9)
    yield "sample grids over training, one seed per cell", fig


def final_grids(report) -> Figures:
    """The last sample grid of one seed (the lowest complete) per cell, side by side."""
    picks = []
    for label, runs in plotted_cells(report):
        done = _by_seed(runs, lambda r: bool(saved_grids(r)))
        if done:
            _, step_label, path = saved_grids(done[0])[-1]
            picks.append((f"{label}\nseed {done[0].record.get('seed')}, {step_label}", path))
    if not picks:
        return
    cols = min(len(picks), 3)
    fig = new_figure(3.6 * cols, 4.0 * -(-len(picks) // cols), images=True)
    axs = fig.subplots(-(-len(picks) // cols), cols, squeeze=False).ravel()
    for ax in axs:
        ax.axis("off")
    for ax, (title, path) in zip(axs, picks):
        ax.imshow(plt.imread(path)), ax.set_title(wrap(title, 3.4), fontsize=8)
    yield "final sample grid, one seed per cell", fig


def _traversal_panel(ax, png: bytes, axes: tuple, image_data: bool, steps: int, span: float) -> None:
    """The traversal at its own resolution; for image grids, ticks give each row's and
    column's latent value so that the reader knows what moves where."""
    img = plt.imread(io.BytesIO(png))
    ax.imshow(img)
    if not image_data:  # the 2-D mesh is a titled plot of its own
        ax.axis("off")
        return
    cell = (img.shape[1] - 2) / steps  # save_image: 2 px padding around and between samples
    centres = 2 + cell * np.arange(steps) + (cell - 2) / 2
    values = [f"{v:.1f}" for v in np.linspace(-span, span, steps)]
    ax.set_xticks(centres, values, fontsize=6), ax.set_yticks(centres, values, fontsize=6)
    ax.set_xlabel(f"z[{axes[1]}] (columns)", fontsize=8), ax.set_ylabel(f"z[{axes[0]}] (rows)", fontsize=8)
    for side in ax.spines.values():
        side.set_visible(False)


def model_figures(report, warnings: list[str]) -> Figures:
    """Figures that need a trained generator: latent traversals and 2-D scatters.

    A run whose generator cannot be rebuilt is a warning, not a failed report.
    """
    from ..build import Builder  # torch: only when a generator is rebuilt
    from ..plugins import load_registry
    from .traverse import SPAN, STEPS, LoadedRun, _modes, traverse_png  # torch

    builder, loaded = None, []
    for label, runs in plotted_cells(report):
        done = _by_seed(runs, lambda r: (r.path / G_WEIGHTS).exists())
        if not done:
            continue
        builder = builder or Builder(load_registry())
        try:
            loaded.append((label, LoadedRun(done[0].path, builder)))
        except ReportError as e:
            warnings.append(str(e))
    pngs = []
    for label, run in loaded:
        try:
            png, axes = traverse_png(run, seed=int(run.record.get("seed", 0)))
            pngs.append((label, run, png, axes))
        except ReportError as e:
            warnings.append(str(e))
    if pngs:
        # Shown no smaller than 4.5 in (360 px) each, two per row: a 10x10 grid of samples
        # shrunk to a thumbnail shows nothing.
        side = max(4.5, max(plt.imread(io.BytesIO(p)).shape[1] for _, _, p, _ in pngs) / DPI)
        cols = 1 if side > 6 else min(len(pngs), 2)  # large samples: one per row, not shrunk
        rows = -(-len(pngs) // cols)
        fig = new_figure((side + 1.0) * cols, (side + 1.1) * rows, images=True)  # + ticks, labels, title
        axs = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax in axs[len(pngs) :]:
            ax.set_visible(False)
        for ax, (label, run, png, axes) in zip(axs, pngs):
            _traversal_panel(ax, png, axes, run.data.kind == "image", STEPS, SPAN)
            ax.set_title(wrap(f"{label}, seed {run.record.get('seed')}", side, 8), fontsize=8)
        fig.suptitle(f"latent traversal: two latent coordinates sweep ±{SPAN:g}, the others fixed", fontsize=9)
        yield f"latent traversal ({STEPS}x{STEPS}), one seed per cell", fig
    points = [(label, run) for label, run in loaded if run.data.kind == "points" and run.data.train.shape[1] == 2]
    if points:
        import torch

        cols = min(len(points), 3)
        fig = new_figure(3.4 * cols, 3.6 * -(-len(points) // cols) + 0.4)
        axs = fig.subplots(-(-len(points) // cols), cols, squeeze=False).ravel()
        for ax in axs[len(points) :]:
            ax.set_visible(False)
        for ax, (label, run) in zip(axs, points):
            z = torch.randn(SCATTER_SAMPLES, run.z_dim, generator=torch.Generator().manual_seed(0))
            x = run.sample(z).numpy()  # (2500, 2)
            ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.4, color="tab:blue", label="generated")
            _modes(ax, run.data)
            ax.set_title(wrap(f"{label}\nseed {run.record.get('seed')}", 3.2), fontsize=8)
            ax.set_aspect("equal", adjustable="datalim"), ax.tick_params(labelsize=7)
        handles, labels = axs[0].get_legend_handles_labels()
        figure_legend(fig, handles, labels, 3.4 * cols, markerscale=3)
        yield f"generated points ({SCATTER_SAMPLES}) over the true mode centres", fig
