"""`ganbench status`: the runs under a results folder, in progress, failed and finished,
read from their files (while they train, from any machine that sees the folder).
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from .common import StdoutConsole, fail


@click.command()
@click.argument("results", type=click.Path(path_type=Path), default="results")
@click.option("--all", "show_all", is_flag=True, help="Also list finished runs (default: runs in progress and failed ones, and counts).")
def status(results, show_all):
    """Runs in progress and finished under RESULTS, with their last step, losses and metric.

    Works while the runs train, from any machine that sees the folder: each run in progress
    streams its history; "last write" shows a stuck run.
    """
    from ..status import ago, collect

    if not results.is_dir():
        fail(f"{results}: no such results folder")
    rows = collect(results)
    table = Table(
        title=f"{results}: " + ", ".join(f"{n} {s}" for s, n in sorted(_count(r.state for r in rows).items())) or f"{results}: no runs"
    )
    for col in ("suite", "run", "state", "step", "D loss", "G loss", "metric", "last write", "note"):
        table.add_column(col, no_wrap=col != "note")
    hidden = 0
    for r in rows:
        if not show_all and r.state in ("complete", "diverged"):
            hidden += 1
            continue
        loss = lambda v: f"{v:.3f}" if v is not None else ""
        table.add_row(
            r.suite,
            r.run_id,
            r.state,
            "" if r.step is None else str(r.step),
            loss(r.d_loss),
            loss(r.g_loss),
            r.headline,
            ago(r.last_write_s),
            r.note[:80],
        )
    if hidden:
        table.caption = f"{hidden} finished runs not listed (--all lists them)"
    console = StdoutConsole()
    if not console.is_terminal:  # a log or a pipe: whole lines rather than 80 columns of wrapping
        console = StdoutConsole(width=200)
    console.print(table)


def _count(values):
    from collections import Counter

    return Counter(values)
