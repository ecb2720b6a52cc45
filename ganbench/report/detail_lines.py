"""The lines around the tables that the terminal, Markdown, JSON and HTML share: the notes
under a table, what was trained, the protocol's fingerprint, and every pairwise and trend
test with the family its p-values were adjusted in.
"""

from __future__ import annotations

import json
import math

from ..budget import header_lines as budget_lines
from .aggregate import BOOTSTRAP_MIN_N, SHOW_SEEDS_BELOW
from .compare import sentence, trend_sentence
from .contents import Report
from .metric_traits import metric_range
from .number_format import num
from .table_text import MISSING_MARK
from .two_sample_tests import MIN_N_WELCH, TESTS

CI_SHORT = {"t": "Student t", "bootstrap": "bootstrap"}
CI_NAMES = {"t": "Student t interval over seeds", "bootstrap": "percentile bootstrap over seeds (2000 resamples)"}


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
        ranges = sorted({_range_text(c.split(".")[0], report.ranges) for c in clipped})
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


def _range_text(metric: str, declared: dict) -> str:
    low, high = metric_range(metric, declared)
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
