"""The report on a terminal (rich): the answer first. The compact table, titled with the
suite's question and folded to the console's width, then the verdicts, what gets none and
the notes; --verbose adds each metric's details, the protocol, what was trained and every
test; --per-run a table of the runs.
"""

from __future__ import annotations

import math

import numpy as np
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..store import COMPLETE
from .aggregate import SHOW_SEEDS_BELOW
from .answer import answer_lines, question, wrap
from .contents import Report
from .detail_lines import comparison_lines, fingerprint_lines, footnotes, trained_lines, trend_lines
from .number_format import mean_std, num
from .table_text import MISSING_MARK, key_columns, metric_columns, seed_values

KEY_WIDTH_MAX = 30  # an axis label wider than this is cut with an ellipsis in the terminal


def terminal(report: Report, console: Console, per_run: bool = False, verbose: bool = False) -> None:
    """The answer first: the table (titled with the suite's question), then one line per verdict,
    one for what gets none, the search's expected best and the protocol's short fingerprint, then
    the notes. `verbose` adds per metric the CI, each seed's value and n, the whole protocol,
    what was trained, and every pairwise and trend test. Lines wrap at word boundaries, never
    inside a p-value or an interval."""
    asked = question(report)
    title = f"{_suite_name(report)}: {asked}" if asked else f"ganbench report: {report.root}"
    key_header, key_rows = key_columns(report)
    headers, rows, legend = compact_cells(report)
    key_widths = [_width(h, [r[i] for r in key_rows]) for i, h in enumerate(key_header)]
    metric_widths = [_width(h, [r[i] for r in rows]) for i, h in enumerate(headers)]
    for n, group in enumerate(fold(key_widths, metric_widths, console.width)):
        table = _table(key_header, key_rows, [(headers[i], [r[i] for r in rows]) for i in group], title=title if n == 0 else None)
        console.print(table, highlight=False)
    say = lambda line: _say(console, line)  # noqa: E731
    if legend:
        say("metrics: " + ", ".join(f"{k} = {v}" for k, v in legend.items()))
    for line in answer_lines(report):
        say(line)
    for line in footnotes(report, short=not verbose):
        say(line)
    if verbose:  # the cell's identity only (complete/div/fail are above), so that the details fit
        keep = [i for i, h in enumerate(key_header) if h not in ("complete", "div", "fail")]
        ids, id_rows = [key_header[i] for i in keep], [[r[i] for i in keep] for r in key_rows]
        for m, col, name in metric_columns(report):
            console.print(_table(ids, id_rows, detail_columns(report, col), title=f"{col} ({name})"), highlight=False)
        for line in fingerprint_lines(report) + trained_lines(report) + comparison_lines(report) + trend_lines(report):
            say(line)
    if per_run:
        for table in run_tables(report, console.width):
            console.print(table, highlight=False)


def compact_cells(report: Report) -> tuple[list[str], list[list[str]], dict[str, str]]:
    """(headers, rows, legend) of the metric columns, one `mean ± std` per cell."""
    columns = metric_columns(report)
    missing = set(report.missing())
    rows = []
    for _, c in report.cells.iterrows():
        row = []
        for m, col, _ in columns:
            text = mean_std(c.get(f"{col}.mean", math.nan), c.get(f"{col}.std", math.nan))
            if not text and c[COMPLETE] > 0 and m in missing:
                text = MISSING_MARK
            row.append(text)
        rows.append(row)
    legend = {name.split(" @")[0]: m for m, _, name in columns if name.split(" @")[0] != m}
    return [name for _, _, name in columns], rows, legend


def _width(header: str, cells) -> int:
    return max([cell_len(header)] + [cell_len(x) for x in cells])


def fold(key_widths: list[int], metric_widths: list[int], width: int) -> list[list[int]]:
    """Split the metric columns (indexes) into groups, each fitting `width` beside the key columns."""
    per_column = 3  # a separator and its padding (box.SIMPLE_HEAD, pad_edge=False: one space at each edge)
    budget = width - 2 - sum(min(w, KEY_WIDTH_MAX) + per_column for w in key_widths) + per_column
    groups: list[list[int]] = [[]]
    used = 0
    for i, w in enumerate(metric_widths):
        if groups[-1] and used + w + per_column > budget:
            groups.append([])
            used = 0
        groups[-1].append(i)
        used += w + per_column
    return groups


def _table(key_header, key_rows, cols: list[tuple[str, list[str]]], title: str | None = None) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False)
    for h in key_header:
        left = h not in ("rank", "complete", "div", "fail")
        table.add_column(h, no_wrap=True, overflow="ellipsis", justify="left" if left else "right", max_width=KEY_WIDTH_MAX)
    for h, _ in cols:
        table.add_column(h, no_wrap=True, overflow="ellipsis", justify="right")
    for i, key in enumerate(key_rows):
        table.add_row(*key, *[cells[i] for _, cells in cols])
    return table


def _suite_name(report: Report) -> str:
    names = list(dict.fromkeys(str(r.record.get("suite")) for r in report.runs))
    return ", ".join(names) if names else str(report.root)


def _say(console: Console, line: str) -> None:
    """A line wrapped to the console's width by answer.wrap (rich would break "Holm | p=1")."""
    for part in wrap(line, console.width - 1):
        console.print(Text(part), highlight=False, soft_wrap=True)


def detail_columns(report: Report, col: str) -> list[tuple[str, list[str]]]:
    """mean ± std, 95% CI, each seed's value (when few) and n of one value column, per cell."""
    out: dict[str, list[str]] = {"mean ± std": [], "95% CI": [], "seeds": [], "n": []}
    for _, c in report.cells.iterrows():
        out["mean ± std"].append(mean_std(c.get(f"{col}.mean", math.nan), c.get(f"{col}.std", math.nan)))
        lo, hi = c.get(f"{col}.ci_low", math.nan), c.get(f"{col}.ci_high", math.nan)
        out["95% CI"].append(f"[{num(lo)}, {num(hi)}]" if np.isfinite(lo) else "")
        seeds = seed_values(report, c["cell"], col)
        out["seeds"].append(", ".join(num(v) for v in seeds) if 1 < len(seeds) < SHOW_SEEDS_BELOW else "")
        n = c.get(f"{col}.n")
        out["n"].append(f"{int(n)}/{int(c['outcomes'])}" if n is not None and np.isfinite(n) else "")
    return [(h, v) for h, v in out.items() if any(v)]


def run_tables(report: Report, width: int) -> list[Table]:
    """One row per run (id, status, seed, the headline metrics by their short names), folded to `width`."""
    keys = ["id", "status", "seed"]
    key_rows = [[str(r[k]) for k in keys] for _, r in report.frame.iterrows()]
    columns = metric_columns(report)
    cells = [[num(r[col]) if isinstance(r[col], float) else str(r[col]) for _, col, _ in columns] for _, r in report.frame.iterrows()]
    headers = [name for _, _, name in columns]
    key_widths = [_width(h, [r[i] for r in key_rows]) for i, h in enumerate(keys)]
    metric_widths = [_width(h, [r[i] for r in cells]) for i, h in enumerate(headers)]
    return [
        _table(keys, key_rows, [(headers[i], [r[i] for r in cells]) for i in group], title="runs")
        for group in fold(key_widths, metric_widths, width)
    ]
