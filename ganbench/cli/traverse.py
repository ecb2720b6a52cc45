"""`ganbench traverse`: a PNG grid that walks two latent axes of a saved generator."""

from __future__ import annotations

import math
from pathlib import Path

import click

from .common import fail

TRAVERSE_STEPS = (2, 64)  # a 64x64 grid is 4,096 samples; more is an allocation, not a figure


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--axes", metavar="I,J", help="The two latent indices to walk (default: two random ones, from --seed).")
@click.option("--seed", default=0, show_default=True, help="Draws the fixed rest of the latent (and the random axes).")
@click.option("--span", default=2.5, show_default=True, help="Each axis walks from -SPAN to +SPAN (a finite number > 0).")
@click.option("--steps", default=10, show_default=True, help="Grid size: STEPS x STEPS samples (2 to 64).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="PNG to write (default: <run id>-traverse.png here).")
def traverse(run_dir, axes, seed, span, steps, output):
    """Walk a 2-D plane of the latent space of the generator saved in RUN_DIR."""
    if not TRAVERSE_STEPS[0] <= steps <= TRAVERSE_STEPS[1]:
        fail(f"--steps must be from {TRAVERSE_STEPS[0]} to {TRAVERSE_STEPS[1]}, got {steps}")
    if not (math.isfinite(span) and span > 0):
        fail(f"--span must be a finite number > 0, got {span}")
    if not -(2**63) <= seed < 2**64:  # what torch's generator accepts
        fail("--seed must fit in 64 bits")
    from ..report import ReportError  # torch and pandas: after the checks, which need neither
    from ..report.traverse import LoadedRun, parse_axes, traverse_png
    from ..store import write_atomic

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
