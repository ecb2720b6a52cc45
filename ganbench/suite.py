"""Suites: a YAML matrix of runs, expanded into resolved, validated run configs.

    name: optimizers          # the results folder's name
    description: ...
    base: {...}               # one run's config, shared by all runs
    matrix: {axis: [values]}  # cross product; values replace base values (mappings merge)
    exclude: [{...}]          # drop combinations that match every key given
    include: [{...}]          # extend matching combinations, or add new ones
    seeds: [0, 1, 2]          # or N, meaning 0..N-1
    budget: {g_updates: N}    # optional: every cell's length spends the same (ganbench.budget)
    search: {samples: N, seed: S, space: {key: {loguniform: [a, b]}}}  # N sampled configs per cell (ganbench.search)
    profiles:                 # optional: named variants, e.g. one reduced for CPUs
      cpu:
        base: {...}           # merged over `base` (before the matrix cell and --set)
        include: [...]        # matrix, exclude, include, seeds: replace the suite's own

``include`` and ``exclude`` mean what they mean in a GitHub Actions matrix.

A profile is chosen by ``ganbench run --profile NAME``; ``auto`` (the command's default)
takes ``cpu`` when the runs train on the CPU and the suite has one, ``none`` the suite as
written. The profile is not part of a run's id: the resolved config it produces is.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
import math
import os
import re
import shutil
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import budget, yamlsafe
from . import search as hsearch
from .config import DEFAULTS, MAX_SEED, ConfigError, expand_dotted, identity, merge, one_line, resolve, shown
from .plugins import PluginError, Registry
from .suggest import did_you_mean

SUITE_KEYS = ("name", "description", "base", "matrix", "exclude", "include", "seeds", "search", "loggers", "report", "profiles", "budget")
PROFILE_KEYS = ("base", "matrix", "exclude", "include", "seeds", "search")  # base merges; the others replace the suite's
AUTO, NONE, CPU = "auto", "none", "cpu"  # --profile auto picks `cpu` on the CPU; none: the suite as written
OnCpu = bool | Callable[[], bool] | None  # for --profile auto: do the runs train on the CPU? None: cuda_visible()
SEEDS_KEY = "seeds"  # a suite key that `--set` may also override
NAME = re.compile(r"[A-Za-z0-9_-]+")  # fullmatch: `$` would let a trailing newline through
# Bounds on what a suite may ask for, checked before any work (README, "Suites").
MAX_NAME = 100  # the results folder's name, well under any file system's 255
MAX_DESCRIPTION = 2_000  # characters
MAX_SUITE_BYTES = 1 << 20  # the suite file: read no further
MAX_RUNS = 10_000  # runs of one suite, before exclude; GANBENCH_MAX_RUNS overrides
MAX_RUNS_ENV = "GANBENCH_MAX_RUNS"
MAX_MESSAGE = 1_000  # characters of an error message


class SuiteError(Exception):
    """An invalid suite; the message names the file and the key."""


@dataclass
class Run:
    id: str  # readable slug + short hash of the resolved config: stable across invocations
    config: dict  # resolved and validated
    cell: dict  # the matrix axes' values for this run (what distinguishes it, seed aside)
    seed: int
    search: dict | None = None  # a `search:` configuration: {index, samples, seed, values}


@dataclass
class Suite:
    name: str
    description: str
    path: str
    runs: list[Run] = field(default_factory=list)
    loggers: list[str] = field(default_factory=list)  # logger plugins for every run (ganbench.loggers)
    report: dict = field(default_factory=dict)  # {metrics: [...], compare: [...]}: what the report shows first
    profiles: list[str] = field(default_factory=list)  # the profiles the suite declares
    profile: str | None = None  # the one applied, "none" (the suite as written), or None: the suite declares none
    profile_why: str = ""  # how it was chosen: "--profile cpu", "--profile auto: the runs train on the CPU"
    auto_on_cpu: bool | None = None  # what `auto` was told about the device; None: it did not ask
    notes: list[str] = field(default_factory=list)  # one-line remarks on the expansion: --set over a matrix axis, duplicate cells


def load_suite(path: str | Path, registry: Registry, overrides: list[str] = (), profile: str = NONE, on_cpu: OnCpu = None) -> Suite:
    """Read, expand and validate a suite file; raise SuiteError naming file and key.

    profile: a profile's name, ``none`` or ``auto`` (see choose_profile). The message is
    always one line of bounded length: the CLI prints it as is.
    """
    path = Path(path)
    try:
        raw = yamlsafe.load(_read(path))
        return expand(raw, registry, [parse_override(o) for o in overrides], str(path), profile, on_cpu)
    except yaml.YAMLError as e:
        message = _yaml_problem(e)
    except RecursionError:  # yamlsafe bounds the nesting; this is the backstop
        message = "nested too deeply"
    except ConfigError as e:
        message = str(e)
    raise SuiteError(one_line(f"{path}: {message}", MAX_MESSAGE))


def _read(path: Path) -> str:
    """The file's text, refusing what is not a regular file of at most MAX_SUITE_BYTES.

    Checked before reading: /dev/zero or /dev/urandom never end, and opening a FIFO blocks.
    """
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            kind = " (a directory)" if stat.S_ISDIR(info.st_mode) else ""
            raise ConfigError("", f"not a regular file{kind}")
        too_big = ConfigError("", f"larger than {MAX_SUITE_BYTES >> 20} MiB, more than a suite file may be")
        if info.st_size > MAX_SUITE_BYTES:
            raise too_big
        with path.open("rb") as f:
            data = f.read(MAX_SUITE_BYTES + 1)  # one byte more: a file may grow, or lie about its size
        if len(data) > MAX_SUITE_BYTES:
            raise too_big
        return data.decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError("", "no such suite file") from None
    except OSError as e:
        raise ConfigError("", f"cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError("", f"cannot read: not UTF-8 text (byte {e.start})") from None


def _yaml_problem(e: yaml.YAMLError) -> str:
    """A YAML error as one line; str(e) would add the context and a snippet, on several lines."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or getattr(e, "reason", None) or type(e).__name__
    if isinstance(e, yamlsafe.UnsupportedYAML):  # valid YAML, refused by suites
        return f"line {mark.line + 1}: {problem}"
    where = f" (line {mark.line + 1})" if mark else ""
    return f"not valid YAML{where}: {problem}"


