"""What a report says first: the suite's question, the verdicts that survive the adjustment,
one line for those that do not, and the protocol as a short fingerprint.

    adam beats sgd on precision_domain: +0.73 [0.57, 0.88], Holm p = 0.03
    no verdict on the other 11 of 12 tests (Holm-adjusted p ≥ 0.05): fid_domain, kid_domain: adam, rmsprop, sgd; ...
    protocol a93f9b2f (every run) · 9 runs in 3 cells on AMD EPYC · the cells differ in optimizer (adam, rmsprop, sgd)

The terminal, Markdown and HTML formats print these in that order, under the table; the
full pairwise list, the trends and the whole protocol follow (the terminal: with --verbose).
"""

from __future__ import annotations

import re
import textwrap

import numpy as np

from ..budget import header_lines as budget_lines
from .contents import Report
from .multiple_testing import SUCCESS
from .search import search_lines

NBSP = "\u00a0"  # binds a phrase for wrapping; printed as a plain space
# Phrases a line must never be broken inside: "Holm p = 0.03", "[0.57, 0.88]", "n=3/4 vs 3/3".
_TOGETHER = re.compile(r"Holm p ?= ?\S+|p ≥ \S+|\bp ?= ?[^,\s]+|\[[^\]]{1,40}\]|n=\S+ vs \S+|ρ ?= ?\S+|\bn=\d+ \S+")


def question(report: Report) -> str:
    """The suite's description (what it asks), or '' when it has none."""
    seen = dict.fromkeys(str(d).strip() for r in report.runs if (d := r.record.get("description")))
    return " / ".join(seen)


def _g(x: float, signed: bool = False) -> str:
    s = f"{x:+.3g}" if signed else f"{x:.3g}"
    return s.replace("-", "−")


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else f"{p:.1e}"


def verdict_lines(report: Report) -> list[str]:
    """One line per comparison or trend whose Holm-adjusted p gives a verdict."""
    lines = []
    c = report.comparisons
    for _, r in c[c["better"] != ""].iterrows() if not c.empty else []:
        won = r["better"] == r["a"]
        winner, loser = (r["a"], r["b"]) if won else (r["b"], r["a"])
        diff, lo, hi = (r["diff"], r["ci_low"], r["ci_high"]) if won else (-r["diff"], -r["ci_high"], -r["ci_low"])
        what = "success rate (complete / complete + diverged)" if r["metric"] == SUCCESS else r["column"]
        ctx = f" (at {r['context']})" if r["context"] else ""
        ci = f" [{_g(lo)}, {_g(hi)}]" if np.isfinite(lo) else ""
        lines.append(f"{winner} beats {loser} on {what}{ctx}: {_g(diff, signed=True)}{ci}, Holm p = {_p(r['p_adj'])}")
    t = report.trends
    for _, r in t[t["better"] != ""].iterrows() if not t.empty else []:
        ctx = f" (at {r['context']})" if r["context"] else ""
        lines.append(
            f"{r['better']} is better for {r['column']}{ctx}: ρ = {_g(r['rho'], signed=True)}, Holm p = {_p(r['p_adj'])} "
            f"({r['n']} runs over {r['levels']} values)"
        )
    return lines


