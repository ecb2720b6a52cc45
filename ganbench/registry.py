"""What plugins registered, by kind and name: the registry ganbench passes to what needs it.

Built by ``ganbench.plugins`` (which finds the plugins and calls their hooks); read by
config validation, the scheduler, the workers and the report. Imports neither pluggy nor
torch: a registry can be read (names, what metric plugins declare) without them.
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass, field
from typing import Callable

from .suggest import did_you_mean

# A name in an error message: user input, possibly megabytes long; cut past 80 characters
# (reprlib's default of 30 would shorten a real, if long, typo).
_NAME_REPR = reprlib.Repr()
_NAME_REPR.maxstring = 80

# kind -> the hook that registers it. Kinds are what suites name: `architecture: dcgan`.
KINDS = {
    "architecture": "register_architectures",
    "dataset": "register_datasets",
    "loss": "register_losses",
    "executor": "register_executors",
    "logger": "register_loggers",
    "callback": "register_callbacks",
    "metric": "register_metrics",
    "augment": "register_augments",
}


class PluginError(Exception):
    """A suite asked for something no working plugin provides."""


@dataclass
class Entry:
    """One registered factory and where it came from."""

    name: str
    kind: str
    factory: Callable
    plugin: str  # plugin id: "<distribution>:<entry point>"
    dist: str
    version: str


@dataclass
class Registry:
    entries: dict[str, dict[str, Entry]] = field(default_factory=lambda: {k: {} for k in KINDS})
    plugins: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (dist, version)
    broken: dict[str, str] = field(default_factory=dict)  # plugin id -> one-line reason
    skipped: dict[str, str] = field(default_factory=dict)  # plugin id -> why it was not loaded
    # How to build this registry again in another process (a worker, a Ray task):
    # {"allow": [...] | None, "no_plugins": bool} for installed plugins, or
    # {"modules": [module names], "builtins": bool} for modules registered by hand.
    source: dict = field(default_factory=lambda: {"allow": None, "no_plugins": False})

    def get(self, kind: str, name: str) -> Entry:
        try:
            return self.entries[kind][name]
        except KeyError:
            available = ", ".join(sorted(self.entries[kind])) or "none"
            msg = f"unknown {kind} {_NAME_REPR.repr(name)}{did_you_mean(name, self.entries[kind])}; available: {available}"
            if self.broken:  # the name may be what a broken plugin would have provided
                # each reason cut short: a message holds every broken plugin's within its limit
                reasons = "; ".join(f"{p}: {r if len(r) <= 160 else r[:157] + '...'}" for p, r in sorted(self.broken.items()))
                msg += f" (broken plugins: {reasons})"
            if self.skipped:
                dists = sorted({p.split(":")[0] for p in self.skipped})
                msg += f" (not loaded: {', '.join(dists)}, {next(iter(self.skipped.values()))})"
            raise PluginError(msg) from None

    # What metric plugins declare, read from their factories' attributes (no torch): the
    # directions and ranges config validation and the report need for plugins' keys. Where
    # two plugins declare one key, the first registered decides.

    def metric_directions(self) -> dict[str, str]:
        """{result key: "higher" | "lower"} for the keys metric plugins declare a way for
        (keys declared "none" are left out); ganbench's own keys: keys.direction."""
        declared: dict[str, str] = {}
        for entry in self.entries.get("metric", {}).values():
            for key, how in (getattr(entry.factory, "directions", None) or {}).items():  # checked when registered
                declared.setdefault(key, how)
        return {key: how for key, how in declared.items() if how in ("higher", "lower")}

    def metric_ranges(self) -> dict[str, tuple[float, float]]:
        """{result key: (low, high)} metric plugins declare in their ``ranges`` (inf for None);
        for other keys the report uses ganbench's own rules."""
        declared: dict[str, tuple[float, float]] = {}
        for entry in self.entries.get("metric", {}).values():
            for key, (low, high) in (getattr(entry.factory, "ranges", None) or {}).items():
                declared.setdefault(key, (-math.inf if low is None else float(low), math.inf if high is None else float(high)))
        return declared

    def metric_keys(self, name: str) -> list[str]:
        """The keys metric plugin `name` declares with a direction (what a table shows), or []."""
        entry = self.entries.get("metric", {}).get(name)
        directions = getattr(entry.factory, "directions", None) if entry else None
        return [k for k, how in (directions or {}).items() if how in ("higher", "lower")]

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def distributions(self) -> dict[str, str]:
        """Every distribution whose plugins loaded, with its version (for run.json)."""
        return {dist: version for dist, version in sorted(self.plugins.values())}
