"""Checks of single values (numbers, choices, intervals, booleans) and of a plugin's options
against its factory's signature."""

from __future__ import annotations

import inspect
import math
import typing

from ..plugins import PluginError
from ..suggest import did_you_mean
from .defaults import INTERVAL, MAX_INT
from .errors import ConfigError, shown


def parse_interval(text: str) -> tuple[int, str]:
    """ "2 epochs" -> (2, "epoch"); "50 steps" -> (50, "step")."""
    n, unit = INTERVAL.fullmatch(str(text)).groups()
    return int(n), unit.rstrip("s")


def interval(key: str, value, allow_none: bool = False) -> str:
    if allow_none and value in (None, "none"):
        return "none"
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value} steps"
    m = INTERVAL.fullmatch(value) if isinstance(value, str) else None
    if not m or int(m.group(1)) < 1:
        raise ConfigError(key, f"must be like '1 epoch' or '50 steps', got {shown(value)}")
    n, unit = int(m.group(1)), m.group(2).rstrip("s")
    return f"{n} {unit}" + ("s" if n != 1 else "")


def number(key, value, low=None, high=None, low_open=False, high_open=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(key, f"must be a number, got {shown(value)}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ConfigError(key, f"must be {'>' if low_open else '>='} {low}, got {shown(value)}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ConfigError(key, f"must be {'<' if high_open else '<='} {high}, got {shown(value)}")
    return float(value)


def integer(key, value, low=-MAX_INT, high=MAX_INT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"must be an integer, got {shown(value)}")
    if value < low:
        raise ConfigError(key, f"must be >= {low:,}, got {shown(value)}")
    if value > high:
        raise ConfigError(key, f"must be <= {high:,}, got {shown(value)}")
    return value


def choice(key, value, choices) -> str:
    if value not in choices:
        raise ConfigError(key, f"must be one of {', '.join(choices)}, got {shown(value)}{did_you_mean(value, choices)}")
    return value


def mapping(key, value) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(key, f"must be a mapping, got {shown(value)}")
    return value


def auto_bool(key: str, value):
    """auto | true | false -> "auto", True or False."""
    if value == "auto" or isinstance(value, bool):
        return value
    raise ConfigError(key, f"must be auto, true or false, got {shown(value)}")


def boolean(key: str, value) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, f"must be true or false, got {shown(value)}")
    return value


def plugin_spec(cfg, kind, registry, skip=0, defaults=None) -> dict:
    """`name` or {name, **options} -> {name, **options}, checked against the factory."""
    value = cfg[kind]
    spec = {"name": value} if isinstance(value, str) else dict(mapping(kind, value))
    name = spec.pop("name", None)
    if not isinstance(name, str):
        raise ConfigError(f"{kind}.name", f"must name a {kind}, got {shown(name)}")
    try:
        entry = registry.get(kind, name)
    except PluginError as e:
        raise ConfigError(kind, str(e)) from None
    params, hints = signature(entry.factory, skip)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for k, v in (defaults or {}).items():
        if k in params and k not in spec:
            spec[k] = v
    for k, v in spec.items():
        if k not in params and not takes_any:
            known = [n for n, p in params.items() if p.kind is not p.VAR_KEYWORD]
            raise ConfigError(
                f"{kind}.{k}", f"not an option of {kind} {shown(name)}{did_you_mean(k, known)}; options: {', '.join(known) or 'none'}"
            )
        if k in hints:
            spec[k] = typed(f"{kind}.{k}", v, hints[k])
    for n, p in params.items():
        if p.default is p.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and n not in spec:
            raise ConfigError(f"{kind}.{n}", f"{kind} {shown(name)} needs this option")
    return {"name": name, **spec}


def signature(factory, skip: int):
    target = factory.__init__ if inspect.isclass(factory) else factory
    params = dict(inspect.signature(factory).parameters)
    for n in list(params)[:skip]:
        params.pop(n)
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # unresolvable annotations: check names only
        hints = {}
    return params, {k: v for k, v in hints.items() if k in params}


def typed(key, value, hint):
    """Check `value` against a simple annotation: int, float, str, bool, Literal, X | None, list[X]."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(key, f"must be one of {', '.join(map(str, args))}, got {shown(value)}{did_you_mean(value, args)}")
        return value
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return typed(key, value, a)
            except ConfigError as e:
                errors.append(e.message)
        raise ConfigError(key, errors[0] if errors else f"invalid value {shown(value)}")
    if origin is list and len(args) == 1:  # list[int]: e.g. an MLP's layer widths
        if not isinstance(value, (list, tuple)):
            raise ConfigError(key, f"must be a list, got {shown(value)}")
        return [typed(key, v, args[0]) for v in value]
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"must be true or false, got {shown(value)}")
    elif hint is int:
        return integer(key, value)
    elif hint is float:
        return number(key, value)
    elif hint is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"must be a string, got {shown(value)}")
    return value
