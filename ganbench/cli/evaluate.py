"""`ganbench eval` (score finished runs again from their saved G, or a folder of images,
without training) and `ganbench fetch-inception` (the weights its Inception metrics need).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import _registry, fail


@click.command(name="eval")
@click.argument("run_dirs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--images", type=click.Path(file_okay=False, path_type=Path), help="Score this folder of images instead of runs (needs --dataset)."
)
@click.option("--dataset", metavar="NAME", help="With --images: the dataset whose real split they are compared with.")
@click.option("--samples", type=click.IntRange(10, 1_000_000), help="Samples per run (default: the run's own eval.samples).")
@click.option(
    "--inception", type=click.Choice(["auto", "require", "off"]), help="Inception metrics: when the weights are here, required, or never."
)
@click.option(
    "--inception-weights", type=click.Path(dir_okay=False, path_type=Path), help="A local copy of torch-fidelity's Inception weights."
)
@click.option("--devices", "--device", "devices", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
def evaluate(run_dirs, images, dataset, samples, inception, inception_weights, devices):
    """Score finished runs again from their saved G, or a folder of images, without training.

    A run scored under its own protocol gets its final metrics back exactly; under another
    one (more samples, Inception weights) run.json takes the new numbers and keeps the old
    ones, with their protocol, under `earlier`. The report reads the new ones.
    """
    import json as _json

    if bool(images) == bool(run_dirs) or bool(images) != bool(dataset):
        fail("give RUN_DIR... or --images FOLDER --dataset NAME")
    if inception_weights is not None and not inception_weights.is_file():
        fail(f"--inception-weights {inception_weights}: no such file")
    weights = str(inception_weights) if inception_weights else None
    from ..build import Builder, resolve_devices  # torch: after the checks, which need none
    from ..rescore import RescoreError, rescore_run, score_images

    try:
        device = resolve_devices(devices)[0]
    except ValueError as e:
        fail(str(e))
    registry = _registry()
    builder = Builder(registry)
    if images:
        try:
            out = score_images(images, {"name": dataset}, builder, device, registry, inception, weights)
        except RescoreError as e:
            fail(str(e))
        except Exception as e:  # an unknown dataset, a plugin's own failure
            fail(f"--dataset {dataset}: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:300])
        click.echo(_json.dumps(out, indent=2, default=str))
        return
    failed = 0
    for run_dir in run_dirs:
        try:
            out = rescore_run(run_dir, builder, device, samples, inception, weights)
        except RescoreError as e:
            click.echo(f"error: {e}", err=True)
            failed += 1
            continue
        what = "changed" if out["changed"] else "unchanged (same protocol, same numbers)"
        shown = ", ".join(f"{k} {v:.4g}" for k, v in out["metrics"].items() if v is not None)
        click.echo(f"{run_dir}: {what}: {shown}", err=True)
        for name, why in out.get("failed", {}).items():  # the other metrics were scored and saved
            click.echo(f"error: {run_dir}: metric {name} failed: {why}", err=True)
            failed += 1
    sys.exit(1 if failed else 0)


@click.command(name="fetch-inception")
def fetch_inception():
    """Download torch-fidelity's Inception weights into torch's hub cache (needs the internet)."""
    from ..metrics.fidelity import fetch_inception_weights

    try:
        path = fetch_inception_weights()
    except OSError as e:
        fail(str(e))
    click.echo(f"Inception weights in {path}; Inception FID/IS/KID are now measured (eval.inception: auto)", err=True)
