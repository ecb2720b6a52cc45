"""The command line: `ganbench run`, `ganbench report`, `ganbench traverse`, `ganbench plugins`.

Exit status: 0 every run this command trained is complete or diverged (the final line
counts the runs left to another ganbench holding them), 1 some run failed, 2 invalid input.
Invalid input is one line on stderr, never a traceback.
"""

from __future__ import annotations

import math
import re
import sys
import threading
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from . import PLUGIN_API_VERSION, __version__

EXIT_BAD_INPUT = 2  # exit 1 (some run failed) is SuiteOutcome.exit_code's
TRAVERSE_STEPS = (2, 64)  # a 64x64 grid is 4,096 samples; more is an allocation, not a figure
PIPED_WIDTH = 100  # `ganbench report` table width when stdout is not a terminal (--width sets it)


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


class _RunCommand(click.Command):
    """`ganbench run`, which also takes an executor plugin's own options as `--<executor>-<key>
    VALUE` (or `--<executor>-<key>=VALUE`): `--executor slurm --slurm-partition gpu`. They are
    set aside before click parses the rest (anywhere on the line, so VALUE is never taken for
    SUITE) and checked by executor_extras once the executor is known."""

    def parse_args(self, ctx, args):
        known = {o for p in self.params for o in [*p.opts, *p.secondary_opts]}
        rest, extras, i = [], [], 0
        while i < len(args):
            arg = args[i]
            name, eq, value = arg.partition("=")
            if arg == "--":
                rest += args[i:]
                break
            if name.startswith("--") and name not in known and "-" in name[2:].strip("-"):
                if eq:
                    extras.append((name, value))
                    i += 1
                else:
                    extras.append((name, args[i + 1] if i + 1 < len(args) else None))
                    i += 2
                continue
            rest.append(arg)
            i += 1
        ctx.meta["executor_extras"] = extras
        return super().parse_args(ctx, rest)


def executor_extras(executor: str | None, given: list[tuple[str, str | None]], registry) -> dict:
    """`--<executor>-<key> VALUE` pairs as ExecutorOptions.extra ({key: YAML value}); one-line
    errors for an option of no executor, of another executor, or of a built-in one."""
    import yaml

    from . import yamlsafe

    out: dict = {}
    for name, value in given:
        prefix = f"--{executor}-" if executor else None
        if prefix is None or not name.startswith(prefix) or len(name) == len(prefix):
            hint = f" (executor options are --{executor}-KEY)" if executor else " (executor options need --executor NAME)"
            fail(f"no such option: {name}{hint}")
        entry = registry.entries["executor"].get(executor)
        if entry is not None and entry.dist == "ganbench":
            fail(f"{name}: the built-in executor {executor} takes no options of its own")
        if value is None:
            fail(f"{name} needs a value")
        try:
            parsed = yamlsafe.load(value)
        except yaml.YAMLError:
            fail(f"{name}: cannot read value {value!r}")
        if ":" in value and isinstance(parsed, (int, float)):  # YAML 1.1 reads 4:00:00 as 14400 (base 60)
            parsed = value
        out[name[len(prefix) :].replace("-", "_")] = parsed
    return out


