"""Hyperparameter search in suites: N sampled configurations per matrix cell.

    search:
      samples: 20            # configurations per matrix cell
      seed: 0                # the draws depend on this alone
      space:
        optimizer.lr: {loguniform: [1.0e-5, 1.0e-2]}
        optimizer.betas.0: {uniform: [0.0, 0.9]}   # a list element: its index
        n_disc: {choice: [1, 2, 5]}

Lucic et al. (2018) compared GAN losses by the distribution of FID over a search of fixed
budget rather than by one hand-tuned setting each; the report reads such a suite by the
expected best score after n configurations (``ganbench.report.search``).

Each configuration is a layer over the cell (below ``--set``) and every seed of it is an
ordinary run with its own id (``<cell>_cfg<i>_s<seed>-<hash>``). Every cell gets the same N
configurations (common random numbers: a difference between cells is not the luck of its
draws), and each value is drawn from its own stream, ``Random(f"{seed}:{key}:{i}")``:
adding a key to the space leaves the others' values as they were. run.json records
``search: {index, samples, seed, values}``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from .config import ConfigError, shown

KINDS = ("loguniform", "uniform", "choice")
MAX_SAMPLES = 10_000


@dataclass
class Variant:
    """One sampled configuration of a cell."""

    index: int
    values: dict[str, Any]  # dotted key (list indices included) -> the value drawn
    layer: dict = field(default_factory=dict)  # what it sets, as a config layer

    def record(self, search: "Search") -> dict:
        return {"index": self.index, "samples": search.samples, "seed": search.seed, "values": dict(self.values)}


@dataclass
class Search:
    samples: int
    seed: int
    space: dict[str, tuple[str, list]]  # key -> (kind, arguments)

    def draw(self) -> list[dict[str, Any]]:
        """The N configurations' values, the same for every cell."""
        out = []
        for i in range(self.samples):
            values = {}
            for key, (kind, args) in self.space.items():
                u = random.Random(f"{self.seed}:{key}:{i}").random()  # [0, 1), stable across Python versions
                if kind == "uniform":
                    values[key] = args[0] + (args[1] - args[0]) * u
                elif kind == "loguniform":
                    values[key] = math.exp(math.log(args[0]) + (math.log(args[1]) - math.log(args[0])) * u)
                else:
                    values[key] = args[int(u * len(args))]
            out.append(values)
        return out

    def variants(self, resolved: Callable[[], dict]) -> list[Variant]:
        """The cell's N variants; `resolved()` is the cell's config without them (asked only
        when a key sets one element of a list, which then keeps its other elements)."""
        config: dict | None = None
        out = []
        for i, values in enumerate(self.draw()):
            layer: dict = {}
            for key, value in values.items():
                head, _, last = key.rpartition(".")
                if head and last.isdigit():  # optimizer.betas.0: the list with that element replaced
                    if config is None:
                        config = resolved()
                    current = layer.get(head, _get(config, head))
                    if not isinstance(current, list) or int(last) >= len(current):
                        raise ConfigError(f"search.space.{key}", f"{head} is not a list with an element {last} (it is {shown(current)})")
                    current = list(current)
                    current[int(last)] = value
                    layer[head] = current
                else:
                    layer[key] = value
            out.append(Variant(i, values, layer))
        return out


def _get(config: dict, dotted: str):
    node: Any = config
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def parse(value) -> Search | None:
    """The suite's `search` block, checked for shape (values are validated per run); None if absent."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"samples", "seed", "space"}:
        raise ConfigError("search", f"must be a mapping with `samples`, `seed` and `space`, got {shown(value)}")
    samples, seed, space = value.get("samples"), value.get("seed", 0), value.get("space")
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= MAX_SAMPLES:
        raise ConfigError("search.samples", f"must be an integer from 1 to {MAX_SAMPLES:,}, got {shown(samples)}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError("search.seed", f"must be an integer, got {shown(seed)}")
    if not isinstance(space, dict) or not space:
        raise ConfigError("search.space", f"must map config keys to a distribution, e.g. {{loguniform: [1e-5, 1e-2]}}, got {shown(space)}")
    out: dict[str, tuple[str, list]] = {}
    for key, spec in space.items():
        where = f"search.space.{key}"
        if key in ("seed", "seeds"):
            raise ConfigError(where, "the seed is not a hyperparameter: seeds repeat every configuration")
        if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
            raise ConfigError(where, f"must be one of {{{': [...]}, {'.join(KINDS)}: [...]}}, got {shown(spec)}")
        kind, args = next(iter(spec.items()))
        if kind == "choice":
            if not isinstance(args, list) or not args:
                raise ConfigError(f"{where}.choice", f"must be a non-empty list of values, got {shown(args)}")
        else:
            numeric = (
                isinstance(args, list) and len(args) == 2 and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)
            )
            if not numeric or not args[0] < args[1] or not all(math.isfinite(a) for a in args):
                raise ConfigError(f"{where}.{kind}", f"must be [low, high] with low < high, got {shown(args)}")
            if kind == "loguniform" and args[0] <= 0:
                raise ConfigError(f"{where}.{kind}", f"needs low > 0 (a log scale), got {shown(args)}")
            args = [float(a) for a in args]
        out[str(key)] = (kind, list(args))
    return Search(samples, seed, out)


def check_size(search: Search | None, cells: int, seeds: int, limit: int) -> None:
    """Refuse a search whose runs exceed the suite's bound before any is resolved."""
    if search and cells * seeds * search.samples > limit:
        raise ConfigError(
            "search.samples",
            f"{cells:,} cells x {search.samples:,} configurations x {seeds:,} seeds = {cells * seeds * search.samples:,} runs, "
            f"more than the limit of {limit:,} (GANBENCH_MAX_RUNS=N raises it)",
        )
