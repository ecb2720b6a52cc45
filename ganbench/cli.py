"""The command line: `ganbench run`, `ganbench report`, `ganbench plugins`.

Exit status: 0 every run complete or diverged, 1 some run failed, 2 invalid input.
Invalid input is one line on stderr, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from . import PLUGIN_API_VERSION, __version__

EXIT_FAILED_RUNS, EXIT_BAD_INPUT = 1, 2


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
@click.argument("suite", type=click.Path(dir_okay=False, path_type=Path))
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
def report(results):
    """Compare the runs under RESULTS (one suite's folder or many)."""
    from .report import ReportError, summarize

    try:
        table = summarize(results)
    except ReportError as e:
        fail(str(e))
    Console().print(table)


if __name__ == "__main__":  # pragma: no cover
    main()
