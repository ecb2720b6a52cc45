"""The command line: `ganbench run`, `ganbench report`, `ganbench traverse`, `ganbench plugins`.

Exit status: 0 every run complete or diverged, 1 some run failed, 2 invalid input.
Invalid input is one line on stderr, never a traceback.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from . import PLUGIN_API_VERSION, __version__

EXIT_BAD_INPUT = 2  # exit 1 (some run failed) is SuiteOutcome.exit_code's
TRAVERSE_STEPS = (2, 64)  # a 64x64 grid is 4,096 samples; more is an allocation, not a figure


def fail(message: str, code: int = EXIT_BAD_INPUT):
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _registry():
    from .plugins import load_registry

    ctx = click.get_current_context()
    registry = load_registry(no_plugins=bool((ctx.find_root().obj or {}).get("no_plugins")))
    for plugin, reason in sorted(registry.broken.items()):
        click.echo(f"warning: plugin {plugin} is broken and was not loaded: {reason}", err=True)
    return registry


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganbench")
@click.option("--no-plugins", is_flag=True, help="Load the built-in plugins only (reproducible runs); GANBENCH_PLUGINS=dist1,dist2 allows just those distributions.")
@click.pass_context
def main(ctx, no_plugins):
    """ganbench: benchmark GAN training recipes as measurements, not anecdotes.

    A suite (YAML) is a matrix of runs over architectures, losses, datasets, optimizers,
    discriminator pretraining and learning-rate ratios, repeated over seeds. `run`
    trains and scores every run into a results folder; `report` compares them.
    """
    ctx.obj = {"no_plugins": no_plugins}


@main.command()
@click.argument("suite", type=click.Path(path_type=Path))  # load_suite refuses what is not a file, in one line
@click.option("--results", default="results", show_default=True, type=click.Path(file_okay=False, path_type=Path), help="Results root; runs go to RESULTS/<suite name>/<run id>/.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a base value, e.g. --set epochs=1 or --set optimizer.lr=1e-3 (repeatable; values are YAML).")
@click.option("--dry-run", is_flag=True, help="Print the expanded runs and exit without training.")
@click.option("--rerun", is_flag=True, help="Run again the runs that already finished.")
@click.option("--device", default="auto", show_default=True, help="auto (CUDA when present), cpu, cuda or cuda:N.")
def run(suite, results, overrides, dry_run, rerun, device):
    """Run every run of SUITE that has not finished yet.

    Finished runs (complete or diverged) are skipped, so an interrupted suite is
    finished by running the same command again; failed runs are retried.
    """
    from .runner import resolve_device, run_suite
    from .store import FINISHED, ResultsStore
    from .suite import SuiteError, load_suite

    registry = _registry()
    try:
        s = load_suite(suite, registry, overrides)
    except SuiteError as e:
        fail(str(e))
    try:
        dev = resolve_device(device)
    except ValueError as e:
        fail(str(e))
    console = Console(stderr=False)
    if dry_run:
        _replace_unencodable(sys.stdout)
        done_dir = results / s.name
        table = Table(title=f"{s.name}: {len(s.runs)} runs" + (f" — {s.description}" if s.description else ""))
        axes = sorted({k for r in s.runs for k in r.cell})
        for col in ["#", "run id", *axes, "seed", "length", "status"]:
            table.add_column(col)
        store_status = (lambda rid: ResultsStore(results, s.name).status(rid)) if done_dir.is_dir() else (lambda rid: None)
        for i, r in enumerate(s.runs, 1):
            length = f"{r.config['epochs']} epochs" if "epochs" in r.config else f"{r.config['steps']} steps"
            status = store_status(r.id) or "pending"
            if status in FINISHED and not rerun:
                status += " (skip)"
            table.add_row(str(i), r.id, *[_short(r.cell.get(a, "")) for a in axes], str(r.seed), length, status)
        console.print(table)
        return
    try:
        outcome = run_suite(s, registry, results, dev, rerun=rerun)
    except KeyboardInterrupt:
        fail("interrupted; run the same command again to finish the remaining runs", 130)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(outcome.counts.items())) or "nothing to run"
    skipped = f", {outcome.skipped} skipped" if outcome.skipped else ""
    click.echo(f"{s.name}: {counts}{skipped}. Results in {results / s.name}", err=True)
    sys.exit(outcome.exit_code)


def _replace_unencodable(stream) -> None:
    """Print what the terminal can show: on an ASCII-only stdout (LANG=C, a pipe) a
    suite's description in another script becomes '?' rather than a UnicodeEncodeError."""
    if hasattr(stream, "reconfigure"):
        stream.reconfigure(errors="replace")


