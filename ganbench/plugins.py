"""Finding plugins and collecting what they register.

Plugins are modules named by entry points in the ``ganbench`` group; the built-ins are
found the same way. A plugin that cannot be imported, needs another plugin API version,
misspells a hook, raises inside a hook, returns or registers something of the wrong type,
or registers a name another plugin already has is set aside as *broken* with a one-line
reason: ganbench keeps working with the others, and a suite that names what the broken
plugin would have provided is refused with that reason.

Which distributions load can be pinned for reproducible runs: ``GANBENCH_PLUGINS`` is a
comma-separated allow-list of distributions (``ganbench --no-plugins`` allows none); the
built-ins always load. ``GANBENCH_TRACE_PLUGINS=1`` prints every load, hook call and
registration to stderr, for plugin authors debugging their registration.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import inspect
import os
import re
import sys
from typing import Iterable

import pluggy
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from . import hookspecs
from .contracts import Loss, metric_problem
from .registry import KINDS, Entry, PluginError, Registry
from .suggest import did_you_mean, error_line
from .version import PLUGIN_API_VERSION

__all__ = ["KINDS", "Entry", "PluginError", "Registry", "build_registry", "get_plugin_manager", "load_registry", "rebuild_registry"]

ENTRY_POINT_GROUP = "ganbench"
BUILTIN_DIST = "ganbench"  # the built-ins' distribution: always loaded
ALLOW_ENV = "GANBENCH_PLUGINS"  # comma-separated distributions to load besides the built-ins
TRACE_ENV = "GANBENCH_TRACE_PLUGINS"  # 1: print each load / hook call / register to stderr
API_ATTRIBUTE = "GANBENCH_PLUGIN_API"  # a plugin module's declared API: 1, or ">=1,<3"


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, plus what ganbench knows of each plugin it was offered."""

    def __init__(self):
        super().__init__("ganbench")
        self.add_hookspecs(hookspecs)
        self.broken: dict[str, str] = {}  # plugin id -> why it was set aside
        self.skipped: dict[str, str] = {}  # plugin id -> why it was not loaded at all
        self.distinfo: dict[str, tuple[str, str]] = {}  # plugin id -> (distribution, version)


# ---------------------------------------------------------------- loading


def normalize(dist: str) -> str:
    """PEP 503 name normalization: `Ganbench_SNGAN` and `ganbench-sngan` are one project."""
    return re.sub(r"[-_.]+", "-", dist.strip()).lower()


def allowed_from_env() -> set[str] | None:
    """The GANBENCH_PLUGINS allow-list (normalized), or None when unset (load all)."""
    value = os.environ.get(ALLOW_ENV)
    if value is None:
        return None
    return {normalize(d) for d in value.split(",") if d.strip()}


