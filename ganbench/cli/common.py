"""What the commands share: one-line errors and their exit status, the plugin registry
(as `ganbench --no-plugins` asks), and an interruption that ends in one line.

A leaf of the package: it imports no command module, so every one imports it.
"""

from __future__ import annotations

import sys
import threading

import click
from rich.console import Console

EXIT_BAD_INPUT = 2  # exit 1 (some run failed) is SuiteOutcome.exit_code's


def fail(message: str, code: int = EXIT_BAD_INPUT):
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _registry():
    from ..plugins import load_registry

    ctx = click.get_current_context()
    registry = load_registry(no_plugins=bool((ctx.find_root().obj or {}).get("no_plugins")))
    for plugin, reason in sorted(registry.broken.items()):
        click.echo(f"warning: plugin {plugin} is broken and was not loaded: {reason}", err=True)
    return registry


def _interruptible(command):
    """Ctrl-C (exit 130) and SIGTERM (exit 143) at any moment, start-up included, end with
    one line, never click's "Aborted!" and exit 1 (which means "some run failed")."""
    import functools
    import signal

    def terminated(signum, frame):
        raise KeyboardInterrupt("terminated")

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, terminated)
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt as e:
            code = 143 if str(e) == "terminated" or type(e).__name__ == "Terminated" else 130
            fail("terminated" if code == 143 else "interrupted", code)

    return wrapper


EXIT_CLOSED_STDOUT = 128 + 13  # killed by SIGPIPE, as `yes | head` reports it: the shell's convention


class Group(click.Group):
    """click's group, but a reader that closed our stdout (`ganbench report ... | head`)
    ends the command quietly with the conventional status, not click's exit 1 ("failed")."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            closed_stdout()


def closed_stdout():
    """Stop writing to a stdout nobody reads: point it at /dev/null (so the interpreter's
    final flush raises nothing) and exit with EXIT_CLOSED_STDOUT."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a test's captured stream)
        pass
    sys.exit(EXIT_CLOSED_STDOUT)


class StdoutConsole(Console):
    """rich's console for what a command prints on stdout; rich ends a program whose reader
    went away with exit 1, which here means "some run failed": closed_stdout instead."""

    def on_broken_pipe(self) -> None:
        closed_stdout()
