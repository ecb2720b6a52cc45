"""What every figure of the report builds on: matplotlib set up for files (Agg), new figures
with constrained layout, text wrapped to a width, one legend outside the axes, a y range
fitted to the complete runs, the cells a figure shows, PNG rendering, and the layout check
(`overlaps`) the tests run on each figure before it is rendered.
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
from matplotlib.transforms import Bbox  # noqa: E402

from ..store import FAILED  # noqa: E402

MAX_CELLS = 24  # small multiples beyond this are unreadable; the rest is left out with a note
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


def plotted_cells(report):
    """[(label, [RunRecord...])] in table order, failed runs left out (no history)."""
    by_id = {r.id: r for r in report.runs}
    out = []
    for _, c in report.trained_cells().head(MAX_CELLS).iterrows():
        rows = report.frame[(report.frame["cell"] == c["cell"]) & (report.frame["status"] != FAILED)]
        out.append((c["label"], [by_id[i] for i in rows["id"]]))
    return out


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
