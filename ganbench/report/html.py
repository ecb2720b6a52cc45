"""One self-contained HTML page: tables, pairwise comparisons and every plot inlined.

Images are data: URIs and the styles are inline, so the file opens from disk or an email
attachment with no server; a Content-Security-Policy forbids any network request.
"""

from __future__ import annotations

import base64
import html
import time

import numpy as np
import pandas as pd

from .aggregate_suites import html_lines as aggregate_html
from .answer import answer_lines, question
from .anytime import html_lines as time_to_threshold_html
from .contents import Report
from .detail_lines import comparison_lines, fingerprint_lines, footnotes, trained_lines, trend_lines
from .number_format import num
from .table_text import display_table

# Nothing may be fetched: images are inline data, styles inline, no scripts at all.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
# The page never scrolls sideways (at 1,000 px and narrower): wide tables scroll inside their
# own box, images shrink to the column, and long unbroken words (run ids, config values) wrap.
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222;overflow-wrap:anywhere}
.scroll{overflow-x:auto;max-width:100%;margin:1em 0}
table{border-collapse:collapse;font-size:14px;overflow-wrap:normal}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right;vertical-align:top;white-space:pre-line}
th{background:#f2f2f2}
td.axis,th.axis{text-align:left}
td.axis{font-weight:600}
.fingerprint{background:#f7f7f7;border-left:4px solid #888;padding:.5em 1em;font-family:monospace;font-size:13px}
.note{font-size:13px;color:#555}
figure{margin:1.5em 0}
figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:13px;color:#555}
.better{font-weight:600;color:#1a7f37}
.question{font-size:18px;font-weight:600;margin:1em 0}
ul.answer{font-size:15px;line-height:1.5}
"""


def esc(x) -> str:
    return html.escape("" if x is None else str(x))


def page(report: Report, figures: dict[str, bytes], warnings: list[str] = ()) -> str:
    header, rows = display_table(report, sep="\n")  # the CI on its own line (pre-line below)
    axes = set(report.axes) | {"suite"}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>ganbench report: {esc(report.root)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>ganbench report: {esc(report.root)}</h1>",
        f'<p class="note">generated {esc(time.strftime("%Y-%m-%d %H:%M:%S %Z"))}</p>',
        *([f'<p class="question">{esc(question(report))}</p>'] if question(report) else []),  # what the suite asks
        '<div class="scroll"><table id="cells"><thead><tr>'
        + "".join(f'<th class="axis">{esc(h)}</th>' if h in axes else f"<th>{esc(h)}</th>" for h in header)
        + "</tr></thead><tbody>",
    ]
    for row in rows:
        parts.append(
            "<tr>"
            + "".join(f'<td class="axis">{esc(v)}</td>' if h in axes else f"<td>{esc(v)}</td>" for h, v in zip(header, row))
            + "</tr>"
        )
    parts.append("</tbody></table></div>")
    # the answer under the table: verdicts, what gets none, the search's expected best (with its
    # figure), the protocol's fingerprint; then everything it rests on
    parts.append('<ul class="answer">' + "".join(f"<li>{esc(line)}</li>" for line in answer_lines(report)) + "</ul>")
    searched = {c: png for c, png in figures.items() if c.startswith("search:")}
    parts += [_figure(c, png) for c, png in searched.items()]
    parts += [f'<p class="note">{esc(n)}</p>' for n in footnotes(report)]
    parts += [
        "<h2>What was trained, and how it was measured</h2>",
        '<ul class="trained">' + "".join(f"<li>{esc(line)}</li>" for line in trained_lines(report)) + "</ul>",
        '<div class="fingerprint">' + "<br>".join(esc(line) for line in fingerprint_lines(report)) + "</div>",
    ]
    parts += _comparisons(report)
    parts += _trends(report)
    parts += time_to_threshold_html(report, esc)  # time to threshold, with its own comparison
    parts += aggregate_html(report.aggregate, esc) if report.aggregate is not None else []  # across data sets
    figures = {c: png for c, png in figures.items() if c not in searched}
    if figures:
        parts.append("<h2>Plots</h2>")
        for caption, png in figures.items():
            data = base64.b64encode(png).decode()
            parts.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{esc(caption)}"><figcaption>{esc(caption)}</figcaption></figure>'
            )
    if warnings:
        parts.append("<h2>Warnings</h2><ul>" + "".join(f"<li>{esc(w)}</li>" for w in warnings) + "</ul>")
    parts += _runs(report)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _figure(caption: str, png: bytes) -> str:
    data = base64.b64encode(png).decode()
    return f'<figure><img src="data:image/png;base64,{data}" alt="{esc(caption)}"><figcaption>{esc(caption)}</figcaption></figure>'


def _comparisons(report: Report) -> list[str]:
    c = report.comparisons
    if c.empty:
        return []
    lines = comparison_lines(report)
    out = [
        "<h2>Pairwise comparisons</h2>",
        f'<p class="note">{esc(lines[0])}</p>',
        '<div class="scroll"><table id="comparisons"><thead><tr>',
    ]
    cols = ["a", "b", "context", "metric", "mean_a", "mean_b", "diff", "95% CI", "test", "p", "Holm p", "n (values/runs)", "better", "note"]
    out.append("".join(f"<th>{esc(h)}</th>" for h in cols) + "</tr></thead><tbody>")
    for _, r in c.iterrows():
        ci = f"[{num(r['ci_low'])}, {num(r['ci_high'])}]" if np.isfinite(r["ci_low"]) else ""
        cells = [
            r["a"],
            r["b"],
            r["context"],
            r["column"] if r["column"] != "status" else r["metric"],
            num(r["mean_a"]),
            num(r["mean_b"]),
            num(r["diff"]),
            ci,
            r["test"],
            num(r["p"]),
            num(r["p_adj"]),
            f"{r['n_a']}/{r['runs_a']} vs {r['n_b']}/{r['runs_b']}",
        ]
        out.append(
            "<tr>" + "".join(f"<td>{esc(v)}</td>" for v in cells) + f'<td class="better">{esc(r["better"])}</td>'
            f'<td class="note">{esc(r["note"])}</td></tr>'
        )
    out.append("</tbody></table></div>")
    return out


def _trends(report: Report) -> list[str]:
    t = report.trends
    if t.empty:
        return []
    out = ["<h2>Trends</h2>", f'<p class="note">{esc(trend_lines(report)[0])}</p>', '<div class="scroll"><table id="trends"><thead><tr>']
    cols = ["axis", "context", "metric", "ρ", "test", "p", "Holm p", "n", "values", "better", "note"]
    out.append("".join(f"<th>{esc(h)}</th>" for h in cols) + "</tr></thead><tbody>")
    for _, r in t.iterrows():
        cells = [r["axis"], r["context"], r["column"], num(r["rho"]), r["test"], num(r["p"]), num(r["p_adj"]), r["n"], r["levels"]]
        out.append(
            "<tr>" + "".join(f"<td>{esc(v)}</td>" for v in cells) + f'<td class="better">{esc(r["better"])}</td>'
            f'<td class="note">{esc(r["note"])}</td></tr>'
        )
    out.append("</tbody></table></div>")
    return out


def _runs(report: Report) -> list[str]:
    f = report.frame
    cols = ["id", "suite", "status", "seed", "label"] + [report.shown[m] for m in report.metrics]
    cols += [c for c in ("diverged_at_step", "error") if f[c].notna().any()]
    out = [
        "<details><summary>Runs (" + str(len(f)) + ")</summary>",
        '<div class="scroll"><table id="runs"><thead><tr>',
        "".join(f"<th>{esc(c)}</th>" for c in cols) + "</tr></thead><tbody>",
    ]
    for _, r in f.iterrows():
        vals = [num(r[c]) if isinstance(r[c], float) and c != "seed" else ("" if pd.isna(r[c]) else r[c]) for c in cols]
        out.append("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in vals) + "</tr>")
    out.append("</tbody></table></div></details>")
    return out


def index_page(title: str, entries: list[dict]) -> str:
    """A page linking each suite's report: `entries` hold suite, link (relative), runs, cells,
    complete, diverged, failed, metrics and, when known, description."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>ganbench reports: {esc(title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>ganbench reports: {esc(title)}</h1>",
        f'<p class="note">generated {esc(time.strftime("%Y-%m-%d %H:%M:%S %Z"))}; one report per suite</p>',
        '<div class="scroll"><table id="suites"><thead><tr><th class="axis">suite</th><th class="axis">about</th><th>runs</th><th>cells</th>'
        '<th>complete</th><th>diverged</th><th>failed</th><th class="axis">metrics</th></tr></thead><tbody>',
    ]
    for e in entries:
        parts.append(
            f'<tr><td class="axis"><a href="{esc(e["link"])}">{esc(e["suite"])}</a></td>'
            f'<td class="axis">{esc(e.get("description") or e["suite"])}</td>'
            + "".join(f"<td>{esc(e[k])}</td>" for k in ("runs", "cells", "complete", "diverged", "failed"))
            + f'<td class="axis">{esc(", ".join(e["metrics"]))}</td></tr>'
        )
    parts.append("</tbody></table></div></body></html>")
    return "\n".join(parts) + "\n"