@main.command(cls=_RunCommand)
@click.argument("suite", type=click.Path(path_type=Path))  # load_suite refuses what is not a file, in one line
@click.option(
    "--results",
    default="results",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Results root; runs go to RESULTS/<suite name>/<run id>/.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override KEY in every run, over base and matrix values alike (the last layer; a matrix axis it sets becomes that one value, and cells that become one config train once), e.g. --set epochs=1 or --set optimizer.lr=1e-3; --set seeds=N or seeds=[0,3] replaces the suite's seeds (repeatable; values are YAML).",
)
@click.option(
    "--profile",
    default="auto",
    show_default=True,
    metavar="NAME|auto|none",
    help="Apply one of the suite's profiles over its base (before --set): auto takes `cpu` when the runs train on the CPU and the suite has one; none runs the suite as written (the shipped suites: the articles' scale).",
)
@click.option("--dry-run", is_flag=True, help="Print the expanded runs and exit without training.")
@click.option(
    "--rerun",
    is_flag=False,
    flag_value="*",
    default=None,
    metavar="[RUN_ID]",
    help="Run again the runs that already finished: all of them, or with a value only those it names (a run id, an id prefix such as a cell's 'lr_ratio2_', or a glob such as '*_s1-*'; comma-separated).",
)
@click.option(
    "--devices",
    "--device",
    "devices",
    default="auto",
    show_default=True,
    metavar="LIST",
    help="Where runs train: auto (every visible GPU, else the CPU), cpu, cuda, or a list like cuda:0,cuda:1 (runs are placed round-robin).",
)
@click.option(
    "--jobs",
    "-j",
    default=1,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Runs at once per device, each in its own worker process (1: one after another in this process).",
)
@click.option(
    "--executor",
    default=None,
    metavar="NAME",
    help="local, process or ray, or an executor plugin's name (default: local for --jobs 1, else process); a plugin's own options are --NAME-KEY VALUE, e.g. --slurm-partition gpu.",
)
@click.option(
    "--address", default=None, metavar="auto|HOST:PORT", help="--executor ray: the Ray cluster to join (default: start a local Ray)."
)
@click.option(
    "--executor-option",
    "executor_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option of the executor, e.g. --executor-option partition=gpu for a SLURM executor plugin (repeatable; values are YAML; each executor declares its own).",
)
@click.option(
    "--logger",
    "loggers",
    multiple=True,
    metavar="NAME",
    help="Also log to this logger plugin, e.g. tensorboard (repeatable; a suite's `loggers:` adds more).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1, None),
    default=None,
    metavar="SECONDS",
    help="Fail a run that takes longer, stopping its worker (recorded in run.json env; implies the process executor).",
)
@click.option(
    "--threads",
    default=None,
    type=click.IntRange(1, 1024),
    help="Torch threads per run (default: OMP_NUM_THREADS, else cores // runs at once); recorded in run.json.",
)
@_interruptible
def run(suite, results, overrides, profile, dry_run, rerun, devices, jobs, executor, address, executor_options, threads, loggers, timeout):
    """Run every run of SUITE that has not finished yet.

    Finished runs (complete or diverged) are skipped, so an interrupted suite is
    finished by running the same command again; failed runs are retried. Runs are
    claimed before they train: several `ganbench run` on one results folder (on one
    machine or many sharing it) split the runs, and each run is trained once.
    """
    from . import api  # the command is a thin layer over the Python API
    from .config import ConfigError
    from .suite import SuiteError, parse_override

    registry = _registry()
    extras = executor_extras(executor, click.get_current_context().meta.get("executor_extras", []), registry)
    # --profile auto needs to know whether the runs train on the CPU. Asked without torch
    # first (the --devices given, else the driver's files), so that a refused suite and
    # --dry-run stay torch-free; a real run then asks torch and reloads if the guess was wrong.
    guess = _devices_on_cpu(devices)
    try:
        given_options = dict(parse_override(o) for o in executor_options)
    except ConfigError as e:
        fail(str(e).replace("--set", "--executor-option", 1))
    try:
        s = api.load_suite(suite, overrides, registry, profile=profile, on_cpu=guess)
    except SuiteError as e:
        fail(str(e))
    from .suite import rerun_filter

    try:
        redo = rerun_filter(rerun, s.runs)
    except ValueError as e:
        fail(f"{suite}: {e}")
    if dry_run:  # nothing trains: no torch (a second, not seconds), and no device is used
        name = executor or ("local" if jobs == 1 and not timeout else "process")
        problem = _device_spelling(devices) or _unknown_plugin(registry, name, [*s.loggers, *loggers], {**extras, **given_options})
        if problem:
            fail(problem)
        _say_profile(s)
        _say_notes(s)
        _print_dry_run(s, results, redo)
        return
    from .build import resolve_devices
    from .executors import ExecutorError
    from .runner import SuiteInvalid, Terminated

    try:
        dev = resolve_devices(devices)
    except ValueError as e:
        fail(str(e))
    on_cpu = all(d.type == "cpu" for d in dev)
    if s.auto_on_cpu is not None and s.auto_on_cpu != on_cpu:
        try:
            s = api.load_suite(suite, overrides, registry, profile=profile, on_cpu=on_cpu)
        except SuiteError as e:
            fail(str(e))
    _say_profile(s)
    _say_notes(s)
    try:
        outcome = api.run_suite(
            s,
            results,
            devices=dev,
            rerun=rerun,
            jobs=jobs,
            executor=executor,
            threads=threads,
            address=address,
            loggers=loggers,
            timeout=timeout,
            executor_options={**extras, **given_options},  # --NAME-KEY VALUE and --executor-option KEY=VALUE alike
            registry=registry,
        )
    except (SuiteInvalid, ExecutorError) as e:
        fail(f"{suite}: {e}" if isinstance(e, SuiteInvalid) else str(e))
    except KeyboardInterrupt as e:
        how = "terminated" if isinstance(e, Terminated) else "interrupted"
        fail(
            f"{how}: unfinished runs left no run folder; run the same command again to finish them (from their checkpoints when they have one)",
            143 if isinstance(e, Terminated) else 130,
        )
    counts = ", ".join(f"{n} {status}" for status, n in sorted(outcome.counts.items()))
    counts = counts or ("nothing trained here" if outcome.elsewhere else "nothing to run")
    skipped = f", {outcome.skipped} skipped" if outcome.skipped else ""
    elsewhere = (
        f", {outcome.elsewhere} not finished yet: left to another ganbench that holds "
        f"{'its claim' if outcome.elsewhere == 1 else 'their claims'} (`ganbench status {results}` shows it)"
        if outcome.elsewhere
        else ""
    )
    click.echo(f"{s.name}: {counts}{skipped}{elsewhere}. Results in {results / s.name}", err=True)
    sys.exit(outcome.exit_code)


