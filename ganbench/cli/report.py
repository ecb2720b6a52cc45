"""`ganbench report`: the comparison tables on the terminal and the report files (Markdown,
CSV, JSON, HTML, LaTeX), one report per suite for a results root holding several.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import StdoutConsole, _registry, fail

PIPED_WIDTH = 100  # `ganbench report` table width when stdout is not a terminal (--width sets it)


@click.command()
@click.argument("results", type=click.Path(path_type=Path), default="results")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "csv", "html", "json", "latex"]),
    help="Write this format (to stdout without --output) instead of the terminal table; latex: the cell table (booktabs).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="A .md/.csv/.html/.json/.tex file, or a folder that gets every format (default: RESULTS/report/).",
)
@click.option("--per-run", is_flag=True, help="Also show one row per run (the terminal table, or CSV on stdout).")
@click.option("--at", "at", metavar="epoch=N|step=N", help="Compare values at this point of training instead of the final ones.")
@click.option(
    "--compare",
    "compare_axes",
    multiple=True,
    metavar="AXIS",
    help="Pairwise tests along AXIS (repeatable); default: every two-valued axis.",
)
@click.option("--sort", metavar="METRIC[:lower|:higher]", help="Rank cells by METRIC (direction known for built-in metrics).")
@click.option("--metrics", metavar="A,B,...", help="The metrics the tables show (default: the main quality metrics and throughput).")
@click.option(
    "--ci",
    type=click.Choice(["t", "bootstrap"]),
    default="t",
    show_default=True,
    help="95% CI over seeds: Student t, or percentile bootstrap (cells of 10+ seeds; fewer get t).",
)
@click.option(
    "--test",
    type=click.Choice(["welch", "mwu", "perm"]),
    default="welch",
    show_default=True,
    help="Pairwise test: Welch t, Mann-Whitney U, or an exact permutation test; p-values are Holm-adjusted per report.",
)
@click.option(
    "--direction",
    "directions",
    multiple=True,
    metavar="METRIC=lower|higher",
    help="Which way is better for a metric ganbench does not know.",
)
@click.option("--split-protocols", is_flag=True, help="Keep runs measured under different protocols apart instead of refusing.")
@click.option(
    "--reference",
    is_flag=True,
    help="Add a row of a perfect sampler (held-out real data scored by the same evaluation) to every table.",
)
@click.option(
    "--threshold",
    type=float,
    metavar="FID",
    help="Time to threshold: steps, seconds, images and FLOPs until fid_domain first reaches FID (default: the runs' eval.fid_threshold).",
)
@click.option(
    "--aggregate",
    metavar="METRIC",
    help="Rank recipes across the data sets under RESULTS (IQM, probability of improvement, performance profiles; rliable) on METRIC, e.g. fid_domain.",
)
@click.option("--no-plots", is_flag=True, help="Tables only (faster).")
@click.option("--no-traverse", is_flag=True, help="Skip plots that rebuild generators (latent traversals, 2-D scatters).")
@click.option(
    "--width",
    type=click.IntRange(min=40),
    help="Terminal table width in characters (default: the terminal's, else 100 when piped).",
)
@click.option("--verbose", "-v", is_flag=True, help="Terminal: also, per metric, the 95% CI, each seed's value and n.")
def report(
    results,
    fmt,
    output,
    per_run,
    at,
    compare_axes,
    sort,
    metrics,
    ci,
    test,
    directions,
    split_protocols,
    reference,
    threshold,
    aggregate,
    no_plots,
    no_traverse,
    width,
    verbose,
):
    """Compare the runs under RESULTS (one suite's folder or many).

    Prints the comparison table and writes Markdown, CSV, JSON and a self-contained
    HTML page with the plots into RESULTS/report/ (or where --output says). A results
    root holding several suites gets one table and one report folder per suite.

    Runs are grouped by cell (their config without the seed); each metric is shown as
    mean ± std over seeds with a 95% CI. See docs/report.md for the columns.
    """
    from ..report import ReportError, build_report
    from ..report.formats import runs_csv, terminal
    from ..report.output import figures, render, write, write_index

    written, warnings = [], []
    try:
        given = {}
        for d in directions:
            name, _, how = d.partition("=")
            if how not in ("lower", "higher") or not name:
                raise ReportError(f"--direction {d}: expected METRIC=lower or METRIC=higher")
            given[name] = how
        options = dict(
            at=at,
            compare_axes=list(compare_axes) or None,
            sort=sort,
            metrics=[m.strip() for m in metrics.split(",") if m.strip()] if metrics else None,
            ci=ci,
            test=test,
            split_protocols=split_protocols,
            directions=given,
            reference=reference,
            threshold=threshold,
            aggregate=aggregate,
            registry=_registry(),  # what metric plugins declare (directions, ranges); scores the reference data
        )
        if not output and not fmt:  # the plain command also leaves every format on disk
            output = Path(results) / "report"
        suites = _suite_folders(Path(results))
        if output and len(suites) > 1 and not Path(output).suffix:
            # A results root of several suites: one report per suite (each with its own
            # axes), into OUTPUT/<suite>/, rather than one table of every column.
            reports = []
            if aggregate:  # one aggregate over every suite; each suite's report holds its own runs only
                from ..report.output import write_aggregate_pages

                written += write_aggregate_pages(results, output, options)
            for folder in suites:
                rep = build_report(folder, **{**options, "aggregate": None})
                done, warned = write(rep, Path(output) / folder.name, fmt, plots=not no_plots, models=not no_traverse)
                reports.append(rep)
                written += done
                warnings += warned
            if fmt in (None, "html"):  # a page linking each suite's report.html
                written.append(write_index(Path(output), [(rep, Path(output) / f.name) for rep, f in zip(reports, suites)]))
        else:
            reports = [build_report(results, **options)]
            if output:
                written, warnings = write(reports[0], output, fmt, plots=not no_plots, models=not no_traverse)
            elif fmt:
                figs, warnings = figures(reports[0], fmt == "html" and not no_plots, not no_traverse)
                text = runs_csv(reports[0]) if fmt == "csv" and per_run else render(reports[0], fmt, figs, warnings)
                click.echo(text, nl=False)
                return
    except ReportError as e:
        fail(str(e))
    except OSError as e:  # an output folder that cannot be written
        fail(f"--output {output}: cannot write {e.filename or ''}: {e.strerror or e}")
    if width is None and not sys.stdout.isatty():
        width = PIPED_WIDTH
    for rep in reports:
        terminal(rep, StdoutConsole(width=width), per_run=per_run, verbose=verbose)
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    for path in written:
        click.echo(f"wrote {path}", err=True)


def _suite_folders(root: Path) -> list[Path]:
    """The suite folders of a results root: those holding run folders (<suite>/<run>/run.json)."""
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".") and any(d.glob("*/run.json")))
