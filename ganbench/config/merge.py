"""How a run's config is built from layers, later ones winning, and where an error came from."""

from __future__ import annotations

import copy
from typing import Any

from ..plugins import Registry
from .defaults import DEFAULTS, NAMED
from .errors import ConfigError
from .validate import validate


def expand_dotted(layer: dict) -> dict:
    """{"optimizer.lr": 0.1} -> {"optimizer": {"lr": 0.1}}."""
    out: dict = {}
    for key, value in layer.items():
        parts = str(key).split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(key, "conflicts with a non-mapping value of the same key")
        node[parts[-1]] = copy.deepcopy(value)
    return out


def merge(base: dict, layer: dict) -> dict:
    """Deep-merge `layer` over `base`.

    Mappings merge key by key, except when both name a different `name` (another
    plugin or optimizer): then the layer replaces the mapping, so switching Adam for SGD
    does not drag Adam's `betas` along. Setting `epochs` clears `steps` and vice versa.
    """
    out = copy.deepcopy(base)
    layer = expand_dotted(layer)
    if "epochs" in layer and "steps" in layer:
        raise ConfigError("epochs", "set exactly one of `epochs` and `steps`")
    for key, value in layer.items():
        if key in ("epochs", "steps"):
            out.pop("steps" if key == "epochs" else "epochs", None)
        old = out.get(key)
        old_name = old.get("name") if isinstance(old, dict) else old
        if isinstance(value, dict) and (isinstance(old, dict) or (isinstance(old, str) and key in NAMED)):
            if value.get("name", old_name) == old_name:
                old = old if isinstance(old, dict) else {"name": old}
                out[key] = merge(old, value)
                continue
        out[key] = copy.deepcopy(value)
    return out


def _sets(layer: dict, key: str) -> bool:
    """Does this layer set `key` (dotted), or a mapping containing it?"""
    node: Any = expand_dotted(layer)
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
        if not isinstance(node, dict):
            return True
    return True


def resolve(layers: list[tuple[str, dict]], registry: Registry) -> dict:
    """Merge labelled layers over the defaults and validate; errors name their layer."""
    user: dict = {}
    for label, layer in layers:
        try:
            user = merge(user, layer)
        except ConfigError as e:
            raise ConfigError(_where(label, e.key), e.message) from None
    try:
        loss_factory, arch_factory = _factory(user, "loss", registry), _factory(user, "architecture", registry)
        # An architecture's recipe (SNGAN: 5 D steps, Adam betas 0, 0.9), then the loss's.
        cfg = merge(DEFAULTS, getattr(arch_factory, "defaults", {}) or {})
        cfg = merge(cfg, getattr(loss_factory, "defaults", {}) or {})
        cfg = merge(cfg, user)
        return validate(cfg, registry, getattr(loss_factory, "architecture_defaults", {}))
    except ConfigError as e:
        for label, layer in reversed(layers):
            parts = e.key.split(".")
            if any(_sets(layer, ".".join(parts[:i])) for i in range(len(parts), 0, -1)):
                raise ConfigError(_where(label, e.key), e.message) from None
        raise


def _factory(user: dict, kind: str, registry: Registry):
    """The factory the merged user layers name for `kind`, or None (validation says why)."""
    name = user.get(kind, DEFAULTS[kind])
    name = name.get("name") if isinstance(name, dict) else name
    if isinstance(name, str) and name in registry.entries[kind]:
        return registry.get(kind, name).factory
    return None


def _where(label: str, key: str) -> str:
    """The key as the user wrote it: `base.optimizer.lr`, `matrix.loss`, `--set epochs`."""
    return f"{label} {key}" if label.startswith("--") else f"{label}.{key}"
