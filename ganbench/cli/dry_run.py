"""`ganbench run --dry-run`'s table: the expanded runs, the value each trains with on every
axis the matrix varies, and whether it would train or be skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.table import Table

from .common import StdoutConsole


def _print_dry_run(s, results: Path, redo) -> None:
    """The expanded runs as a table: for each axis the matrix varies, the value each run
    trains with (its resolved config's: loss defaults and --set included)."""
    from ..store import FINISHED, ResultsStore

    _replace_unencodable(sys.stdout)
    done_dir = results / s.name
    profile = f", profile {s.profile}" if s.profile else ""
    table = Table(title=f"{s.name}: {len(s.runs)} runs{profile}" + (f" — {s.description}" if s.description else ""))
    axes = sorted({k for r in s.runs for k in r.cell})
    searched = list(dict.fromkeys(k for r in s.runs if r.search for k in r.search["values"]))  # a `search:`'s sampled keys
    for col in ["#", "run id", *axes, *(["cfg", *searched] if searched else []), "seed", "length", "status"]:
        table.add_column(col)
    store_status = (lambda rid: ResultsStore(results, s.name).status(rid)) if done_dir.is_dir() else (lambda rid: None)
    for i, r in enumerate(s.runs, 1):
        length = f"{r.config['epochs']} epochs" if "epochs" in r.config else f"{r.config['steps']} steps"
        status = store_status(r.id) or "pending"
        if status in FINISHED and not redo(r):
            status += " (skip)"
        drawn = [str(r.search["index"]), *[_drawn(r.search["values"].get(k)) for k in searched]] if r.search else [""] * (len(searched) + 1)
        table.add_row(
            str(i), r.id, *[_short(_resolved(r.config, a)) for a in axes], *(drawn if searched else []), str(r.seed), length, status
        )
    StdoutConsole(stderr=False).print(table)


_MISSING = object()


def _resolved(config: dict, axis: str):
    """The resolved config's value at a (dotted) matrix axis; blank where it has none."""
    node = config
    for part in str(axis).split("."):
        node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
        if node is _MISSING:
            return ""
    return node


def _replace_unencodable(stream) -> None:
    """Print what the terminal can show: on an ASCII-only stdout (LANG=C, a pipe) a
    suite's description in another script becomes '?' rather than a UnicodeEncodeError."""
    if hasattr(stream, "reconfigure"):
        stream.reconfigure(errors="replace")


def _drawn(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else _short(value)


def _short(value) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    return str(value)
