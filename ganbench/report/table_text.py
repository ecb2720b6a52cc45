"""The per-cell table as text: in full for the files and the page (every format that shows
it: Markdown, HTML), and its compact columns for the terminal and LaTeX.

Every table shows, per cell, mean ± std over seeds, the 95% CI of the mean (within the
metric's range), each seed's value when there are few, and n = values / outcomes (complete
+ diverged runs); blank means "not measured", never zero.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..store import COMPLETE, DIVERGED, FAILED
from .aggregate import SHOW_SEEDS_BELOW, sample_values
from .contents import Report
from .number_format import num

MISSING_MARK = "†"
SHORT_NAMES = {"train_img_per_s": "train img/s"}  # table headers only; files keep the metric names
# Terminal headers: short names, explained by a legend line under the table.
TERMINAL_NAMES = {
    "train_img_per_s": "img/s",
    "precision_domain": "precD",
    "recall_domain": "recD",
    "modes_covered": "modes",
    "high_quality_frac": "hq_frac",
    "confident_frac": "conf_frac",
}
SHORT_MAX = 8  # names up to this length are their own short name


def short_name(metric: str) -> str:
    """fid_domain -> fidD: a terminal header; the legend line spells it out."""
    if metric in TERMINAL_NAMES:
        return TERMINAL_NAMES[metric]
    if len(metric) <= SHORT_MAX:
        return metric
    parts = [p for p in metric.split("_") if p]
    short = parts[0][:5] + "".join(p[0].upper() for p in parts[1:])
    return short if len(short) < len(metric) else metric


def stat_text(cells: pd.Series, column: str, with_ci: bool = True, sep: str = " ", seeds=None) -> str:
    """'12.3 ± 1.2 [10.1, 14.5] (11, 12, 14) n=3/4'; '' when not measured.

    ± and the CI only with 2+ values; `seeds` (each seed's value) are shown when fewer than
    SHOW_SEEDS_BELOW; n = the values averaged / the cell's outcomes (complete + diverged).
    """
    mean = cells.get(f"{column}.mean", math.nan)
    if not np.isfinite(mean):
        return ""
    out = num(mean)
    std = cells.get(f"{column}.std", math.nan)
    if np.isfinite(std):
        out += f" ± {num(std, 2)}"
    lo, hi = cells.get(f"{column}.ci_low", math.nan), cells.get(f"{column}.ci_high", math.nan)
    if with_ci and np.isfinite(lo):
        out += f"{sep}[{num(lo)}, {num(hi)}]"
    if seeds is not None and 1 < len(seeds) < SHOW_SEEDS_BELOW:
        out += f"{sep}({', '.join(num(v) for v in seeds)})"
    n, outcomes = cells.get(f"{column}.n"), cells.get("outcomes")
    if n is not None and outcomes is not None and np.isfinite(n):
        out += f" n={int(n)}/{int(outcomes)}"
    return out


def seed_values(report: Report, cell: str, column: str) -> list[float]:
    """The values a cell's statistics of `column` were computed from, in seed order."""
    rows = report.frame[report.frame["cell"] == cell].sort_values("seed", kind="stable")
    return list(sample_values(rows, column))


def display_table(report: Report, with_ci: bool = True, sep: str = " ") -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the per-cell table, shared by every format that shows one."""
    multi_suite = report.frame["suite"].nunique() > 1
    header = (["rank"] if report.sort else []) + list(report.axes) + (["suite"] if multi_suite else [])
    header += ["complete", "diverged", "failed"]
    value_cols = []  # (header, value column, metric); best-of-run values are optimistic: files only
    for m in report.metrics:
        col = report.shown[m]
        name = SHORT_NAMES.get(m, m)
        value_cols.append((name if col == m else f"{name} @{report.at.unit} {report.at.value:g}", col, m))
    if report.sort and report.sort[0] not in [c for _, c, _ in value_cols]:
        value_cols.append((report.sort[0], report.sort[0], report.sort[0].split(".")[0]))  # what the rank rests on
    header += [h for h, _, _ in value_cols]
    missing = set(report.missing())
    rows = []
    for _, c in report.cells.iterrows():
        row = [str(int(c["rank"])) if pd.notna(c["rank"]) else ""] if report.sort else []
        row += [str(c[f"axis:{a}"]) for a in report.axes] + ([c["suite"]] if multi_suite else [])
        row += [f"{c[COMPLETE]}/{c['outcomes']}", str(c[DIVERGED]), str(c[FAILED])]
        for h, col, m in value_cols:
            text = stat_text(c, col, with_ci, sep, seed_values(report, c["cell"], col))
            if not text and c[COMPLETE] > 0 and m in missing:
                text = MISSING_MARK
            row.append(text)
        rows.append(row)
    return header, rows


def metric_columns(report: Report) -> list[tuple[str, str, str]]:
    """(metric, value column, terminal header) of the headline metrics (and the --sort column)."""
    out = []
    for m in report.metrics:
        col = report.shown[m]
        out.append((m, col, col if col == m else col.replace(m, "", 1)))
    if report.sort and report.sort[0] not in [c for _, c, _ in out]:
        out.append((report.sort[0].split(".")[0], report.sort[0], report.sort[0].replace(report.sort[0].split(".")[0], "", 1)))
    shorts = [short_name(m) for m, _, _ in out]
    unique = len(set(shorts)) == len(shorts)
    result = []
    for (m, col, suffix), short in zip(out, shorts):
        name = short if unique else m
        if col != m:  # --at or a .best sort column
            name += f" @{report.at.unit} {report.at.value:g}" if report.at and col == report.shown.get(m) else suffix
        result.append((m, col, name))
    return result


def key_columns(report: Report) -> tuple[list[str], list[list[str]]]:
    """The columns that say which cell a row is: rank, axes, suite, complete k/m, div, fail."""
    multi_suite = report.frame["suite"].nunique() > 1
    header = (["rank"] if report.sort else []) + list(report.axes) + (["suite"] if multi_suite else [])
    header += ["complete", "div", "fail"]
    rows = []
    for _, c in report.cells.iterrows():
        row = [str(int(c["rank"])) if pd.notna(c["rank"]) else ""] if report.sort else []
        row += [str(c[f"axis:{a}"]) for a in report.axes] + ([c["suite"]] if multi_suite else [])
        row += [f"{c[COMPLETE]}/{c['outcomes']}", str(c[DIVERGED]), str(c[FAILED])]
        rows.append(row)
    return header, rows
