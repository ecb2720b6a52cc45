"""A suite's matrix: cells from its axes (exclude, include), seeds, `--set` on an axis, and
the run id that names each run by its cell and the digest of its config."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re

from ..config import MAX_SEED, ConfigError, expand_dotted, identity, merge, one_line, shown
from ..suggest import did_you_mean

MAX_RUNS = 10_000  # runs of one suite, before exclude; GANBENCH_MAX_RUNS overrides

MAX_RUNS_ENV = "GANBENCH_MAX_RUNS"

MAX_MESSAGE = 1_000  # characters of an error message


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
            touching = axis_overrides(str(axis), set_layer)
            if not touching:
                continue
            value = value_at(merge(expand_dotted({axis: cell[axis]}), touching), str(axis))
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
        given = ", ".join(f"--set {k}={value_text(v)}" for k, v in axis_overrides(str(axis), set_layer).items())
        values = distinct(now)
        became = f"{', '.join(value_text(v) for v in values)}" if _ABSENT not in values else "what --set gives"
        notes.append(one_line(f"{given} overrides the matrix axis {axis}: its {len(distinct(was))} values become {became}", MAX_MESSAGE))
    return out, notes


def axis_overrides(axis: str, set_layer: dict) -> dict:
    """The --set keys that set `axis`, a mapping holding it, or a key inside it."""
    return {k: v for k, v in set_layer.items() if str(k) == axis or axis.startswith(f"{k}.") or str(k).startswith(f"{axis}.")}


_ABSENT = object()


def value_at(tree: dict, dotted: str):
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def distinct(values: list) -> list:
    out: list = []
    for v in values:
        if not any(v is o or (v is not _ABSENT and o is not _ABSENT and v == o) for o in out):
            out.append(v)
    return out


def value_text(value) -> str:
    return json.dumps(value, default=str) if not isinstance(value, str) else value


def seedless(run_id: str) -> str:
    """A run id's slug without its seed and hash: what names its cell in a message."""
    return re.sub(r"_?s[0-9]+-[0-9a-f]{8}$", "", run_id) or "the base config"


def cell_text(cell: dict) -> str:
    return "{" + ", ".join(f"{k}: {value_text(v)}" for k, v in cell.items()) + "}"


def config_digest(config: dict) -> str:
    """The hash of what defines a run (its id's suffix)."""
    return hashlib.sha256(json.dumps(identity(config), sort_keys=True).encode()).hexdigest()[:8]


def origin_label(label: str, origin: dict[str, str]) -> str:
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
        cells = [c for c in cells if not all(matches(c[k], v) for k, v in ex.items())]
    out = [("matrix", c) for c in cells]
    originals = [dict(c) for c in cells]
    for i, inc in enumerate(include):
        # Like GitHub: an include extends every original combination whose matrix values
        # it does not contradict; one that extends none becomes a combination of its own.
        hit = False
        for (label, cell), orig in zip(out[: len(originals)], originals):
            if all(matches(orig[k], v) for k, v in inc.items() if k in orig):
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


def matches(value, pattern) -> bool:
    """A mapping pattern matches a mapping value containing all its items."""
    if isinstance(pattern, dict) and isinstance(value, dict):
        return all(k in value and matches(value[k], v) for k, v in pattern.items())
    return value == pattern


def seeds_of(value) -> range | list[int]:
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
    parts = [slug_value(k, v) for k, v in cell.items() if k != "seed"]
    parts.append(f"s{config['seed']}")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(p for p in parts if p)).strip("-_.")
    return f"{slug[:80]}-{digest}"


def slug_value(key: str, value) -> str:
    if isinstance(value, dict):
        return str(value.get("name") or "-".join(f"{k}{v}" for k, v in value.items()))
    short = key.split(".")[-1]
    return f"{short}{value}" if isinstance(value, (int, float)) else str(value)