def _short(value) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


@main.command()
def plugins():
    """List every plugin (distribution and version), what it registers, and broken ones."""
    from .plugins import KINDS

    registry = _registry()
    table = Table(title=f"ganbench plugins (plugin API {PLUGIN_API_VERSION})")
    for col in ("distribution", "version", "entry point", "provides"):
        table.add_column(col, overflow="fold")
    # the built-ins first, then third parties by distribution
    for plugin_id, (dist, version) in sorted(registry.plugins.items(), key=lambda kv: (kv[1][0] != "ganbench", kv[0])):
        provided = []
        for kind in KINDS:
            names = sorted(e.name for e in registry.entries[kind].values() if e.plugin == plugin_id)
            if names:
                provided.append(f"{kind}: {', '.join(names)}")
        table.add_row(dist, version, plugin_id.split(":", 1)[1], "; ".join(provided) or "nothing")
    for plugin_id, reason in sorted(registry.broken.items()):
        dist, _, ep = plugin_id.partition(":")
        table.add_row(f"[red]{dist}[/red]", _version_of(dist), ep, f"[red]broken: {reason}[/red]")
    for plugin_id, reason in sorted(registry.skipped.items()):
        dist, _, ep = plugin_id.partition(":")
        table.add_row(f"[dim]{dist}[/dim]", _version_of(dist), ep, f"[dim]not loaded: {reason}[/dim]")
    Console().print(table)


