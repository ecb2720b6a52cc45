"""`ganbench run`: its options, an executor plugin's own `--<executor>-<key> VALUE` options,
what --dry-run checks without starting anything (device names, plugin names, executor
options), and the closing line and exit status of a real run.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from .common import _interruptible, _registry, fail
from .dry_run import _print_dry_run


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

    from .. import yamlsafe

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


@click.command(cls=_RunCommand)
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
    from .. import api  # the command is a thin layer over the Python API
    from ..config import ConfigError
    from ..suite import SuiteError, parse_override

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
    from ..suite import rerun_filter

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
    from ..build import resolve_devices
    from ..executors import ExecutorError
    from ..runner import SuiteInvalid, Terminated

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
    from ..executors import ExecutorError, resolve_executor_options
    from ..plugins import PluginError

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