def parse_override(text: str) -> tuple[str, Any]:
    """`--set key=value`: the value is read as YAML, so `1` is a number, `{...}` a mapping."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError("--set", f"expected key=value, got {shown(text)}")
    try:
        return key.strip(), yamlsafe.load(value)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or "not valid YAML"
        raise ConfigError(f"--set {key.strip()}", f"cannot read value {shown(value)}: {problem}") from None


def expand(raw: Any, registry: Registry, overrides=(), path: str = "<suite>", profile: str = NONE, on_cpu: OnCpu = None) -> Suite:
    """Expand a parsed suite into validated runs, with the profile `profile` applied."""
    if not isinstance(raw, dict):
        raise ConfigError("", "a suite must be a mapping with at least `name` and `base`")
    for key in raw:
        if key not in SUITE_KEYS:
            raise ConfigError(str(key), f"unknown suite key{did_you_mean(key, SUITE_KEYS)}; known: {', '.join(SUITE_KEYS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ConfigError("name", f"must be letters, digits, '-' or '_' only, got {shown(name)}")
    if len(name) > MAX_NAME:
        raise ConfigError("name", f"must be at most {MAX_NAME} characters, got {len(name):,}")
    description = raw.get("description")
    description = "" if description is None else description
    if isinstance(description, (dict, list)):
        raise ConfigError("description", f"must be text, got {shown(description)}")
    if len(str(description)) > MAX_DESCRIPTION:
        raise ConfigError("description", f"must be at most {MAX_DESCRIPTION:,} characters, got {len(str(description)):,}")
    base = raw.get("base") or {}
    if not isinstance(base, dict):
        raise ConfigError("base", "must be a mapping of run settings")
    profiles = _profiles(raw.get("profiles"))
    chosen, why, asked = choose_profile(profile, list(profiles), on_cpu)
    patch = profiles.get(chosen or NONE, {})
    # The profile's matrix, exclude, include and seeds replace the suite's: errors name where they came from.
    origin = {k: f"profiles.{chosen}.{k}" if k in patch else k for k in PROFILE_KEYS}
    given = {k: patch[k] if k in patch else raw.get(k) for k in PROFILE_KEYS}
    set_layer = dict(overrides)
    # `--set seeds=N` (or a list) replaces the suite's seeds: a quick run needs no YAML edit
    seeds_label = "--set seeds" if SEEDS_KEY in set_layer else origin["seeds"]
    try:
        seeds = _seeds(set_layer.pop(SEEDS_KEY) if SEEDS_KEY in set_layer else (given["seeds"] if given["seeds"] is not None else [0]))
        cells = expand_matrix(given["matrix"] or {}, given["exclude"] or [], given["include"] or [], len(seeds))
    except ConfigError as e:
        head, sep, rest = e.key.partition(".")
        head, bracket, index = head.partition("[")
        if head == "seeds":
            raise ConfigError(seeds_label, e.message) from None
        if head in origin and origin[head] != head:
            raise ConfigError(f"{origin[head]}{bracket}{index}{sep}{rest}", e.message) from None
        raise
    cells = [(_origin_label(label, origin), cell) for label, cell in cells]
    search = hsearch.parse(given["search"])
    hsearch.check_size(search, len(cells), len(seeds), max_runs())

    loggers = raw.get("loggers") or []
    if not isinstance(loggers, list) or not all(isinstance(n, str) for n in loggers):
        raise ConfigError("loggers", f"must be a list of logger names, got {shown(loggers)}")
    for logger in loggers:
        try:
            registry.get("logger", logger)
        except PluginError as e:  # an unknown name is refused here, with the known ones
            raise ConfigError("loggers", str(e)) from None
    report = raw.get("report") or {}
    if not isinstance(report, dict) or set(report) - {"metrics", "compare"}:
        raise ConfigError("report", f"must be a mapping with `metrics` and/or `compare` lists, got {shown(report)}")
    for key, names in report.items():
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"report.{key}", f"must be a list of names, got {shown(names)}")
    suite = Suite(name, str(description), path, loggers=list(loggers), report=dict(report))
    suite.profiles, suite.profile, suite.profile_why, suite.auto_on_cpu = list(profiles), chosen, why, asked
    profile_layer = [(f"profiles.{chosen}.base", patch["base"])] if patch.get("base") else []
    named, suite.notes = collapse_overridden(cells, set_layer)
    seen: dict[str, str] = {}  # hash of a run's identity -> the run id that has it
    for (label, cell), shown_cell in zip(cells, named):
        plain = [("base", base), *profile_layer, (label, cell), ("--set", set_layer), ("seeds", {"seed": seeds[0]})]
        for variant in search.variants(lambda: resolve(plain, registry)) if search else [None]:
            sampled = [("search.space", variant.layer)] if variant else []
            for seed in seeds:
                layers = [("base", base), *profile_layer, (label, cell), *sampled, ("--set", set_layer), ("seeds", {"seed": seed})]
                config = budget.apply(raw.get("budget"), layers, resolve(layers, registry), registry)  # equal budgets
                slug_cell = {**shown_cell, "cfg": variant.index} if variant else shown_cell
                run = Run(run_id(config, slug_cell), config, shown_cell, seed, variant.record(search) if variant and search else None)
                digest = config_digest(config)
                if digest in seen:  # two cells that resolve to the same config: one run, not two "seeds"
                    note = f"{label} {_cell_text(cell)} trains exactly what {_seedless(seen[digest])} trains: each seed is trained once"
                    if seen[digest] != run.id and one_line(note, MAX_MESSAGE) not in suite.notes:
                        suite.notes.append(one_line(note, MAX_MESSAGE))
                    continue
                seen[digest] = run.id
                suite.runs.append(run)
    return suite


def collapse_overridden(cells: list[tuple[str, dict]], set_layer: dict) -> tuple[list[dict], list[str]]:
    """The cells as the runs train them, and a note per matrix axis `--set` overrides.

    `--set` is the last layer, over the matrix cell: `--set lr_ratio=4` on a suite whose
    matrix is `lr_ratio: [0.5, 1, 2]` trains lr_ratio 4 in every cell. Each cell then says
    4 (its id's slug too), so the three cells are one config, trained once: a run's name
    and `cell` never disagree with its config. Cells no `--set` key touches are returned
    as they are (their run ids do not change).
    """
    out, changed = [], {}  # axis -> (values before, values after)
    for _, cell in cells:
        new = dict(cell)
        for axis in cell:
            touching = _touching(str(axis), set_layer)
            if not touching:
                continue
            value = _at(merge(expand_dotted({axis: cell[axis]}), touching), str(axis))
            if value is _ABSENT:  # a --set mapping replaced the one holding the axis
                del new[axis]
            else:
                new[axis] = value
            was, now = changed.setdefault(axis, ([], []))
            was.append(cell[axis])
            now.append(value)
        out.append(new)
    notes = []
    for axis, (was, now) in changed.items():
        given = ", ".join(f"--set {k}={_value_text(v)}" for k, v in _touching(str(axis), set_layer).items())
        values = _distinct(now)
        became = f"{', '.join(_value_text(v) for v in values)}" if _ABSENT not in values else "what --set gives"
        notes.append(one_line(f"{given} overrides the matrix axis {axis}: its {len(_distinct(was))} values become {became}", MAX_MESSAGE))
    return out, notes


def _touching(axis: str, set_layer: dict) -> dict:
    """The --set keys that set `axis`, a mapping holding it, or a key inside it."""
    return {k: v for k, v in set_layer.items() if str(k) == axis or axis.startswith(f"{k}.") or str(k).startswith(f"{axis}.")}


_ABSENT = object()


def _at(tree: dict, dotted: str):
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _distinct(values: list) -> list:
    out: list = []
    for v in values:
        if not any(v is o or (v is not _ABSENT and o is not _ABSENT and v == o) for o in out):
            out.append(v)
    return out


def _value_text(value) -> str:
    return json.dumps(value, default=str) if not isinstance(value, str) else value


def _seedless(run_id: str) -> str:
    """A run id's slug without its seed and hash: what names its cell in a message."""
    return re.sub(r"_?s[0-9]+-[0-9a-f]{8}$", "", run_id) or "the base config"


def _cell_text(cell: dict) -> str:
    return "{" + ", ".join(f"{k}: {_value_text(v)}" for k, v in cell.items()) + "}"


def config_digest(config: dict) -> str:
    """The hash of what defines a run (its id's suffix)."""
    return hashlib.sha256(json.dumps(identity(config), sort_keys=True).encode()).hexdigest()[:8]


def _profiles(value) -> dict[str, dict]:
    """The suite's `profiles`, checked for shape: {name: {base: {...}, matrix: ..., ...}}.

    Every profile's base is checked for unknown top-level keys (a typo in the profile a
    run does not use is still a typo); values are validated where the profile is applied.
    """
    if value is None:
        return {}
    if not isinstance(value, dict) or not value:
        raise ConfigError("profiles", f"must be a mapping of profile name -> {{base: {{...}}}}, got {shown(value)}")
    out: dict[str, dict] = {}
    for name, patch in value.items():
        where = f"profiles.{name}"
        if not isinstance(name, str) or not NAME.fullmatch(name) or len(name) > MAX_NAME:
            raise ConfigError(where, "a profile's name must be letters, digits, '-' or '_' only")
        if name in (AUTO, NONE):
            raise ConfigError(where, f"{name!r} is reserved: --profile {name} means {'choose by device' if name == AUTO else 'no profile'}")
        if not isinstance(patch, dict) or not patch:
            raise ConfigError(where, f"must be a mapping with any of {', '.join(PROFILE_KEYS)}, got {shown(patch)}")
        for key in patch:
            if key not in PROFILE_KEYS:
                hint = " (run settings go under `base`)" if key in DEFAULTS or key == "steps" else ""
                raise ConfigError(
                    f"{where}.{key}", f"unknown profile key{did_you_mean(key, PROFILE_KEYS)}{hint}; known: {', '.join(PROFILE_KEYS)}"
                )
        base = patch.get("base", {})
        if not isinstance(base, dict):
            raise ConfigError(f"{where}.base", "must be a mapping of run settings")
        known = [*sorted(DEFAULTS), "steps"]
        for key in expand_dotted(base):
            if key not in known:
                raise ConfigError(f"{where}.base.{key}", f"unknown key{did_you_mean(key, known)}; known keys: {', '.join(known)}")
        out[name] = patch
    return out


def choose_profile(requested: str, profiles: list[str], on_cpu: OnCpu = None) -> tuple[str | None, str, bool | None]:
    """(the profile to apply, how it was chosen, what `auto` was told about the device).

    requested: a profile's name; ``none``: the suite as written; ``auto``: ``cpu`` when the
    suite has one and the runs train on the CPU (`on_cpu`: a bool, a function asked only
    then, or None for cuda_visible()'s torch-free guess), else ``none``. The profile is
    None for a suite that declares no profiles (and is asked for none).
    """
    if requested in (AUTO, NONE) and not profiles:
        return None, "", None
    if requested == NONE:
        return NONE, "--profile none", None
    if requested == AUTO:
        if CPU not in profiles:
            return NONE, "--profile auto: the suite has no cpu profile", None
        cpu = (not cuda_visible()) if on_cpu is None else (on_cpu() if callable(on_cpu) else bool(on_cpu))
        return (CPU if cpu else NONE), f"--profile auto: the runs train on {'the CPU' if cpu else 'a GPU'}", cpu
    if requested in profiles:
        return requested, f"--profile {requested}", None
    if not profiles:
        raise ConfigError(f"--profile {requested}", "the suite declares no profiles (auto and none are always accepted)")
    raise ConfigError(
        f"--profile {requested}",
        f"unknown profile{did_you_mean(str(requested), profiles)}; the suite's profiles: {', '.join(profiles)} (and auto, none)",
    )


def cuda_visible() -> bool:
    """A torch-free guess at whether torch will see a GPU (for --profile auto in --dry-run,
    which must not import torch): a CUDA or ROCm driver's device files, unless
    CUDA_VISIBLE_DEVICES hides every device. `ganbench run` asks torch itself."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", os.environ.get("HIP_VISIBLE_DEVICES"))
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    try:
        if sys.platform.startswith("linux"):
            gpus = Path("/proc/driver/nvidia/gpus")
            return (gpus.is_dir() and any(gpus.iterdir())) or any(Path("/dev").glob("nvidia[0-9]*")) or Path("/dev/kfd").exists()
        if sys.platform == "win32":
            return shutil.which("nvidia-smi") is not None
    except OSError:
        return False
    return False  # macOS: ganbench's `auto` device never picks MPS


def _origin_label(label: str, origin: dict[str, str]) -> str:
    """A cell's label ("matrix", "include[2]") as the user wrote it: "profiles.cpu.include[2]"."""
    head, bracket, rest = label.partition("[")
    return f"{origin.get(head, head)}{bracket}{rest}"


def expand_matrix(matrix, exclude, include, n_seeds: int = 1) -> list[tuple[str, dict]]:
    """(label, cell) pairs; the label says where a cell's values came from, for errors.

    The number of runs is bounded before the cross product is built (see max_runs).
    """
    if not isinstance(matrix, dict):
        raise ConfigError("matrix", "must be a mapping of key -> list of values")
    for axis, values in matrix.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"matrix.{axis}", f"must be a non-empty list, got {shown(values)}")
    for key, entries in (("exclude", exclude), ("include", include)):
        if not isinstance(entries, list) or not all(isinstance(e, dict) and e for e in entries):
            raise ConfigError(key, "must be a list of non-empty mappings")
    n_cells = math.prod(len(v) for v in matrix.values()) + len(include)
    limit = max_runs()
    if n_cells * n_seeds > limit:
        raise ConfigError(
            "matrix" if matrix else "seeds",
            f"up to {n_cells * n_seeds:,} runs ({n_cells:,} "
            f"combinations, {n_seeds:,} seeds each), more than the limit of {limit:,} "
            f"({MAX_RUNS_ENV}=N raises it)",
        )
    axes = list(matrix)
    cells = [dict(zip(axes, combo)) for combo in itertools.product(*matrix.values())] if axes else []
    for i, ex in enumerate(exclude):
        unknown = [k for k in ex if k not in matrix]
        if unknown:
            raise ConfigError(f"exclude[{i}].{unknown[0]}", f"is not a matrix axis{did_you_mean(unknown[0], matrix)}")
        cells = [c for c in cells if not all(_matches(c[k], v) for k, v in ex.items())]
    out = [("matrix", c) for c in cells]
    originals = [dict(c) for c in cells]
    for i, inc in enumerate(include):
        # Like GitHub: an include extends every original combination whose matrix values
        # it does not contradict; one that extends none becomes a combination of its own.
        hit = False
        for (label, cell), orig in zip(out[: len(originals)], originals):
            if all(_matches(orig[k], v) for k, v in inc.items() if k in orig):
                cell.update({k: v for k, v in inc.items() if k not in orig})
                hit = True
        if not hit:
            out.append((f"include[{i}]", dict(inc)))
    if not out:
        if axes:  # bad input, not "run the base config once"
            raise ConfigError("exclude", "removes every combination of the matrix")
        out = [("matrix", {})]
    return out