def tracing() -> bool:
    return os.environ.get(TRACE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def trace(message: str) -> None:
    if tracing():
        print(f"[ganbench plugins] {message}", file=sys.stderr, flush=True)


def get_plugin_manager(
    entry_points: bool = True,
    allow: Iterable[str] | None = None,
    no_plugins: bool = False,
    found: Iterable[md.EntryPoint] | None = None,
) -> PluginManager:
    """A fresh plugin manager with the hookspecs, and the installed plugins when asked.

    allow: distributions to load besides the built-ins (None: GANBENCH_PLUGINS, and when
    that is unset, every installed one). no_plugins: the built-ins only. found: the entry
    points to consider (default: those installed in the ``ganbench`` group).

    Plugins are registered one at a time under "<distribution>:<entry point>", so two
    distributions may both name an entry point "losses", and each is checked on its own:
    one plugin's misspelled hook marks that plugin broken, not the whole manager.
    """
    pm = PluginManager()
    if not entry_points:
        return pm
    allowed = set() if no_plugins else ({normalize(d) for d in allow} if allow is not None else allowed_from_env())
    eps = list(md.entry_points(group=ENTRY_POINT_GROUP) if found is None else found)
    # The built-ins first, so a third party re-registering `dcgan` is the one set aside.
    eps.sort(key=lambda ep: (_dist_name(ep) != BUILTIN_DIST, _dist_name(ep), ep.name))
    seen: set[str] = set()
    for ep in eps:
        dist, version = _dist_name(ep), (ep.dist.version if ep.dist else "?")
        plugin_id = f"{dist}:{ep.name}"
        if plugin_id in seen:  # one distribution found twice on sys.path: the first wins
            continue
        seen.add(plugin_id)
        if allowed is not None and normalize(dist) != BUILTIN_DIST and normalize(dist) not in allowed:
            pm.skipped[plugin_id] = "disabled by --no-plugins" if no_plugins else f"not in {ALLOW_ENV}"
            trace(f"skip {plugin_id} ({pm.skipped[plugin_id]})")
            continue
        trace(f"load {plugin_id} = {ep.value} ({dist} {version})")
        try:
            with contextlib.redirect_stdout(sys.stderr):  # a plugin's print must not land in `report --format html > x`
                module = ep.load()
        except BaseException as e:  # an import error (even sys.exit) must not stop ganbench
            if isinstance(e, KeyboardInterrupt):
                raise
            pm.broken[plugin_id] = f"import of {ep.value} failed: {error_line(e)}"
            trace(f"broken {plugin_id}: {pm.broken[plugin_id]}")
            continue
        add_plugin(pm, module, plugin_id, dist, version)
    return pm


def _dist_name(ep: md.EntryPoint) -> str:
    return ep.dist.name if ep.dist else "?"


def api_problem(module) -> str | None:
    """Why a plugin's declared GANBENCH_PLUGIN_API excludes this ganbench, or None."""
    declared = getattr(module, API_ATTRIBUTE, None)
    if declared is None:  # undeclared: assumed written for the current API
        return None
    if isinstance(declared, int) and not isinstance(declared, bool):
        ok = declared == PLUGIN_API_VERSION
    elif isinstance(declared, str):
        try:
            ok = SpecifierSet(declared).contains(str(PLUGIN_API_VERSION))
        except InvalidSpecifier:
            return f"{API_ATTRIBUTE} = {declared!r} is not a version range like '>=1,<3'"
    else:
        return f"{API_ATTRIBUTE} must be an int or a range like '>=1,<3', got {declared!r}"
    if ok:
        return None
    return (
        f"needs ganbench plugin API {declared} but this ganbench provides {PLUGIN_API_VERSION}; "
        "install a version of the plugin written for it, or another ganbench"
    )


def add_plugin(pm: PluginManager, module, plugin_id: str, dist: str, version: str):
    """Register one plugin module; a wrong API version or misspelled hook marks it broken."""
    problem = api_problem(module)
    if problem:
        pm.broken[plugin_id] = problem
        trace(f"broken {plugin_id}: {problem}")
        return
    try:  # a hookimpl whose arguments are not the hookspec's fails here
        pm.register(module, name=plugin_id)
    except (pluggy.PluginValidationError, ValueError) as e:  # ValueError: module already registered
        pm.broken[plugin_id] = _whole_message(e)
        trace(f"broken {plugin_id}: {pm.broken[plugin_id]}")
        return
    try:  # a @hookimpl that is no hook at all (a misspelling) fails here
        pm.check_pending()
    except pluggy.PluginValidationError as e:
        pm.unregister(module)
        hints = [f"{name!r}{did_you_mean(name, KINDS.values())}" for name in _unknown_hooks(pm, module)]
        hint = "".join(f"; {h}" for h in hints if "did you mean" in h)  # 'register_metric' (did you mean 'register_metrics'?)
        pm.broken[plugin_id] = f"{_whole_message(e)}{hint}; the hooks are {', '.join(KINDS.values())}"
        trace(f"broken {plugin_id}: {pm.broken[plugin_id]}")
        return
    pm.distinfo[plugin_id] = (dist, version)


def _unknown_hooks(pm: PluginManager, module) -> list[str]:
    """The names of `module`'s @hookimpl functions that are no ganbench hook."""
    names = []
    for name in dir(module):
        try:
            marked = pm.parse_hookimpl_opts(module, name) is not None
        except Exception:  # an attribute that cannot be inspected
            marked = False
        if marked and name not in KINDS.values():
            names.append(name)
    return names


def _whole_message(e: BaseException) -> str:
    """pluggy's validation errors say what is wrong on their later lines: keep them all, on one."""
    return " ".join(str(e).split())


# ---------------------------------------------------------------- registering


class RegistrationError(Exception):
    """A plugin registered something that breaks the contract."""


def check_factory(kind: str, name, factory) -> None:
    """Refuse at registration what could only fail later, inside a run."""
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise RegistrationError(f"{kind} name must be a non-empty string without surrounding spaces, got {name!r}")
    if not callable(factory):
        raise RegistrationError(f"{kind} {name!r}: factory {factory!r} is not callable")
    if kind == "loss" and inspect.isclass(factory) and not issubclass(factory, Loss):
        raise RegistrationError(f"loss {name!r}: {factory.__name__} is not a subclass of ganbench.contracts.Loss")
    if kind == "metric":
        problem = metric_problem(factory, name)
        if problem:
            raise RegistrationError(f"metric {name!r}: {problem}")
    if kind == "architecture":
        try:
            params = list(inspect.signature(factory).parameters.values())
        except (TypeError, ValueError):  # a builtin without a signature: let the run decide
            return
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(positional) < 2 and not any(p.kind is p.VAR_POSITIONAL for p in params):
            raise RegistrationError(f"architecture {name!r}: {getattr(factory, '__name__', factory)} must take (data, z_dim, **options)")


def build_registry(pm: PluginManager) -> Registry:
    """Call every plugin's register hooks and collect the names, refusing duplicates."""
    reg = Registry(broken=dict(pm.broken), skipped=dict(pm.skipped))
    for plugin_id, plugin in pm.list_name_plugin():
        dist, version = pm.distinfo.get(plugin_id, (plugin_id, "?"))
        found: list[Entry] = []

        def register(name, factory, kind, hook):
            check_factory(kind, name, factory)
            trace(f"  {plugin_id} {hook}: register({name!r}, {getattr(factory, '__qualname__', factory)!r})")
            found.append(Entry(name, kind, factory, plugin_id, dist, version))

        try:
            for kind, hook in KINDS.items():
                for impl in getattr(pm.hook, hook).get_hookimpls():
                    if impl.plugin is plugin:
                        trace(f"call {plugin_id}.{hook}(register)")
                        with contextlib.redirect_stdout(sys.stderr):
                            returned = impl.function(register=lambda n, f, k=kind, h=hook: register(n, f, k, h))
                        if returned is not None:
                            raise RegistrationError(
                                f"{hook} returned {type(returned).__name__}; hooks call register(name, factory) and return None"
                            )
        except RegistrationError as e:
            reg.broken[plugin_id] = str(e)
        except Exception as e:  # a buggy hook sets its plugin aside, not ganbench
            reg.broken[plugin_id] = f"hook raised {error_line(e)}"
        if plugin_id in reg.broken:
            trace(f"broken {plugin_id}: {reg.broken[plugin_id]}")
            continue
        seen: dict[tuple[str, str], str] = {(k, n): e.plugin for k, entries in reg.entries.items() for n, e in entries.items()}
        clash = None
        for e in found:
            if (e.kind, e.name) in seen:
                clash = f"{e.kind} {e.name!r} is registered by both {seen[e.kind, e.name]} and {plugin_id}"
                break
            seen[e.kind, e.name] = plugin_id
        if clash:
            reg.broken[plugin_id] = clash
            trace(f"broken {plugin_id}: {clash}")
            continue
        for e in found:
            reg.entries[e.kind][e.name] = e
        reg.plugins[plugin_id] = (dist, version)
    return reg


def load_registry(allow: Iterable[str] | None = None, no_plugins: bool = False) -> Registry:
    """The registry of the installed plugins (what the CLI uses)."""
    registry = build_registry(get_plugin_manager(allow=allow, no_plugins=no_plugins))
    allowed = list(allow) if allow is not None else allowed_from_env()
    registry.source = {"allow": sorted(allowed) if allowed is not None else None, "no_plugins": no_plugins}
    return registry


def rebuild_registry(source: dict) -> Registry:
    """The registry described by `Registry.source`, built again in this process."""
    if "modules" in source:
        import importlib

        modules = [importlib.import_module(m) for m in source["modules"]]
        return modules_registry(modules, builtins=source.get("builtins", True))
    return load_registry(source.get("allow"), source.get("no_plugins", False))


# The entry points of ganbench's own distribution (pyproject.toml), as modules: what a
# registry of chosen modules holds besides them (the test kit's, ganbench.testing).
BUILTIN_MODULES = ("architectures", "conditional", "datasets", "losses", "executors", "loggers", "callbacks", "metrics", "augments")


def modules_plugin_manager(modules: Iterable, builtins: bool = True) -> PluginManager:
    """A fresh plugin manager holding the built-ins (ganbench.builtin.*) and `modules` only,
    not what is installed: a test's or a worker's chosen plugins."""
    import importlib

    pm = PluginManager()
    if builtins:
        for name in BUILTIN_MODULES:
            module = importlib.import_module(f"ganbench.builtin.{name}")
            add_plugin(pm, module, f"{BUILTIN_DIST}:{name}", BUILTIN_DIST, _installed_version(BUILTIN_DIST))
    for module in modules:
        name = getattr(module, "__name__", str(module))
        dist = name.split(".")[0]  # the top-level package stands in for the distribution
        add_plugin(pm, module, f"{dist}:{name}", dist, _installed_version(dist))
    return pm


def modules_registry(modules: Iterable, builtins: bool = True) -> Registry:
    """The registry of the built-ins and `modules` (see modules_plugin_manager); its
    ``source`` names the modules, so that a worker process rebuilds it by importing them."""
    modules = list(modules)
    registry = build_registry(modules_plugin_manager(modules, builtins=builtins))
    registry.source = {"modules": [getattr(m, "__name__", str(m)) for m in modules], "builtins": builtins}
    return registry


def _installed_version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "?"
