"""The report's figures, as PNG bytes: curves with a band over seeds, sample grids,
latent traversals and 2-D scatters.

Each function returns {caption: png bytes} (empty when it has nothing to draw), so the
Markdown writer can save files and the HTML writer can inline them.
"""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")  # files only: no display, no GUI toolkit
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..store import COMPLETE, FAILED, G_WEIGHTS, GRID_DIR  # noqa: E402
from .aggregate import QUALITY, TRAINING  # noqa: E402
from .load import HISTORY_INDEX, ReportError  # noqa: E402

MAX_CELLS = 24  # small multiples beyond this are unreadable; the rest is left out with a note
MAX_METRIC_PLOTS = 8  # one figure per logged metric: the page stays readable
SCATTER_SAMPLES = 2500  # the 2-D mixture protocol's sample count (VEEGAN, PacGAN)
DPI = 80


def figure_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _cells(report):
    """[(label, [RunRecord...])] in table order, failed runs left out (no history)."""
    by_id = {r.id: r for r in report.runs}
    out = []
    for _, c in report.cells.head(MAX_CELLS).iterrows():
        rows = report.frame[(report.frame["cell"] == c["cell"]) & (report.frame["status"] != FAILED)]
        out.append((c["label"], [by_id[i] for i in rows["id"]]))
    return out


def _band(runs, column: str) -> pd.DataFrame | None:
    """Mean, std and mean wall time of `column` over the complete seeds at each logged step.

    Diverged runs stay out of the band, as they stay out of the table's statistics; they are
    drawn one by one (`_diverged`).
    """
    parts = []
    for r in runs:
        if r.status != COMPLETE:
            continue
        h = r.history()
        if column in h and h[column].notna().any():
            parts.append(
                h[["step", "wall_s", column]].dropna(subset=[column])
                if "wall_s" in h
                else h[["step", column]].dropna(subset=[column]).assign(wall_s=np.nan)
            )
    if not parts:
        return None
    g = pd.concat(parts).groupby("step")
    return pd.DataFrame({"mean": g[column].mean(), "std": g[column].std(ddof=1).fillna(0.0), "wall_s": g["wall_s"].mean()}).reset_index()


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


def _limit(ax, bands: list[pd.DataFrame]) -> None:
    """Keep the y range on the complete runs' bands: a diverged run's blow-up would flatten them."""
    bands = [b for b in bands if b is not None and len(b)]
    if not bands:
        return
    lo = min(float((b["mean"] - b["std"]).min()) for b in bands)
    hi = max(float((b["mean"] + b["std"]).max()) for b in bands)
    pad = 0.1 * (hi - lo) or 0.1 * abs(hi) or 0.1
    ax.set_ylim(lo - pad, hi + pad)


def _grid(n: int, width: float = 3.2, height: float = 2.4):
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axs = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axs.ravel()[n:]:
        ax.axis("off")
    return fig, axs.ravel()


def metric_curves(report) -> dict[str, bytes]:
    """Each evaluation metric in the histories vs step and vs wall time; one line per cell."""
    cells = _cells(report)
    names = []
    for _, runs in cells:
        for r in runs:
            h = r.history()
            names += [
                c
                for c in h.columns
                if c not in HISTORY_INDEX
                and c not in TRAINING
                and c not in names
                and pd.api.types.is_numeric_dtype(h[c])
                and h[c].notna().any()
            ]
    # The table's metrics first, then the quality metrics, then whatever else was logged.
    logged = list(names)
    names.sort(key=lambda m: (m not in report.metrics, m not in QUALITY, logged.index(m)))
    out = {}
    for m in names[:MAX_METRIC_PLOTS]:
        if all(_band(runs, m) is None for _, runs in cells):
            continue  # logged only by diverged runs
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.4))
        bands = []
        for label, runs in cells:
            b = _band(runs, m)
            bands.append(b)
            if b is None:
                continue
            for ax, x in ((a1, "step"), (a2, "wall_s")):
                (line,) = ax.plot(b[x], b["mean"], label=label, marker="." if len(b) < 20 else None)
                ax.fill_between(b[x], b["mean"] - b["std"], b["mean"] + b["std"], alpha=0.2, color=line.get_color())
                _diverged(ax, runs, m, x, line.get_color())
        a1.set_xlabel("step"), a2.set_xlabel("wall time (s)")
        for ax in (a1, a2):
            ax.set_ylabel(m), ax.grid(alpha=0.3)
            _limit(ax, bands)
        a1.legend(fontsize=7)
        fig.suptitle(f"{m}: mean over complete seeds, band ±1 std; dotted: diverged runs", fontsize=10)
        out[f"{m} vs step and wall time"] = figure_png(fig)
    return out


