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
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import budget, yamlsafe
from .. import search as hsearch
from ..config import ConfigError, one_line, resolve, shown
from ..plugins import PluginError, Registry
from ..suggest import did_you_mean
from .matrix import (
    MAX_MESSAGE,
    cell_text,
    collapse_overridden,
    config_digest,
    expand_matrix,
    max_runs,
    origin_label,
    run_id,
    seedless,
    seeds_of,
)
from .profiles import MAX_NAME, NAME, NONE, PROFILE_KEYS, OnCpu, choose_profile, parse_profiles

SUITE_KEYS = ("name", "description", "base", "matrix", "exclude", "include", "seeds", "search", "loggers", "report", "profiles", "budget")
SEEDS_KEY = "seeds"  # a suite key that `--set` may also override
MAX_DESCRIPTION = 2_000  # characters
MAX_SUITE_BYTES = 1 << 20  # the suite file: read no further


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
    profiles = parse_profiles(raw.get("profiles"))
    chosen, why, asked = choose_profile(profile, list(profiles), on_cpu)
    patch = profiles.get(chosen or NONE, {})
    # The profile's matrix, exclude, include and seeds replace the suite's: errors name where they came from.
    origin = {k: f"profiles.{chosen}.{k}" if k in patch else k for k in PROFILE_KEYS}
    given = {k: patch[k] if k in patch else raw.get(k) for k in PROFILE_KEYS}
    set_layer = dict(overrides)
    # `--set seeds=N` (or a list) replaces the suite's seeds: a quick run needs no YAML edit
    seeds_label = "--set seeds" if SEEDS_KEY in set_layer else origin["seeds"]
    try:
        seeds = seeds_of(set_layer.pop(SEEDS_KEY) if SEEDS_KEY in set_layer else (given["seeds"] if given["seeds"] is not None else [0]))
        cells = expand_matrix(given["matrix"] or {}, given["exclude"] or [], given["include"] or [], len(seeds))
    except ConfigError as e:
        head, sep, rest = e.key.partition(".")
        head, bracket, index = head.partition("[")
        if head == "seeds":
            raise ConfigError(seeds_label, e.message) from None
        if head in origin and origin[head] != head:
            raise ConfigError(f"{origin[head]}{bracket}{index}{sep}{rest}", e.message) from None
        raise
    cells = [(origin_label(label, origin), cell) for label, cell in cells]
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
                    note = f"{label} {cell_text(cell)} trains exactly what {seedless(seen[digest])} trains: each seed is trained once"
                    if seen[digest] != run.id and one_line(note, MAX_MESSAGE) not in suite.notes:
                        suite.notes.append(one_line(note, MAX_MESSAGE))
                    continue
                seen[digest] = run.id
                suite.runs.append(run)
    return suite


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