def _version_of(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


@main.command()
@click.argument("results", type=click.Path(path_type=Path), default="results")
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "html", "json"]), help="Write this format (to stdout without --output) instead of the terminal table.")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="A .md/.csv/.html/.json file, or a folder that gets every format (default: RESULTS/report/).")
@click.option("--per-run", is_flag=True, help="Also show one row per run (the terminal table, or CSV on stdout).")
@click.option("--at", "at", metavar="epoch=N|step=N", help="Compare values at this point of training instead of the final ones.")
@click.option("--compare", "compare_axes", multiple=True, metavar="AXIS", help="Pairwise tests along AXIS (repeatable); default: every two-valued axis.")
@click.option("--sort", metavar="METRIC[:lower|:higher]", help="Rank cells by METRIC (direction known for built-in metrics).")
@click.option("--metrics", metavar="A,B,...", help="The metrics the tables show (default: the main quality metrics and throughput).")
@click.option("--ci", type=click.Choice(["t", "bootstrap"]), default="t", show_default=True, help="95% CI over seeds: Student t or percentile bootstrap.")
@click.option("--test", type=click.Choice(["welch", "mwu"]), default="welch", show_default=True, help="Pairwise test: Welch t or Mann-Whitney U.")
@click.option("--direction", "directions", multiple=True, metavar="METRIC=lower|higher", help="Which way is better for a metric ganbench does not know.")
@click.option("--split-protocols", is_flag=True, help="Keep runs measured under different protocols apart instead of refusing.")
@click.option("--no-plots", is_flag=True, help="Tables only (faster).")
@click.option("--no-traverse", is_flag=True, help="Skip plots that rebuild generators (latent traversals, 2-D scatters).")
def report(results, fmt, output, per_run, at, compare_axes, sort, metrics, ci, test, directions, split_protocols, no_plots, no_traverse):
    """Compare the runs under RESULTS (one suite's folder or many).

    Prints the comparison table and writes Markdown, CSV, JSON and a self-contained
    HTML page with the plots into RESULTS/report/ (or where --output says). A results
    root holding several suites gets one table and one report folder per suite.

    Runs are grouped by cell (their config without the seed); each metric is shown as
    mean ± std over seeds with a 95% CI. See docs/report.md for the columns.
    """
    from .report import ReportError, build_report
    from .report.formats import runs_csv, terminal
    from .report.output import figures, render, write

    written, warnings = [], []
    try:
        given = {}
        for d in directions:
            name, _, how = d.partition("=")
            if how not in ("lower", "higher") or not name:
                raise ReportError(f"--direction {d}: expected METRIC=lower or METRIC=higher")
            given[name] = how
        options = dict(at=at, compare_axes=list(compare_axes) or None, sort=sort,
                       metrics=[m.strip() for m in metrics.split(",") if m.strip()] if metrics else None,
                       ci=ci, test=test, split_protocols=split_protocols, directions=given)
        if not output and not fmt:  # the plain command also leaves every format on disk
            output = Path(results) / "report"
        suites = _suite_folders(Path(results))
        if output and len(suites) > 1 and not Path(output).suffix:
            # A results root of several suites: one report per suite (each with its own
            # axes), into OUTPUT/<suite>/, rather than one table of every column.
            reports = []
            for folder in suites:
                rep = build_report(folder, **options)
                done, warned = write(rep, Path(output) / folder.name, fmt, plots=not no_plots, models=not no_traverse)
                reports.append(rep)
                written += done
                warnings += warned
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
    for rep in reports:
        terminal(rep, Console(), per_run=per_run)
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    for path in written:
        click.echo(f"wrote {path}", err=True)


def _suite_folders(root: Path) -> list[Path]:
    """The suite folders of a results root: those holding run folders (<suite>/<run>/run.json)."""
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".") and any(d.glob("*/run.json")))


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--axes", metavar="I,J", help="The two latent indices to walk (default: two random ones, from --seed).")
@click.option("--seed", default=0, show_default=True, help="Draws the fixed rest of the latent (and the random axes).")
@click.option("--span", default=2.5, show_default=True, help="Each axis walks from -SPAN to +SPAN (a finite number > 0).")
@click.option("--steps", default=10, show_default=True, help="Grid size: STEPS x STEPS samples (2 to 64).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="PNG to write (default: <run id>-traverse.png here).")
def traverse(run_dir, axes, seed, span, steps, output):
    """Walk a 2-D plane of the latent space of the generator saved in RUN_DIR."""
    from .report import ReportError
    from .report.traverse import LoadedRun, parse_axes, traverse_png
    from .store import write_atomic

    if not TRAVERSE_STEPS[0] <= steps <= TRAVERSE_STEPS[1]:
        fail(f"--steps must be from {TRAVERSE_STEPS[0]} to {TRAVERSE_STEPS[1]}, got {steps}")
    if not (math.isfinite(span) and span > 0):
        fail(f"--span must be a finite number > 0, got {span}")
    if not -(2**63) <= seed < 2**64:  # what torch's generator accepts
        fail("--seed must fit in 64 bits")
    try:
        run = LoadedRun(run_dir)
        png, (a, b) = traverse_png(run, parse_axes(axes), seed, span, steps)
        output = output or Path(f"{run.record.get('id', Path(run_dir).name)}-traverse.png")
        if not output.parent.is_dir():
            raise ReportError(f"--output {output}: folder {output.parent} does not exist")
        write_atomic(output, png)
    except ReportError as e:
        fail(str(e))
    click.echo(f"wrote {output} ({steps}x{steps}: z[{a}] down, z[{b}] across, ±{span:g}; seed {seed})", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
