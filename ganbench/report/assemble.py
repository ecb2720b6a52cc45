"""build_report: a results folder (one suite's or many) -> a Report, everything the tables,
files and page need; ReportError (one line) on bad input.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..keys import COST_KEYS, HIGHER, LOWER
from ..plugins import load_registry
from .aggregate import CI_METHODS, cell_table, headline, rank
from .aggregate_suites import add_aggregate
from .anytime import add_time_to_threshold
from .compare import COLUMNS as COMPARE_COLUMNS
from .compare import TREND_COLUMNS, auto_axes, compare, trend_axes, trends
from .contents import Report
from .load import ReportError, RunRecord, adopt_failed_protocols, check_protocols, find_runs, protocol_id, runs_frame
from .metric_traits import direction
from .multiple_testing import adjust
from .reference import add_reference
from .run_columns import At, find_axes, label_runs, run_values
from .search import search_tables

if TYPE_CHECKING:
    from ..plugins import Registry


def parse_sort(text: str | None, given: dict[str, str]) -> tuple[str, str] | None:
    """`fid_domain`, `fid_domain.best`, or `d_loss:lower` -> (metric column, direction)."""
    if not text:
        return None
    name, _, how = text.partition(":")
    how = how.strip().lower() or direction(name, given)
    if how not in (LOWER, HIGHER):
        raise ReportError(f"--sort {text}: unknown direction for {name!r}; write --sort {name}:lower or {name}:higher")
    return name.strip(), how


def build_report(
    root: str | Path,
    at: str | None = None,
    compare_axes: list[str] | None = None,
    sort: str | None = None,
    metrics: list[str] | None = None,
    ci: str = "t",
    test: str = "welch",
    split_protocols: bool = False,
    directions: dict[str, str] | None = None,
    reference: bool = False,
    threshold: float | None = None,
    aggregate: str | None = None,
    registry: Registry | None = None,
) -> Report:
    """Everything the tables, files and page need; ReportError (one line) on bad input.

    `registry`: the plugins whose metrics' directions and ranges the tables use, and that
    build and score the held-out data of `reference` and the reference and worst values of
    `aggregate` (the caller's: the CLI's, the API's); default: the installed plugins, loaded
    for this report."""
    if registry is None:
        registry = load_registry()
    if ci not in CI_METHODS:
        raise ReportError(f"--ci {ci}: expected one of {', '.join(CI_METHODS)}")
    # Directions beyond ganbench's own: what metric plugins declare, then --direction.
    given = {**registry.metric_directions(), **(directions or {})}
    ranges = registry.metric_ranges()
    at_point = At.parse(at) if at else None
    damaged: list[str] = []
    runs = find_runs(root, damaged)
    adopt_failed_protocols(runs)
    protocols = {protocol_id(r.protocol): r.protocol for r in runs} if split_protocols else check_protocols(runs)
    axes = find_axes(runs)
    frame = runs_frame(runs)
    # A cell is the config without its seed (and, when kept apart, its protocol).
    frame["cell"] = [_short_hash(r.cell_key + (protocol_id(r.protocol) if split_protocols else "")) for r in runs]
    if len(protocols) > 1:  # kept apart (by cell, or by --split-protocols): say which is which
        axes = axes + ["protocol"]
    frame = label_runs(runs, frame, [a for a in axes if a != "protocol"])
    if "protocol" in axes:
        frame["axis:protocol"] = frame["protocol"]
        frame["label"] = frame["label"] + ", protocol=" + frame["protocol"]
    frame, shown = run_values(runs, frame, at_point, given)
    frame, mixed_cost = separate_cost_contexts(frame)
    asked = suite_request(runs)
    named = named_plugin_keys(runs, registry)
    if metrics is None and asked.get("metrics"):  # the suite's own first, then the defaults
        first = [m for m in asked["metrics"] if m in shown]
        chosen = first + [m for m in headline(frame, shown, None, named) if m not in first]
    else:
        chosen = headline(frame, shown, metrics, named)
    if compare_axes is None and asked.get("compare"):
        compare_axes = [a for a in asked["compare"] if a in axes] or None
    cells = cell_table(frame, axes, ci, ranges)
    clipped, fallback = cells.attrs.get("clipped", []), cells.attrs.get("ci_fallback", [])
    order = None
    if sort:
        name, how = parse_sort(sort, given)
        column = shown.get(name, name)
        if f"{column}.mean" not in cells.columns:
            raise ReportError(f"--sort {sort}: no metric {name!r} in these runs; known: {', '.join(sorted(shown))}")
        cells = rank(cells, column, how)
        order = (column, how)
        if name.split(".")[0] not in chosen and name in shown:
            chosen = [name] + chosen
    if compare_axes is None:
        compare_axes = auto_axes(frame, axes)
    parts = [c for c in (compare(frame, axes, a, chosen, shown, test, given, ranges) for a in compare_axes) if not c.empty]
    comparisons = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(COMPARE_COLUMNS))
    parts = [t for t in (trends(frame, axes, a, chosen, shown, given) for a in trend_axes(frame, axes)) if not t.empty]
    trend_rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(TREND_COLUMNS))
    comparisons, trend_rows, family = adjust(comparisons, trend_rows, given)
    notes = list(dict.fromkeys(n for r in runs for n in r.record["notes"]))  # read_run made them a list of strings
    notes += mixed_cost
    notes += [f"damaged run left out: {d}" for d in damaged]
    searched, scores = search_tables(runs, frame, chosen, shown, given)
    report = Report(
        Path(root),
        runs,
        protocols,
        axes,
        frame,
        cells,
        shown,
        chosen,
        comparisons,
        ci,
        test,
        at_point,
        order,
        given,
        notes,
        trend_rows,
        family,
        clipped,
        fallback,
        search=searched,
        search_scores=scores,
        ranges=ranges,
    )
    add_time_to_threshold(report, threshold)  # --threshold, else the runs' eval.fid_threshold
    if reference:  # a perfect sampler's row in every table (report.reference)
        add_reference(report, registry)
    if aggregate:  # recipes across data sets, rliable's way (report.aggregate_suites)
        add_aggregate(report, aggregate, registry=registry)
    return report


def named_plugin_keys(runs: list[RunRecord], registry: Registry) -> list[str]:
    """The result keys (with a direction) of the metric plugins the runs' configs enable
    (eval.metrics), as `registry`'s plugins declare them."""
    names: dict[str, None] = {}
    for r in runs:
        ev = (r.record.get("config") or {}).get("eval")
        if isinstance(ev, dict) and isinstance(ev.get("metrics"), dict):
            names.update(dict.fromkeys(str(n) for n in ev["metrics"]))
    return [k for name in names for k in registry.metric_keys(name)]


def suite_request(runs: list[RunRecord]) -> dict:
    """The suite's `report: {metrics: [...], compare: [...]}` block, when its runs recorded one
    (run.json `report`, or `config.report`); {} otherwise. --metrics and --compare override it."""
    for r in runs:
        block = r.record.get("report")
        if not isinstance(block, dict):
            block = (r.record.get("config") or {}).get("report")
        if isinstance(block, dict):
            return {k: [str(x) for x in v] for k, v in block.items() if k in ("metrics", "compare") and isinstance(v, list)}
    return {}


def separate_cost_contexts(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Blank the cost metrics of a cell whose seeds ran in different cost contexts.

    Throughput measured alone and measured while sharing a GPU with 15 other runs are
    different quantities: averaging them would be meaningless. Returns the frame and a
    note per such cell. (Comparisons between cells also pair cost only within a context.)
    """
    cost = [c for c in frame.columns if c.split(".")[0] in COST_KEYS]
    notes = []
    for cell, group in frame.groupby("cell", sort=False):
        contexts = sorted(group["cost_context"].unique())
        if len(contexts) > 1:
            frame.loc[group.index, cost] = float("nan")
            notes.append(
                f"cell {group['label'].iloc[0]}: cost metrics left blank, its seeds ran in different contexts ({'; '.join(contexts)})"
            )
    return frame, notes


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]
