"""The report as files: Markdown, LaTeX (the cell table), CSV and JSON.

The other text views keep their names importable from here: terminal (report.terminal),
the table's text (report.table_text) and the lines around it (report.detail_lines).
"""

from __future__ import annotations

import io
import json
import math

import pandas as pd

from ..store import COMPLETE
from .aggregate_suites import markdown_lines as aggregate_markdown
from .answer import answer_lines, question
from .anytime import markdown_lines as anytime_markdown
from .contents import Report
from .detail_lines import comparison_lines, fingerprint_lines, footnotes, trained_lines, trend_lines
from .load import ReportError
from .number_format import mean_std, num
from .table_text import MISSING_MARK, display_table, key_columns, metric_columns, short_name, stat_text
from .terminal import terminal


def markdown(report: Report, images: dict[str, str] | None = None) -> str:
    """A Markdown page; `images` maps captions to relative PNG paths."""
    out = [f"# ganbench report: {report.root}", ""]
    asked = question(report)
    if asked:  # what the suite asks, then the answer: the table and the verdicts
        out += [f"**{asked}**", ""]
    header, rows = display_table(report)
    out.append(_md_row(header))
    out.append("|" + "|".join("---" for _ in header) + "|")
    out += [_md_row(r) for r in rows]
    out.append("")
    out += [f"- {line}" for line in answer_lines(report)] + [""]
    out += [f"{n}  " for n in footnotes(report)]
    out += ["", "## What was trained, and how it was measured", ""]
    out += [f"- {line}" for line in trained_lines(report) + fingerprint_lines(report)]
    for title, lines in (("Pairwise comparisons", comparison_lines(report)), ("Trends", trend_lines(report))):
        if lines:
            out += ["", f"## {title}", "", f"{lines[0]}", ""] + [f"- {line.strip()}" for line in lines[1:]]
    out += anytime_markdown(report)  # time to threshold, with its own comparison
    out += aggregate_markdown(report.aggregate) if report.aggregate is not None else []  # across data sets
    if images:
        out += ["", "## Plots", ""]
        out += [f"![{caption}]({path})" for caption, path in images.items()]
    return "\n".join(out) + "\n"


def latex(report: Report) -> str:
    """The cell table as a booktabs LaTeX tabular (pandas Styler.to_latex), for papers: mean ± std
    over seeds per cell; \\usepackage{booktabs} in the preamble."""
    try:
        import jinja2  # noqa: F401  (Styler renders with it)
    except ImportError:
        raise ReportError("--format latex needs jinja2 (pip install jinja2)") from None
    key_header, key_rows = key_columns(report)
    columns = metric_columns(report)
    missing = set(report.missing())
    rows = []
    for key, (_, c) in zip(key_rows, report.cells.iterrows()):
        values = []
        for m, col, _ in columns:
            text = mean_std(c.get(f"{col}.mean", math.nan), c.get(f"{col}.std", math.nan))
            values.append(MISSING_MARK if not text and c[COMPLETE] > 0 and m in missing else text)
        rows.append(key + values)
    names = {"div": "diverged", "fail": "failed"}
    header = [names.get(h, h) for h in key_header] + [col for _, col, _ in columns]
    frame = pd.DataFrame(rows, columns=header)
    styler = frame.style.hide(axis="index").format(escape="latex").format_index(escape="latex", axis=1)
    aligns = "".join("l" if h in report.axes or h in ("suite", "rank") else "r" for h in header)
    body = styler.to_latex(hrules=True, column_format=aligns)
    body = body.replace("±", "$\\pm$").replace(MISSING_MARK, "\\textdagger{}")
    note = f"% mean $\\pm$ std over seeds (complete runs); complete = complete / complete + diverged runs. ganbench report: {report.root}\n"
    return note + body


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
        "ci": {"level": 0.95, "method": report.ci_method, "clipped": report.clipped, "t_instead_of_bootstrap": report.ci_fallback},
        "test": report.test,
        "adjust": {"method": report.adjust, "family": report.family, "alpha": report.alpha},
        "at": {"unit": report.at.unit, "value": report.at.value} if report.at else None,
        "sort": {"column": report.sort[0], "better": report.sort[1]} if report.sort else None,
        "footnotes": footnotes(report),
        "cells": _records(report.cells),
        "runs": _records(report.frame),
        "comparisons": _records(report.comparisons),
        "trends": _records(report.trends),
        "answer": answer_lines(report),
        "search": {"curves": _records(report.search), "scores": _records(report.search_scores)},
    }
    return json.dumps(doc, indent=2, default=str) + "\n"


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON objects, NaN as null (JSON has no NaN)."""
    return json.loads(frame.to_json(orient="records", double_precision=15))


__all__ = [
    "terminal",
    "markdown",
    "cells_csv",
    "runs_csv",
    "to_json",
    "display_table",
    "footnotes",
    "num",
    "stat_text",
    "comparison_lines",
    "trend_lines",
    "fingerprint_lines",
    "trained_lines",
    "latex",
    "mean_std",
    "short_name",
]
