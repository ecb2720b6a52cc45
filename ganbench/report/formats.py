"""The report as text: a rich terminal table, Markdown, CSV and JSON.

Every table shows, per cell, mean ± std over seeds, the 95% CI of the mean (within the
metric's range), each seed's value when there are few, and n = values / outcomes (complete
+ diverged runs); blank means "not measured", never zero.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..budget import header_lines as budget_lines
from ..store import COMPLETE, DIVERGED, FAILED
from .aggregate import BOOTSTRAP_MIN_N, SHOW_SEEDS_BELOW, sample_values
from .aggregate_suites import markdown_lines as aggregate_markdown
from .anytime import markdown_lines as anytime_markdown
from .compare import sentence, trend_sentence
from .contents import Report
from .metric_traits import metric_range
from .number_format import mean_std, num
from .two_sample_tests import MIN_N_WELCH, TESTS

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
CI_SHORT = {"t": "Student t", "bootstrap": "bootstrap"}
CI_NAMES = {"t": "Student t interval over seeds", "bootstrap": "percentile bootstrap over seeds (2000 resamples)"}


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


FIRST_PROTOCOL_KEYS = ("classifier_hash", "g_mode")  # what makes two feature spaces / samplings the same
HASH_SHOWN = 8  # hex digits of the classifier hash in the header (the protocol id uses all of it)


def fingerprint_lines(report: Report) -> list[str]:
    lines = []
    for pid, proto in report.protocols.items():
        proto = dict(proto)
        if "classifier_hash" in proto:
            proto["classifier_hash"] = str(proto["classifier_hash"])[:HASH_SHOWN]
        elif "classifier_accuracy" in proto:  # measured with a classifier before its hash was recorded
            proto["classifier_hash"] = "not recorded"
        keys = [k for k in FIRST_PROTOCOL_KEYS if k in proto] + [k for k in proto if k not in FIRST_PROTOCOL_KEYS]
        items = ", ".join(f"{k}={proto[k]}" for k in keys) or "(none recorded)"
        lines.append(f"protocol {pid}: {items}")
    devices = sorted({str((r.record.get("env") or {}).get("device_name", "?")) for r in report.runs})
    lines += budget_lines(report.runs)  # a suite-level budget: what every cell spent
    lines.append(f"runs: {len(report.runs)} in {report.trained_cells().shape[0]} cells; device: {', '.join(devices)}")
    return lines


def _flatten(config: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for k, v in config.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = json.dumps(v, sort_keys=True, default=str)
    return out


def trained_lines(report: Report) -> list[str]:
    """What was trained, from the runs' run.json: dataset, length, device, version, the shared
    config and what the matrix varies."""
    configs = [_flatten(r.record.get("config") or {}) for r in report.runs]
    keys = list(dict.fromkeys(k for c in configs for k in c))
    shared = {k: configs[0][k] for k in keys if all(k in c and c[k] == configs[0][k] for c in configs)}
    varies = [k for k in keys if k not in shared and k != "seed"]

    def values(key: str) -> str:
        vals = list(dict.fromkeys(c.get(key, "(unset)") for c in configs))
        return ", ".join(v.strip('"') for v in vals)

    env = [r.record.get("env") or {} for r in report.runs]
    lines = []
    head = []
    for key, name in (("dataset.name", "dataset"), ("steps", "steps"), ("epochs", "epochs")):
        if key in shared:
            head.append(f"{name} {shared[key].strip(chr(34))}")
        elif key in keys:
            head.append(f"{name} {values(key)}")
    devices = sorted({str(e.get("device_name", "?")) for e in env})
    versions = sorted({str(e.get("ganbench", "?")) for e in env})
    head += [f"device {', '.join(devices)}", f"ganbench {', '.join(versions)}"]
    lines.append("trained: " + "; ".join(head))
    seeds = sorted({r.record.get("seed") for r in report.runs if isinstance(r.record.get("seed"), int)})
    axes = [a for a in report.axes if a != "protocol"]
    axis_values = [
        f"{a} ({', '.join(dict.fromkeys(str(v) for v in report.trained_cells()[f'axis:{a}']))})"
        for a in axes
        if f"axis:{a}" in report.cells
    ]
    lines.append(
        "the matrix varies: "
        + ("; ".join(axis_values) if axis_values else "nothing (one cell)")
        + (f"; seeds {', '.join(map(str, seeds))}" if seeds else "")
    )
    other = [k for k in varies if not any(k == a or k.startswith(a + ".") for a in axes)]
    if other:
        lines.append("also differs between runs: " + ", ".join(other))
    base = {k: v for k, v in shared.items() if k != "seed"}
    lines.append("base config (shared by all runs): " + ", ".join(f"{k}={v.strip(chr(34))}" for k, v in base.items()))
    return lines


def footnotes(report: Report, short: bool = False) -> list[str]:
    """The notes under a table; `short`: the terminal's (the files and --verbose give them in full)."""
    if short:
        notes = [
            f"mean ± std over seeds of complete runs (--verbose: 95% CI, {CI_SHORT[report.ci_method]}; each seed's value; n); "
            "complete = complete / complete + diverged runs; div = diverged, fail = failed."
        ]
    else:
        notes = [
            f"mean ± std over seeds, [95% CI: {CI_NAMES[report.ci_method]}], (each seed's value when fewer than "
            f"{SHOW_SEEDS_BELOW}), n = values averaged / the cell's complete + diverged runs. Final values average "
            "complete runs only; diverged and failed runs are counted (complete column: complete / complete + diverged)."
        ]
    if report.at:
        notes.append(
            f"@{report.at.unit} {report.at.value:g}: the latest value logged at or before that point, from every "
            "run that reached it (diverged later or not); blank for runs that never reached it."
        )
    if report.sort:
        col, how = report.sort
        notes.append(
            f"ranked first by the share of the cell's runs that produced {col} (a cell whose seeds diverged "
            f"ranks below one whose seeds finished), then by its mean ({how} is better)."
        )
        if col.endswith(".best"):
            notes.append(f"{col} is optimistic: each run's best evaluation, selected on the same test split it reports.")
    shown = {report.shown[m] for m in report.metrics} | ({report.sort[0]} if report.sort else set())
    clipped = [c for c in report.clipped if c in shown]
    if clipped:
        ranges = sorted({_range_text(c.split(".")[0]) for c in clipped})
        notes.append("intervals clipped to the metric's range: " + ", ".join(ranges) + ".")
    fallback = [c for c in report.ci_fallback if c in shown]
    if fallback:
        notes.append(
            f"a percentile bootstrap needs {BOOTSTRAP_MIN_N}+ seeds (at n = 3 it covers about 75%, not 95%): "
            f"Student t intervals for cells with fewer ({', '.join(fallback)})."
        )
    if not short:
        notes.append(
            "best-of-run values (<metric>.best in the CSV and JSON files) are not shown: each is the best of a run's "
            "evaluations, selected on the split it is measured on, and mixes curve and final sample counts."
        )
    missing = report.missing()
    run_notes = short_notes(report.notes) if short else report.notes
    if missing:
        why = " ".join(run_notes)
        notes.append(f"{MISSING_MARK} blank: {', '.join(missing)} not measured for some cells (not zero). {why}".strip())
    elif run_notes:
        notes.append("notes: " + " ".join(run_notes))
    return notes