def max_runs() -> int:
    """MAX_RUNS, or GANBENCH_MAX_RUNS when set."""
    text = os.environ.get(MAX_RUNS_ENV, "").strip()
    if not text:
        return MAX_RUNS
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise ConfigError(MAX_RUNS_ENV, f"must be a positive integer, got {shown(text)}")
    return int(text)


def _matches(value, pattern) -> bool:
    """A mapping pattern matches a mapping value containing all its items."""
    if isinstance(pattern, dict) and isinstance(value, dict):
        return all(k in value and _matches(value[k], v) for k, v in pattern.items())
    return value == pattern


def _seeds(value) -> range | list[int]:
    """The seeds; a count N is range(N), not a list, so a huge N costs nothing until refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ConfigError("seeds", f"must be >= 1 (a count) or a list, got {value}")
        if value > MAX_SEED + 1:
            raise ConfigError("seeds", f"a count must be at most {MAX_SEED + 1:,} (seeds are 0 to {MAX_SEED:,})")
        return range(value)
    if isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in value):
        if len(set(value)) != len(value):
            raise ConfigError("seeds", "lists a seed twice")
        return value
    raise ConfigError("seeds", f"must be a count or a list of integers from 0 to {MAX_SEED:,}, got {shown(value)}")


def run_id(config: dict, cell: dict) -> str:
    """A readable slug of what this run varies, plus a hash of its whole config."""
    digest = config_digest(config)
    parts = [_slug_value(k, v) for k, v in cell.items() if k != "seed"]
    parts.append(f"s{config['seed']}")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(p for p in parts if p)).strip("-_.")
    return f"{slug[:80]}-{digest}"


def _slug_value(key: str, value) -> str:
    if isinstance(value, dict):
        return str(value.get("name") or "-".join(f"{k}{v}" for k, v in value.items()))
    short = key.split(".")[-1]
    return f"{short}{value}" if isinstance(value, (int, float)) else str(value)


ALL = "*"  # `--rerun` alone: every run


def rerun_filter(pattern: bool | str | None, runs: list[Run]) -> Callable[[Run], bool]:
    """Which runs `--rerun` redoes: none (None, False), all (True, "*"), or those whose id
    matches one of a comma-separated list of run ids, id prefixes (`lr_ratio2_` for every
    seed of a cell) or globs (`*_s1-*`). ValueError, one line, when a pattern matches no
    run of the suite: a typo must not silently redo nothing."""
    if pattern in (None, False, ""):
        return lambda run: False
    if pattern is True or pattern == ALL:
        return lambda run: True
    patterns = [p.strip() for p in str(pattern).split(",") if p.strip()]

    def matches(run_id: str, p: str) -> bool:
        return fnmatch.fnmatchcase(run_id, p) if any(c in p for c in "*?[") else run_id.startswith(p)

    for p in patterns:
        if not any(matches(r.id, p) for r in runs):
            some = ", ".join(r.id for r in runs[:3]) + (", ..." if len(runs) > 3 else "")
            raise ValueError(f"--rerun {p}: matches none of the suite's {len(runs)} runs ({some}){did_you_mean(p, [r.id for r in runs])}")
    return lambda run: any(matches(run.id, p) for p in patterns)