def _devices_on_cpu(spec: str) -> bool | None:
    """Whether `--devices` means the CPU, without torch; None (guess from the driver) for auto."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if parts and all(p.startswith("cpu") for p in parts):
        return True
    if any(p.startswith("cuda") for p in parts):
        return False
    return None


def _say_profile(s) -> None:
    """One line on stderr: which of the suite's profiles the runs use, and why."""
    if s.profile is None:  # the suite declares none: nothing to choose
        return
    what = "none, the suite as written" if s.profile == "none" else s.profile
    click.echo(f"{s.name}: profile {what} ({s.profile_why}; the suite's profiles: {', '.join(s.profiles)})", err=True)


def _say_notes(s) -> None:
    """The suite's expansion notes (a --set over a matrix axis, cells that are one config), one line each."""
    for note in s.notes:
        click.echo(f"{s.name}: note: {note}", err=True)


def _unknown_plugin(registry, executor: str, loggers: list[str], executor_options: dict) -> str | None:
    """What `run` refuses of the executor and loggers without starting them, for --dry-run:
    a name no plugin registers, an executor option it does not declare."""
    from .executors import ExecutorError, resolve_executor_options
    from .plugins import PluginError

    for kind, names, option in (("executor", [executor], "--executor"), ("logger", loggers, "--logger")):
        for name in names:
            try:
                registry.get(kind, name)
            except PluginError as e:
                return f"{option}: {e}"
    try:
        resolve_executor_options(executor, registry.get("executor", executor).factory, executor_options)
    except ExecutorError as e:
        return str(e)
    return None


