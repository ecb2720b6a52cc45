"""Writing a report to files: one format to one file, or every format into a folder."""

from __future__ import annotations

from pathlib import Path

from ..store import COMPLETE, DIVERGED, FAILED, write_atomic
from .aggregate_suites import build as build_aggregate
from .aggregate_suites import html_lines as aggregate_html
from .aggregate_suites import markdown_lines as aggregate_markdown
from .assemble import build_report
from .contents import Report
from .formats import cells_csv, latex, markdown, runs_csv, to_json
from .html import CSP, STYLE, esc, index_page, page
from .load import ReportError

FORMATS = ("md", "csv", "html", "json")  # a folder output; latex only when asked for (--format latex, a .tex file)
SUFFIX = {".md": "md", ".markdown": "md", ".csv": "csv", ".html": "html", ".htm": "html", ".json": "json", ".tex": "latex"}


def figures(report: Report, plots: bool, models: bool) -> tuple[dict[str, bytes], list[str]]:
    if not plots:
        return {}, []
    from .plots import all_figures  # matplotlib only when there are plots to draw

    return all_figures(report, models=models)


def render(report: Report, fmt: str, figs: dict[str, bytes] | None = None, warnings=()) -> str:
    """One format as text (Markdown without image links; CSV is the per-cell table)."""
    if fmt == "md":
        return markdown(report)
    if fmt == "csv":
        return cells_csv(report)
    if fmt == "json":
        return to_json(report)
    if fmt == "latex":
        return latex(report)
    return page(report, figs or {}, list(warnings))


def write(report: Report, output: Path, fmt: str | None, plots: bool = True, models: bool = True) -> tuple[list[Path], list[str]]:
    """Write to `output`: a file whose suffix names the format, or a folder of every format."""
    output = Path(output)
    inferred = SUFFIX.get(output.suffix.lower())
    if fmt and inferred and fmt != inferred:
        raise ReportError(f"--output {output}: the suffix says {inferred}, but --format is {fmt}")
    if inferred:
        if not output.parent.is_dir():
            raise ReportError(f"--output {output}: folder {output.parent} does not exist")
        fmts, folder, stem = [inferred], output.parent, output.stem
    else:
        if output.exists() and not output.is_dir():
            raise ReportError(f"--output {output}: exists and is not a folder (give a .md/.csv/.html/.json file or a folder)")
        output.mkdir(parents=True, exist_ok=True)
        fmts, folder, stem = [fmt] if fmt else list(FORMATS), output, "report"
    needs_figs = any(f in ("md", "html") for f in fmts)
    figs, warnings = figures(report, plots and needs_figs, models)
    written = []
    for f in fmts:
        if f == "csv":
            cells = output if inferred else folder / "cells.csv"
            runs = folder / (f"{stem}.runs.csv" if inferred else "runs.csv")
            comps = folder / (f"{stem}.comparisons.csv" if inferred else "comparisons.csv")
            write_atomic(cells, cells_csv(report))
            write_atomic(runs, runs_csv(report))
            written += [cells, runs]
            if not report.comparisons.empty:
                write_atomic(comps, report.comparisons.to_csv(index=False))
                written.append(comps)
            if not report.trends.empty:
                trends = folder / (f"{stem}.trends.csv" if inferred else "trends.csv")
                write_atomic(trends, report.trends.to_csv(index=False))
                written.append(trends)
        elif f == "md":
            images = {}
            if figs:
                img_dir = folder / f"{stem}_files"
                img_dir.mkdir(exist_ok=True)
                for i, (caption, png) in enumerate(figs.items(), 1):
                    name = f"{i:02d}-{_slug(caption)}.png"
                    write_atomic(img_dir / name, png)
                    images[caption] = f"{img_dir.name}/{name}"
            path = folder / f"{stem}.md"
            write_atomic(path, markdown(report, images))
            written.append(path)
        else:
            path = folder / f"{stem}.{'tex' if f == 'latex' else f}"
            write_atomic(path, render(report, f, figs, warnings))
            written.append(path)
    return written, warnings


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def write_index(output: Path, reports: list[tuple[Report, Path]]) -> Path:
    """OUTPUT/index.html linking each suite's report.html (`reports`: each report and its folder)."""
    entries = []
    for rep, folder in reports:
        status = rep.frame["status"].value_counts()
        suite = str(rep.frame["suite"].iloc[0]) if rep.frame["suite"].nunique() == 1 else Path(folder).name
        entries.append(
            {
                "suite": suite,
                "link": f"{Path(folder).relative_to(output).as_posix()}/report.html",
                "runs": len(rep.runs),
                "cells": rep.cells.shape[0],
                COMPLETE: int(status.get(COMPLETE, 0)),
                DIVERGED: int(status.get(DIVERGED, 0)),
                FAILED: int(status.get(FAILED, 0)),
                "metrics": rep.metrics,
                "description": rep.runs[0].record.get("description") if rep.runs else None,
            }
        )
    path = Path(output) / "index.html"
    write_atomic(path, index_page(str(output), entries))
    return path


def write_aggregate_pages(results, output, options: dict) -> list:
    """Across several suites: OUTPUT/aggregate.html and aggregate.md over every run under
    `results` (the per-suite reports each hold only their own suite). `options`: build_report's,
    with the `registry` that measures the data sets' reference and worst values."""
    metric = options["aggregate"]
    rep = build_report(results, **{**options, "aggregate": None, "reference": False, "threshold": None, "split_protocols": True})
    agg = build_aggregate(rep, metric, registry=options.get("registry"))
    title = f"ganbench: {metric} across data sets, {results}"
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        *aggregate_html(agg, esc),
        "</body></html>",
    ]
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "aggregate.html", "\n".join(lines) + "\n")
    write_atomic(out / "aggregate.md", "\n".join([f"# {title}", *aggregate_markdown(agg)]) + "\n")
    return [out / "aggregate.html", out / "aggregate.md"]