def undecided_line(report: Report) -> str:
    """Which differences give no verdict, in one line (or why there are no tests)."""
    c, t = report.comparisons, report.trends
    rows_c = c[c["better"] == ""] if not c.empty else c
    rows_t = t[t["better"] == ""] if not t.empty else t
    if c.empty and t.empty:
        cells = _cells(report)
        wide = [a for a in report.axes if a != "protocol" and f"axis:{a}" in cells and cells[f"axis:{a}"].nunique() > 2]
        if wide:
            return f"no pairwise tests: {', '.join(wide)} {'has' if len(wide) == 1 else 'have'} 3 or more values (--compare {wide[0]} tests every pair)"
        return "no pairwise tests: one cell" if len(cells) <= 1 else ""
    if rows_c.empty and rows_t.empty:
        return f"every one of the {report.family} tests gives a verdict"
    groups: dict[str, list[str]] = {}  # the pairs (or the trend axis) of each metric with no verdict
    for _, r in rows_c.iterrows():
        what = "success rate" if r["metric"] == SUCCESS else r["column"]
        groups.setdefault(what, []).append(f"{r['a']} vs {r['b']}" + (f" at {r['context']}" if r["context"] else ""))
    for _, r in rows_t.iterrows():
        groups.setdefault(r["column"], []).append(f"trend with {r['axis']}" + (f" at {r['context']}" if r["context"] else ""))
    by_pairs: dict[str, list[str]] = {}  # metrics sharing the same pairs are listed together
    for metric, pairs in groups.items():
        by_pairs.setdefault("; ".join(_pairs(pairs)), []).append(metric)
    parts = [f"{', '.join(metrics)} ({pairs})" for pairs, metrics in by_pairs.items()]
    # why, beyond the adjusted p: each distinct note once ("mwu with 3 vs 3 seeds cannot go below p = 0.1")
    notes = dict.fromkeys(n.strip() for note in [*rows_c["note"], *rows_t["note"]] for n in str(note).split(";") if n.strip())
    why = [f"Holm-adjusted p ≥ {report.alpha:g}"] + [n for n in notes if not n.startswith("p < ")][:3]
    nominal = int((rows_c["p"] < report.alpha).sum() + (rows_t["p"] < report.alpha).sum())
    before = f"; {nominal} had p < {report.alpha:g} before the adjustment" if nominal else ""
    n, total = len(rows_c) + len(rows_t), len(c) + len(t)
    return f"no verdict for {'; '.join(parts)} ({n} of {total} tests: {'; '.join(why)}{before})"


def _pairs(pairs: list[str]) -> list[str]:
    """'adam vs rmsprop', 'adam vs sgd', 'rmsprop vs sgd' -> 'every pair of adam, rmsprop, sgd'."""
    plain = [p for p in pairs if " at " not in p and not p.startswith("trend")]
    values = list(dict.fromkeys(v for p in plain for v in p.split(" vs ")))
    every = len(values) > 2 and len(plain) == len(values) * (len(values) - 1) // 2
    out = [f"every pair of {', '.join(values)}"] if every else plain
    return out + [p for p in pairs if p not in plain]


def fingerprint_line(report: Report) -> str:
    """The protocol's hash, the runs and device, and what differs between the cells."""
    ids = list(report.protocols)
    if len(ids) == 1:
        proto = f"protocol {ids[0]} (every run)"
    else:
        differ = sorted(
            k for k in {k for p in report.protocols.values() for k in p} if len({str(p.get(k)) for p in report.protocols.values()}) > 1
        )
        proto = f"protocols {', '.join(ids)} (differ in {', '.join(differ)})"
    devices = sorted({str((r.record.get("env") or {}).get("device_name", "?")) for r in report.runs})
    axes, cells = [], _cells(report)
    for a in report.axes:
        col = f"axis:{a}"
        if col in cells:
            values = list(dict.fromkeys(str(v) if str(v) else "unset" for v in cells[col]))
            shown = ", ".join(values[:6]) + (f", ... ({len(values)} values)" if len(values) > 6 else "")
            axes.append(f"{a} ({shown})")
    differ = f" · the cells differ in {'; '.join(axes)}" if axes else " · one cell"
    return f"{proto} · {len(report.runs)} runs in {cells.shape[0]} cells on {', '.join(devices)}{differ} (--verbose: the whole protocol)"


def _cells(report: Report):
    """The cells that trained (not report --reference's row of held-out real data)."""
    return report.trained_cells()


def answer_lines(report: Report) -> list[str]:
    """Verdicts, the undecided line, the search's expected best, the fingerprint: in that order."""
    undecided = undecided_line(report)
    answer = verdict_lines(report) + ([undecided] if undecided else []) + search_lines(report)
    return answer + [fingerprint_line(report)] + budget_lines(report.runs)  # a budget is part of what was compared


def wrap(text: str, width: int, indent: str = "    ") -> list[str]:
    """`text` wrapped at word boundaries to `width`, never inside a p-value, an interval or n."""
    bound = _TOGETHER.sub(lambda m: m.group(0).replace(" ", NBSP), text)
    lead = re.match(r"\s*", text).group(0)
    lines = textwrap.wrap(bound.strip(), width=max(20, width), initial_indent=lead, subsequent_indent=lead + indent, break_on_hyphens=False)
    return [line.replace(NBSP, " ") for line in lines] or [""]
