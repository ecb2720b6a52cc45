"""The report as text: a rich terminal table, Markdown, CSV and JSON.

Every table shows, per cell, mean ± std over its complete runs and the 95% CI of the
mean; blank means "not measured", never zero.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..store import COMPLETE, DIVERGED, FAILED
from . import Report
from .compare import TESTS, sentence

MISSING_MARK = "†"
SHORT_NAMES = {"train_img_per_s": "train img/s"}  # table headers only; files keep the metric names
CI_NAMES = {"t": "Student t interval over seeds", "bootstrap": "percentile bootstrap over seeds (2000 resamples)"}


def num(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return ""
    x = float(x)
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}" if abs(x) < 10 ** digits else f"{x:.0f}"


def stat_text(cells: pd.Series, column: str, with_ci: bool = True, sep: str = " ") -> str:
    """'12.3 ± 1.2 [10.1, 14.5]' (± and CI only with 2+ seeds); '' when not measured."""
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
    return out


def display_table(report: Report, with_ci: bool = True, sep: str = " ") -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the per-cell table, shared by every format that shows one."""
    multi_suite = report.frame["suite"].nunique() > 1
    header = (["rank"] if report.sort else []) + list(report.axes) + (["suite"] if multi_suite else [])
    header += ["n", "diverged", "failed"]
    value_cols = []  # (header, value column, metric)
    for m in report.metrics:
        col = report.shown[m]
        name = SHORT_NAMES.get(m, m)
        value_cols.append((name if col == m else f"{name} @{report.at.unit} {report.at.value:g}", col, m))
        best = report.best_column(m)
        if best and m != "train_img_per_s":
            value_cols.append((f"{name} best", best, m))
    header += [h for h, _, _ in value_cols]
    missing = set(report.missing())
    rows = []
    for _, c in report.cells.iterrows():
        row = ([str(int(c["rank"])) if pd.notna(c["rank"]) else ""] if report.sort else [])
        row += [str(c[f"axis:{a}"]) for a in report.axes] + ([c["suite"]] if multi_suite else [])
        row += [str(c[COMPLETE]), str(c[DIVERGED]), str(c[FAILED])]
        for h, col, m in value_cols:
            text = stat_text(c, col, with_ci, sep)
            if not text and c[COMPLETE] > 0 and m in missing:
                text = MISSING_MARK
            row.append(text)
        rows.append(row)
    return header, rows


def fingerprint_lines(report: Report) -> list[str]:
    lines = []
    for pid, proto in report.protocols.items():
        items = ", ".join(f"{k}={v}" for k, v in proto.items()) or "(none recorded)"
        lines.append(f"protocol {pid}: {items}")
    devices = sorted({str((r.record.get("env") or {}).get("device_name", "?")) for r in report.runs})
    lines.append(f"runs: {len(report.runs)} in {report.cells.shape[0]} cells; device: {', '.join(devices)}")
    return lines


def footnotes(report: Report) -> list[str]:
    notes = [f"n = complete runs; mean ± std over seeds, [95% CI: {CI_NAMES[report.ci_method]}]; "
             "diverged and failed runs are counted, not averaged."]
    if report.at:
        notes.append(f"@{report.at.unit} {report.at.value:g}: the latest value logged at or before that point; "
                     "blank for runs that never reached it.")
    if report.sort:
        col, how = report.sort
        notes.append(f"ranked by {col} ({how} is better).")
    missing = report.missing()
    if missing:
        why = " ".join(report.notes)
        notes.append(f"{MISSING_MARK} blank: {', '.join(missing)} not measured for some cells (not zero). {why}".strip())
    elif report.notes:
        notes.append("notes: " + " ".join(report.notes))
    return notes


def comparison_lines(report: Report) -> list[str]:
    if report.comparisons.empty:
        return []
    head = f"pairwise ({TESTS[report.test]}; difference a − b with its 95% Welch CI):"
    return [head] + [f"  {sentence(r)}" for _, r in report.comparisons.iterrows()]


# ---------------------------------------------------------------- terminal


def terminal(report: Report, console: Console, per_run: bool = False) -> None:
    console.print(Panel("\n".join(fingerprint_lines(report)), title=f"ganbench report: {report.root}", expand=False),
                  highlight=False)
    header, rows = display_table(report, sep="\n")  # the CI on its own line keeps columns narrow
    table = Table(show_lines=True)
    for i, h in enumerate(header):
        left = h in report.axes or h == "suite"
        widest = max([len(h)] + [len(r[i]) for r in rows])
        # Axis labels keep their width (up to 30): rich would otherwise squeeze them to nothing.
        table.add_column(h, overflow="fold", justify="left" if left else "right", min_width=min(widest, 30) if left else None)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if per_run:
        console.print(run_table(report))
    for line in footnotes(report) + comparison_lines(report):
        console.print(Text(line))


def run_table(report: Report) -> Table:
    table = Table(title="runs")
    cols = ["id", "status", "seed"] + [report.shown[m] for m in report.metrics]
    for c in cols:
        table.add_column(c)
    for _, r in report.frame.iterrows():
        table.add_row(*[num(r[c]) if isinstance(r[c], float) else str(r[c]) for c in cols])
    return table


# ---------------------------------------------------------------- files


def markdown(report: Report, images: dict[str, str] | None = None) -> str:
    """A Markdown page; `images` maps captions to relative PNG paths."""
    out = [f"# ganbench report: {report.root}", ""]
    out += [f"- {line}" for line in fingerprint_lines(report)] + [""]
    header, rows = display_table(report)
    out.append(_md_row(header))
    out.append("|" + "|".join("---" for _ in header) + "|")
    out += [_md_row(r) for r in rows]
    out.append("")
    out += [f"{n}  " for n in footnotes(report)]
    lines = comparison_lines(report)
    if lines:
        out += ["", "## Pairwise comparisons", "", f"{lines[0]}", ""] + [f"- {line.strip()}" for line in lines[1:]]
    if images:
        out += ["", "## Plots", ""]
        out += [f"![{caption}]({path})" for caption, path in images.items()]
    return "\n".join(out) + "\n"


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def cells_csv(report: Report) -> str:
    return _csv(report.cells)


def runs_csv(report: Report) -> str:
    return _csv(report.frame)


def _csv(frame: pd.DataFrame) -> str:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue()


def to_json(report: Report) -> str:
    doc = {
        "root": str(report.root),
        "protocols": report.protocols,
        "axes": report.axes,
        "metrics": report.metrics,
        "shown": report.shown,
        "ci": {"level": 0.95, "method": report.ci_method},
        "test": report.test,
        "at": {"unit": report.at.unit, "value": report.at.value} if report.at else None,
        "sort": {"column": report.sort[0], "better": report.sort[1]} if report.sort else None,
        "footnotes": footnotes(report),
        "cells": _records(report.cells),
        "runs": _records(report.frame),
        "comparisons": _records(report.comparisons),
    }
    return json.dumps(doc, indent=2, default=str) + "\n"


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON objects, NaN as null (JSON has no NaN)."""
    return json.loads(frame.to_json(orient="records", double_precision=15))


__all__ = ["terminal", "markdown", "cells_csv", "runs_csv", "to_json", "display_table", "footnotes", "num", "stat_text"]
