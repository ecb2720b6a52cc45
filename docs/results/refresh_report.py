"""Rewrite a committed report's tables and statistics, keeping its figures.

    python docs/results/refresh_report.py docs/results/<suite> results/<suite> [report options]
    python docs/results/refresh_report.py docs/results/pretraining results/pretraining --at epoch=10 --md report_epoch10.md

The committed run folders hold no weights, so `ganbench report` on a fresh clone cannot
redraw the figures that rebuild generators (latent traversals, 2-D scatters). This script
builds the report with today's statistics from the committed runs (the options are those of
`ganbench report`: --at, --compare, --metrics, --sort, --ci, --test, --direction) and writes report.md,
report.html, report.json and the CSV files into the folder, with the figures already there
(listed by its report.md, in that order). The figures do not depend on the statistics: the
curves are means and ±1 std bands of complete runs' histories, the rest are samples.
With --md NAME only that Markdown file is written (its figures: none).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ganbench.report import build_report
from ganbench.report.formats import cells_csv, markdown, runs_csv, to_json
from ganbench.report.html import page
from ganbench.store import write_atomic

IMAGE = re.compile(r"^!\[(?P<caption>[^\]]*)\]\((?P<path>[^)]+\.png)\)$")


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="the committed report folder, docs/results/<suite>")
    ap.add_argument("results", type=Path, help="the suite's run folders, results/<suite>")
    ap.add_argument("--at")
    ap.add_argument("--compare", action="append")
    ap.add_argument("--metrics")
    ap.add_argument("--sort")
    ap.add_argument("--ci", default="t")
    ap.add_argument("--test", default="welch")
    ap.add_argument("--direction", action="append", default=[], metavar="METRIC=lower|higher")
    ap.add_argument("--md", help="write only this Markdown file, without figures")
    args = ap.parse_args(argv)
    directions = dict(d.split("=", 1) for d in args.direction)
    report = build_report(
        args.results,
        at=args.at,
        compare_axes=args.compare,
        sort=args.sort,
        ci=args.ci,
        test=args.test,
        metrics=args.metrics.split(",") if args.metrics else None,
        directions=directions,
    )
    if args.md:
        write_atomic(args.folder / args.md, markdown(report))
        return
    images = {}
    for line in (args.folder / "report.md").read_text().splitlines():
        m = IMAGE.match(line.strip())
        if m:
            images[m["caption"]] = m["path"]
    figures = {caption: (args.folder / path).read_bytes() for caption, path in images.items()}
    write_atomic(args.folder / "report.md", markdown(report, images))
    write_atomic(args.folder / "report.html", page(report, figures))
    write_atomic(args.folder / "report.json", to_json(report))
    write_atomic(args.folder / "cells.csv", cells_csv(report))
    write_atomic(args.folder / "runs.csv", runs_csv(report))
    for name, frame in (("comparisons.csv", report.comparisons), ("trends.csv", report.trends)):
        if not frame.empty:
            write_atomic(args.folder / name, frame.to_csv(index=False))
        elif (args.folder / name).exists():
            (args.folder / name).unlink()
    print(
        f"{args.folder}: {len(report.cells)} cells, {len(report.comparisons)} comparisons, {len(report.trends)} trends, "
        f"{len(figures)} figures kept"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
