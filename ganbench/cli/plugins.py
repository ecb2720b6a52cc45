"""`ganbench plugins`: every plugin, what it registers, and the broken and skipped ones."""

from __future__ import annotations

import click
from rich.table import Table

from ..version import PLUGIN_API_VERSION
from .common import StdoutConsole, _registry


@click.command()
def plugins():
    """List every plugin (distribution and version), what it registers, and broken ones."""
    from ..plugins import KINDS

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
    StdoutConsole().print(table)


def _version_of(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"