def _pair_curves(report, columns: tuple[str, str], styles, title: str, ylabel: str) -> dict[str, bytes]:
    cells = [(label, runs) for label, runs in _cells(report) if runs]
    if not any(columns[0] in r.history() for _, runs in cells for r in runs):
        return {}
    fig, axs = _grid(len(cells))
    for ax, (label, runs) in zip(axs, cells):
        bands = []
        for col, (color, style) in zip(columns, styles):
            b = _band(runs, col)
            bands.append(b)
            if b is None:
                continue
            ax.plot(b["step"], b["mean"], color=color, ls=style, label=col)
            ax.fill_between(b["step"], b["mean"] - b["std"], b["mean"] + b["std"], alpha=0.2, color=color)
        for col, (color, _) in zip(columns, styles):
            _diverged(ax, runs, col, "step", color)
        _limit(ax, bands)
        ax.set_title(label, fontsize=8), ax.set_xlabel("step", fontsize=8), ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7), ax.grid(alpha=0.3)
    axs[0].legend(fontsize=7)
    fig.suptitle(f"{title} (mean over complete seeds, band ±1 std; dotted: diverged runs)", fontsize=10)
    fig.tight_layout()
    return {title: figure_png(fig)}


def d_accuracy(report) -> dict[str, bytes]:
    return _pair_curves(
        report, ("d_acc_real", "d_acc_fake"), (("tab:green", "-"), ("tab:red", "--")), "D accuracy on real and on fake samples", "accuracy"
    )


def losses(report) -> dict[str, bytes]:
    return _pair_curves(report, ("d_loss", "g_loss"), (("tab:blue", "-"), ("tab:orange", "-")), "D and G losses", "loss")


def final_grids(report) -> dict[str, bytes]:
    """The last sample grid of one seed (the lowest complete) per cell, side by side."""
    picks = []
    for label, runs in _cells(report):
        for r in sorted(runs, key=lambda r: (r.status != COMPLETE, r.record.get("seed", 0))):
            files = sorted((r.path / GRID_DIR).glob("*.png")) if (r.path / GRID_DIR).is_dir() else []
            if files:
                picks.append((f"{label}\nseed {r.record.get('seed')}, {files[-1].stem}", files[-1]))
                break
    if not picks:
        return {}
    fig, axs = _grid(len(picks), 3.4, 3.8)
    for ax, (title, path) in zip(axs, picks):
        ax.imshow(plt.imread(path)), ax.set_title(title, fontsize=8), ax.axis("off")
    fig.tight_layout()
    return {"final sample grid, one seed per cell": figure_png(fig)}


def model_figures(report, traverse: bool = True) -> tuple[dict[str, bytes], list[str]]:
    """Figures that need a trained generator: latent traversals and 2-D scatters.

    Returns (figures, warnings); a run whose generator cannot be rebuilt is a warning,
    not a failed report.
    """
    from ..build import Builder
    from ..plugins import load_registry
    from .traverse import LoadedRun, _modes, traverse_png

    builder, loaded, warnings = None, [], []
    for label, runs in _cells(report):
        done = sorted((r for r in runs if (r.path / G_WEIGHTS).exists()), key=lambda r: (r.status != COMPLETE, r.record.get("seed", 0)))
        if not done:
            continue
        builder = builder or Builder(load_registry())
        try:
            loaded.append((label, LoadedRun(done[0].path, builder)))
        except ReportError as e:
            warnings.append(str(e))
    out = {}
    if traverse:
        pngs = []
        for label, run in loaded:
            try:
                png, axes = traverse_png(run, seed=int(run.record.get("seed", 0)))
                pngs.append((f"{label}\nz[{axes[0]}] down, z[{axes[1]}] across", png))
            except ReportError as e:
                warnings.append(str(e))
        if pngs:
            fig, axs = _grid(len(pngs), 3.6, 3.9)
            for ax, (title, png) in zip(axs, pngs):
                ax.imshow(plt.imread(io.BytesIO(png))), ax.set_title(title, fontsize=8), ax.axis("off")
            fig.tight_layout()
            out["latent traversal (10x10), one seed per cell"] = figure_png(fig)
    points = [(label, run) for label, run in loaded if run.data.kind == "points" and run.data.train.shape[1] == 2]
    if points:
        import torch

        fig, axs = _grid(len(points), 3.4, 3.4)
        for ax, (label, run) in zip(axs, points):
            z = torch.randn(SCATTER_SAMPLES, run.z_dim, generator=torch.Generator().manual_seed(0))
            x = run.sample(z).numpy()  # (2500, 2)
            ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.4, color="tab:blue", label="generated")
            _modes(ax, run.data)
            ax.set_title(f"{label}\nseed {run.record.get('seed')}", fontsize=8), ax.set_aspect("equal", adjustable="datalim")
            ax.tick_params(labelsize=7)
        axs[0].legend(fontsize=7, loc="upper right")
        fig.tight_layout()
        out[f"generated points ({SCATTER_SAMPLES}) over the true mode centres"] = figure_png(fig)
    return out, warnings


def all_figures(report, models: bool = True) -> tuple[dict[str, bytes], list[str]]:
    figs = {}
    for f in (metric_curves, d_accuracy, losses, final_grids):
        figs.update(f(report))
    warnings = []
    if models:
        more, warnings = model_figures(report)
        figs.update(more)
    if len(report.cells) > MAX_CELLS:
        warnings.append(f"plots show the first {MAX_CELLS} of {len(report.cells)} cells")
    return figs, warnings