def _device_spelling(spec: str) -> str | None:
    """What `--devices` gets wrong without asking torch (for --dry-run, which uses none):
    the names resolve_devices knows, not whether this machine has them."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        return f"--devices: no device in {spec!r}"
    for part in parts:
        if not re.fullmatch(r"auto|cpu(:[0-9]+)?|cuda(:[0-9]+)?", part):
            return f"--devices: unknown device {part!r}; use auto, cpu, cuda or cuda:N"
    if any(p.startswith("cpu") for p in parts) and any(p.startswith("cuda") for p in parts):
        return f"--devices {spec}: mixing the CPU and GPUs in one suite would mix cost measurements; choose one"
    return None


def _print_dry_run(s, results: Path, redo) -> None:
    """The expanded runs as a table: for each axis the matrix varies, the value each run
    trains with (its resolved config's: loss defaults and --set included)."""
    from .store import FINISHED, ResultsStore

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
    Console(stderr=False).print(table)


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


@main.command()
@click.argument("results", type=click.Path(path_type=Path), default="results")
@click.option("--all", "show_all", is_flag=True, help="Also list finished runs (default: runs in progress and failed ones, and counts).")
def status(results, show_all):
    """Runs in progress and finished under RESULTS, with their last step, losses and metric.

    Works while the runs train, from any machine that sees the folder: each run in progress
    streams its history; "last write" shows a stuck run.
    """
    from .status import ago, collect

    if not results.is_dir():
        fail(f"{results}: no such results folder")
    rows = collect(results)
    table = Table(
        title=f"{results}: " + ", ".join(f"{n} {s}" for s, n in sorted(_count(r.state for r in rows).items())) or f"{results}: no runs"
    )
    for col in ("suite", "run", "state", "step", "D loss", "G loss", "metric", "last write", "note"):
        table.add_column(col, no_wrap=col != "note")
    hidden = 0
    for r in rows:
        if not show_all and r.state in ("complete", "diverged"):
            hidden += 1
            continue
        loss = lambda v: f"{v:.3f}" if v is not None else ""
        table.add_row(
            r.suite,
            r.run_id,
            r.state,
            "" if r.step is None else str(r.step),
            loss(r.d_loss),
            loss(r.g_loss),
            r.headline,
            ago(r.last_write_s),
            r.note[:80],
        )
    if hidden:
        table.caption = f"{hidden} finished runs not listed (--all lists them)"
    console = Console()
    if not console.is_terminal:  # a log or a pipe: whole lines rather than 80 columns of wrapping
        console = Console(width=200)
    console.print(table)


def _count(values):
    from collections import Counter

    return Counter(values)


@main.command(name="eval")
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
    from .build import Builder, resolve_devices  # torch: after the checks, which need none
    from .rescore import RescoreError, rescore_run, score_images

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


@main.command(name="fetch-inception")
def fetch_inception():
    """Download torch-fidelity's Inception weights into torch's hub cache (needs the internet)."""
    from .metrics.fidelity import fetch_inception_weights

    try:
        path = fetch_inception_weights()
    except OSError as e:
        fail(str(e))
    click.echo(f"Inception weights in {path}; Inception FID/IS/KID are now measured (eval.inception: auto)", err=True)


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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "csv", "html", "json", "latex"]),
    help="Write this format (to stdout without --output) instead of the terminal table; latex: the cell table (booktabs).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="A .md/.csv/.html/.json/.tex file, or a folder that gets every format (default: RESULTS/report/).",
)
@click.option("--per-run", is_flag=True, help="Also show one row per run (the terminal table, or CSV on stdout).")
@click.option("--at", "at", metavar="epoch=N|step=N", help="Compare values at this point of training instead of the final ones.")
@click.option(
    "--compare",
    "compare_axes",
    multiple=True,
    metavar="AXIS",
    help="Pairwise tests along AXIS (repeatable); default: every two-valued axis.",
)
@click.option("--sort", metavar="METRIC[:lower|:higher]", help="Rank cells by METRIC (direction known for built-in metrics).")
@click.option("--metrics", metavar="A,B,...", help="The metrics the tables show (default: the main quality metrics and throughput).")
@click.option(
    "--ci",
    type=click.Choice(["t", "bootstrap"]),
    default="t",
    show_default=True,
    help="95% CI over seeds: Student t, or percentile bootstrap (cells of 10+ seeds; fewer get t).",
)
@click.option(
    "--test",
    type=click.Choice(["welch", "mwu", "perm"]),
    default="welch",
    show_default=True,
    help="Pairwise test: Welch t, Mann-Whitney U, or an exact permutation test; p-values are Holm-adjusted per report.",
)
@click.option(
    "--direction",
    "directions",
    multiple=True,
    metavar="METRIC=lower|higher",
    help="Which way is better for a metric ganbench does not know.",
)
@click.option("--split-protocols", is_flag=True, help="Keep runs measured under different protocols apart instead of refusing.")
@click.option(
    "--reference",
    is_flag=True,
    help="Add a row of a perfect sampler (held-out real data scored by the same evaluation) to every table.",
)
@click.option(
    "--threshold",
    type=float,
    metavar="FID",
    help="Time to threshold: steps, seconds, images and FLOPs until fid_domain first reaches FID (default: the runs' eval.fid_threshold).",
)
@click.option(
    "--aggregate",
    metavar="METRIC",
    help="Rank recipes across the data sets under RESULTS (IQM, probability of improvement, performance profiles; rliable) on METRIC, e.g. fid_domain.",
)
@click.option("--no-plots", is_flag=True, help="Tables only (faster).")
@click.option("--no-traverse", is_flag=True, help="Skip plots that rebuild generators (latent traversals, 2-D scatters).")
@click.option(
    "--width",
    type=click.IntRange(min=40),
    help="Terminal table width in characters (default: the terminal's, else 100 when piped).",
)
@click.option("--verbose", "-v", is_flag=True, help="Terminal: also, per metric, the 95% CI, each seed's value and n.")
def report(
    results,
    fmt,
    output,
    per_run,
    at,
    compare_axes,
    sort,
    metrics,
    ci,
    test,
    directions,
    split_protocols,
    reference,
    threshold,
    aggregate,
    no_plots,
    no_traverse,
    width,
    verbose,
):
    """Compare the runs under RESULTS (one suite's folder or many).

    Prints the comparison table and writes Markdown, CSV, JSON and a self-contained
    HTML page with the plots into RESULTS/report/ (or where --output says). A results
    root holding several suites gets one table and one report folder per suite.

    Runs are grouped by cell (their config without the seed); each metric is shown as
    mean ± std over seeds with a 95% CI. See docs/report.md for the columns.
    """
    from .report import ReportError, build_report
    from .report.formats import runs_csv, terminal
    from .report.output import figures, render, write, write_index

    written, warnings = [], []
    try:
        given = {}
        for d in directions:
            name, _, how = d.partition("=")
            if how not in ("lower", "higher") or not name:
                raise ReportError(f"--direction {d}: expected METRIC=lower or METRIC=higher")
            given[name] = how
        options = dict(
            at=at,
            compare_axes=list(compare_axes) or None,
            sort=sort,
            metrics=[m.strip() for m in metrics.split(",") if m.strip()] if metrics else None,
            ci=ci,
            test=test,
            split_protocols=split_protocols,
            directions=given,
            reference=reference,
            threshold=threshold,
            aggregate=aggregate,
            registry=_registry() if reference or aggregate else None,  # scores the reference data
        )
        if not output and not fmt:  # the plain command also leaves every format on disk
            output = Path(results) / "report"
        suites = _suite_folders(Path(results))
        if output and len(suites) > 1 and not Path(output).suffix:
            # A results root of several suites: one report per suite (each with its own
            # axes), into OUTPUT/<suite>/, rather than one table of every column.
            reports = []
            if aggregate:  # one aggregate over every suite; each suite's report holds its own runs only
                from .report.output import write_aggregate_pages

                written += write_aggregate_pages(results, output, options)
            for folder in suites:
                rep = build_report(folder, **{**options, "aggregate": None})
                done, warned = write(rep, Path(output) / folder.name, fmt, plots=not no_plots, models=not no_traverse)
                reports.append(rep)
                written += done
                warnings += warned
            if fmt in (None, "html"):  # a page linking each suite's report.html
                written.append(write_index(Path(output), [(rep, Path(output) / f.name) for rep, f in zip(reports, suites)]))
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
    if width is None and not sys.stdout.isatty():
        width = PIPED_WIDTH
    for rep in reports:
        terminal(rep, Console(width=width), per_run=per_run, verbose=verbose)
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
    if not TRAVERSE_STEPS[0] <= steps <= TRAVERSE_STEPS[1]:
        fail(f"--steps must be from {TRAVERSE_STEPS[0]} to {TRAVERSE_STEPS[1]}, got {steps}")
    if not (math.isfinite(span) and span > 0):
        fail(f"--span must be a finite number > 0, got {span}")
    if not -(2**63) <= seed < 2**64:  # what torch's generator accepts
        fail("--seed must fit in 64 bits")
    from .report import ReportError  # torch and pandas: after the checks, which need neither
    from .report.traverse import LoadedRun, parse_axes, traverse_png
    from .store import write_atomic

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
