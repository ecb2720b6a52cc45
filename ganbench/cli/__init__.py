"""The command line: `ganbench run`, `ganbench report`, `ganbench traverse`, `ganbench plugins`.

Exit status: 0 every run this command trained is complete or diverged (the final line
counts the runs left to another ganbench holding them), 1 some run failed, 2 invalid input,
141 the reader of stdout went away (`ganbench report ... | head`: quiet, as SIGPIPE ends a program).
Invalid input is one line on stderr, never a traceback.

The `main` group is defined here and each command lives in its group's module (run.py,
with dry_run.py for its table; report.py; status.py; evaluate.py: eval and
fetch-inception; plugins.py; traverse.py), attached below. What they share (fail, the
registry, interruption) is common.py's, which imports none of them.
"""

from __future__ import annotations

import click

from ..version import __version__
from . import evaluate, plugins, report, run, status, traverse
from .common import EXIT_BAD_INPUT, Group, fail

__all__ = ["EXIT_BAD_INPUT", "fail", "main"]


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganbench")
@click.option(
    "--no-plugins",
    is_flag=True,
    help="Load the built-in plugins only (reproducible runs); GANBENCH_PLUGINS=dist1,dist2 allows just those distributions.",
)
@click.pass_context
def main(ctx, no_plugins):
    """ganbench: benchmark GAN training recipes as measurements, not anecdotes.

    A suite (YAML) is a matrix of runs over architectures, losses, datasets, optimizers,
    discriminator pretraining and learning-rate ratios, repeated over seeds. `run`
    trains and scores every run into a results folder; `report` compares them.
    """
    ctx.obj = {"no_plugins": no_plugins}


main.add_command(run.run)
main.add_command(report.report)
main.add_command(status.status)
main.add_command(evaluate.evaluate)
main.add_command(evaluate.fetch_inception)
main.add_command(plugins.plugins)
main.add_command(traverse.traverse)