INCEPTION_NOTE = "Inception metrics absent"


def short_notes(notes: list[str]) -> list[str]:
    """The runs' notes with the Inception note once (its first reason), however many runs gave it."""
    out, seen = [], False
    for n in notes:
        if n.startswith(INCEPTION_NOTE):
            if seen:
                continue
            seen = True
            n = n if len(n) <= 80 else n[:77] + "..."
        out.append(n)
    return out


def _range_text(metric: str) -> str:
    low, high = metric_range(metric)
    return f"{metric} [{num(low)}, {high if isinstance(high, str) else ('∞' if high == math.inf else num(high))}]"


def family_text(report: Report) -> str:
    return (
        f"p adjusted by Holm over all {report.family} tests of this report (pairwise and trends); "
        f"verdicts only where the adjusted p < {report.alpha:g} (family-wise) and the metric has a direction"
    )


def comparison_lines(report: Report) -> list[str]:
    if report.comparisons.empty:
        return []
    welch = f"; Welch's t gives no verdict below {MIN_N_WELCH} seeds per side" if report.test == "welch" else ""
    head = (
        f"pairwise ({TESTS[report.test]}; difference a − b with its 95% Welch CI; n = values / runs per side; "
        f"{family_text(report)}{welch}):"
    )
    return [head] + [f"  {sentence(r)}" for _, r in report.comparisons.iterrows()]


def trend_lines(report: Report) -> list[str]:
    if report.trends.empty:
        return []
    head = f"trends (Spearman's ρ of each metric with a numeric axis, over runs; {family_text(report)}):"
    return [head] + [f"  {trend_sentence(r)}" for _, r in report.trends.iterrows()]


# ---------------------------------------------------------------- terminal


KEY_WIDTH_MAX = 30  # an axis label wider than this is cut with an ellipsis in the terminal


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


def terminal(report: Report, console: Console, per_run: bool = False, verbose: bool = False) -> None:
    """The answer first: the table (titled with the suite's question), then one line per verdict,
    one for what gets none, the search's expected best and the protocol's short fingerprint, then
    the notes. `verbose` adds per metric the CI, each seed's value and n, the whole protocol,
    what was trained, and every pairwise and trend test. Lines wrap at word boundaries, never
    inside a p-value or an interval."""
    from .answer import answer_lines, question

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


def _suite_name(report: Report) -> str:
    names = list(dict.fromkeys(str(r.record.get("suite")) for r in report.runs))
    return ", ".join(names) if names else str(report.root)


def _say(console: Console, line: str) -> None:
    """A line wrapped to the console's width by answer.wrap (rich would break "Holm | p=1")."""
    from .answer import wrap

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


# ---------------------------------------------------------------- files


def markdown(report: Report, images: dict[str, str] | None = None) -> str:
    """A Markdown page; `images` maps captions to relative PNG paths."""
    from .answer import answer_lines, question

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
        from .load import ReportError

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
    from .answer import answer_lines

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
