"""Rewrite a committed report's tables and statistics, keeping its figures.

    python docs/results/refresh_report.py docs/results/<suite> results/<suite> [report options]
    python docs/results/refresh_report.py docs/results/pretraining results/pretraining --at epoch=10 --md report_epoch10.md

The committed run folders hold no weights, so `ganbench report` on a fresh clone cannot
redraw the figures that rebuild generators (latent traversals, 2-D scatters). This script
builds the report with today's statistics from the committed runs (the options are those of
`ganbench report`: --at, --compare, --metrics, --sort, --ci, --test, --direction; those not
given are taken from the folder's report.json) and writes report.md,
report.html, report.json and the CSV files into the folder, with the figures already there
(listed by its report.md, in that order). The figures do not depend on the statistics: the
curves are means and ±1 std bands of complete runs' histories, the rest are samples.
With --md NAME only that Markdown file is written (its figures: none). With --redraw the
figures that need no weights (curves, metric-vs-axis plots, sample grids from the runs'
grids/) are drawn again with today's plotting code and only the ones that need the
generators (latent traversals, 2-D scatters) are kept; the folder's figure files are
rewritten to match.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from ganbench.report import build_report
from ganbench.report.formats import cells_csv, markdown, runs_csv, to_json
from ganbench.report.html import page
from ganbench.report.output import _slug
from ganbench.report.plots import all_figures
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
    ap.add_argument("--ci")
    ap.add_argument("--test")
    ap.add_argument("--direction", action="append", default=[], metavar="METRIC=lower|higher")
    ap.add_argument("--md", help="write only this Markdown file, without figures")
    ap.add_argument("--redraw", action="store_true", help="draw the weight-free figures again; keep only the model figures")
    args = ap.parse_args(argv)
    previous(args)
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
    if args.redraw:
        figures, images = redraw(args.folder, report, figures)
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


def previous(args) -> None:
    """Options not given are those the folder's committed report.json was made with."""
    path = args.folder / "report.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    sort = old.get("sort") or {}
    args.at = args.at or old.get("at")
    args.compare = args.compare or sorted({c["axis"] for c in old.get("comparisons", [])}) or None
    args.metrics = args.metrics or (",".join(old["metrics"]) if old.get("metrics") else None)
    args.sort = args.sort or (f"{sort['column']}:{sort['better']}" if sort else None)
    args.ci = args.ci or old.get("ci", {}).get("method", "t")
    args.test = args.test or old.get("test", "welch")


def redraw(folder: Path, report, kept: dict[str, bytes]) -> tuple[dict[str, bytes], dict[str, str]]:
    """Today's weight-free figures plus the kept model figures; the figure folder rewritten."""
    figures, _ = all_figures(report, models=False)
    figures.update({c: png for c, png in kept.items() if c.startswith(MODEL_FIGURES)})
    img_dir = folder / "report_files"
    for old in img_dir.glob("*.png"):
        old.unlink()
    images = {}
    for i, (caption, png) in enumerate(figures.items(), 1):
        name = f"{i:02d}-{_slug(caption)}.png"
        write_atomic(img_dir / name, png)
        images[caption] = f"{img_dir.name}/{name}"
    return figures, images


# Captions of the figures only the generators' weights can draw (report.sample_plots.model_figures).
MODEL_FIGURES = ("latent traversal", "generated points")


if __name__ == "__main__":
    main(sys.argv[1:])
