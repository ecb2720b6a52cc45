"""Finding plugins and collecting what they register.

Plugins are modules named by entry points in the ``ganbench`` group; the built-ins are
found the same way. A plugin that cannot be imported, misspells a hook, raises inside a
hook or registers a name another plugin already has is set aside as *broken* with a
one-line reason: ganbench keeps working with the others, and a suite that names what the
broken plugin would have provided is refused with that reason.
"""

from __future__ import annotations

import importlib.metadata as md
from dataclasses import dataclass, field
from typing import Callable

import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "ganbench"

# kind -> the hook that registers it. Kinds are what suites name: `architecture: dcgan`.
KINDS = {
    "architecture": "register_architectures",
    "dataset": "register_datasets",
    "loss": "register_losses",
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

    def get(self, kind: str, name: str) -> Entry:
        try:
            return self.entries[kind][name]
        except KeyError:
            available = ", ".join(sorted(self.entries[kind])) or "none"
            msg = f"unknown {kind} {name!r}; available: {available}"
            if self.broken:
                msg += f" (broken plugins: {', '.join(sorted(self.broken))})"
            raise PluginError(msg) from None

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def distributions(self) -> dict[str, str]:
        """Every distribution whose plugins loaded, with its version (for run.json)."""
        return {dist: version for dist, version in self.plugins.values()}


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, plus what ganbench knows of each plugin it was offered."""

    def __init__(self):
        super().__init__("ganbench")
        self.add_hookspecs(hookspecs)
        self.broken: dict[str, str] = {}  # plugin id -> why it was set aside
        self.distinfo: dict[str, tuple[str, str]] = {}  # plugin id -> (distribution, version)


def get_plugin_manager(entry_points: bool = True) -> PluginManager:
    """A fresh plugin manager with the hookspecs, and every installed plugin when asked.

    Plugins are registered one at a time under "<distribution>:<entry point>", so two
    distributions may both name an entry point "losses", and each is checked on its own:
    one plugin's misspelled hook marks that plugin broken, not the whole manager.
    """
    pm = PluginManager()
    if entry_points:
        for ep in md.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist else "?"
            plugin_id = f"{dist}:{ep.name}"
            try:
                module = ep.load()
            except Exception as e:  # a plugin's import error must not stop ganbench
                pm.broken[plugin_id] = f"import of {ep.value} failed: {_one_line(e)}"
                continue
            add_plugin(pm, module, plugin_id, dist, ep.dist.version if ep.dist else "?")
    return pm


def add_plugin(pm: PluginManager, module, plugin_id: str, dist: str, version: str):
    """Register one plugin module; a misspelled hook marks it broken instead."""
    pm.register(module, name=plugin_id)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as e:
        pm.unregister(module)
        pm.broken[plugin_id] = _one_line(e)
        return
    pm.distinfo[plugin_id] = (dist, version)


def build_registry(pm: PluginManager) -> Registry:
    """Call every plugin's register hooks and collect the names, refusing duplicates."""
    reg = Registry(broken=dict(pm.broken))
    for plugin_id, plugin in pm.list_name_plugin():
        dist, version = pm.distinfo.get(plugin_id, (plugin_id, "?"))
        found: list[Entry] = []

        def register(name, factory, kind=None, _found=found, _dist=dist, _ver=version):
            if not isinstance(name, str) or not name:
                raise TypeError(f"{kind} name must be a non-empty string, got {name!r}")
            if not callable(factory):
                raise TypeError(f"{kind} {name!r}: factory {factory!r} is not callable")
            _found.append(Entry(name, kind, factory, plugin_id, _dist, _ver))

        try:
            for kind, hook in KINDS.items():
                for impl in getattr(pm.hook, hook).get_hookimpls():
                    if impl.plugin is plugin:
                        impl.function(register=lambda n, f, k=kind: register(n, f, k))
        except Exception as e:  # a buggy hook sets its plugin aside, not ganbench
            reg.broken[plugin_id] = f"hook raised {_one_line(e)}"
            continue
        clash = [e for e in found if e.name in reg.entries[e.kind]]
        if clash:
            e = clash[0]
            other = reg.entries[e.kind][e.name].plugin
            reg.broken[plugin_id] = (
                f"{e.kind} {e.name!r} is registered by both {other} and {plugin_id}"
            )
            continue
        for e in found:
            reg.entries[e.kind][e.name] = e
        reg.plugins[plugin_id] = (dist, version)
    return reg


def load_registry() -> Registry:
    """The registry of every installed plugin (what the CLI uses)."""
    return build_registry(get_plugin_manager())


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")
