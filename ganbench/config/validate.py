"""Validation of a merged run config, section by section: every value checked before
anything runs, returned in canonical form."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from ..contracts import BUILTIN_FAMILIES
from ..keys import direction as known_direction
from ..optimizers import OPTIONS as OPTIMIZERS  # names and options only: no torch
from ..plugins import Registry
from ..store import D_WEIGHTS
from ..suggest import did_you_mean
from .defaults import (
    DEFAULT_CLASSIFIER_PRETRAIN_STEPS,
    DEFAULTS,
    EVAL_DEFAULTS,
    FREEZE,
    G_MODES,
    INCEPTION,
    MAX_EVAL_SAMPLES,
    MAX_LR,
    MAX_LR_RATIO,
    MAX_SEED,
    MIN_EVAL_SAMPLES,
    OPTIMIZER_BOUNDS,
    TF32_MODES,
)
from .errors import ConfigError, shown
from .values import auto_bool, boolean, choice, integer, interval, mapping, number, plugin_spec


def validate(cfg: dict, registry: Registry, arch_defaults: dict | None = None) -> dict:
    """Check every key of a merged config; return it normalized (canonical types)."""
    unknown = sorted(set(cfg) - set(DEFAULTS) - {"steps"})
    if unknown:
        known = [*sorted(DEFAULTS), "steps"]
        raise ConfigError(unknown[0], f"unknown key{did_you_mean(unknown[0], known)}; known keys: {', '.join(known)}")
    out: dict[str, Any] = {}
    out["dataset"] = plugin_spec(cfg, "dataset", registry)
    out["architecture"] = plugin_spec(cfg, "architecture", registry, skip=2, defaults=arch_defaults)
    out["loss"] = plugin_spec(cfg, "loss", registry)
    out["optimizer"] = optimizer_spec(cfg["optimizer"])
    out["lr_ratio"] = number("lr_ratio", cfg["lr_ratio"], low=0, high=MAX_LR_RATIO, low_open=True)
    out["lr_decay"] = number("lr_decay", cfg["lr_decay"], low=0, high=1, low_open=True)
    out["d_pretrain"] = d_pretrain_spec(cfg["d_pretrain"])
    out["freeze_d"] = choice("freeze_d", cfg["freeze_d"], FREEZE)
    for key in ("n_disc", "batch_size", "z_dim"):
        out[key] = integer(key, cfg[key], low=1)
    if ("epochs" in cfg) == ("steps" in cfg):
        raise ConfigError("epochs", "set exactly one of `epochs` and `steps`")
    length = "epochs" if "epochs" in cfg else "steps"
    out[length] = integer(length, cfg[length], low=1)
    out["eval"] = validate_eval(cfg["eval"], registry)
    out["log_every"] = interval("log_every", cfg["log_every"])
    out["grid_every"] = interval("grid_every", cfg["grid_every"], allow_none=True)
    out["seed"] = integer("seed", cfg["seed"], low=0, high=MAX_SEED)
    out["checkpoint_every"] = (
        "auto" if cfg["checkpoint_every"] == "auto" else interval("checkpoint_every", cfg["checkpoint_every"], allow_none=True)
    )
    out["keep_best"] = keep_best(cfg["keep_best"], registry)
    out["g_step_fresh_fake"] = boolean("g_step_fresh_fake", cfg["g_step_fresh_fake"])
    out["callbacks"] = callbacks_spec(cfg["callbacks"], registry)
    out["augment"] = "none" if cfg["augment"] in (None, "none") else plugin_spec({"augment": cfg["augment"]}, "augment", registry)
    out["fake_labels"] = choice("fake_labels", cfg["fake_labels"], ("data", "uniform"))
    if out["fake_labels"] != "data" and not getattr(
        registry.get("architecture", out["architecture"]["name"]).factory, "conditional", False
    ):
        raise ConfigError("fake_labels", f"applies to conditional architectures only; {out['architecture']['name']} is not one")
    out["precision"] = choice("precision", cfg["precision"], ("fp32", "bf16", "fp16"))
    for key in ("channels_last", "fused_optimizers", "cuda_graphs"):
        out[key] = auto_bool(key, cfg[key])
    tf32 = {True: "on", False: "off"}.get(cfg["tf32"], cfg["tf32"])  # YAML reads on/off as booleans
    out["tf32"] = choice("tf32", tf32, TF32_MODES)
    out["pack"] = pack_setting(cfg["pack"])
    out["budget"] = validate_budget_spec(cfg["budget"])
    ts = cfg["train_seconds"]
    out["train_seconds"] = None if ts is None else number("train_seconds", ts, low=0, high=math.inf, low_open=True)
    return out


def pack_setting(value):
    """auto | none | N (N >= 1; 1 means none)."""
    if value in ("auto", "none"):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return "none" if value == 1 else value
    raise ConfigError("pack", f"must be auto, none or a number of seeds >= 1, got {shown(value)}")


BUDGET_KINDS = ("g_updates", "d_updates", "images", "flops", "train_seconds")  # ganbench.budget says what each means


def validate_budget_spec(value: Any, where: str = "budget") -> dict | None:
    """None, or {kind: positive number} with exactly one kind of BUDGET_KINDS."""
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) != 1:
        raise ConfigError(
            where,
            f"must be a mapping of one of {', '.join(BUDGET_KINDS)} to a positive number, e.g. {{g_updates: 600}}; got {shown(value)}",
        )
    ((kind, amount),) = value.items()
    if kind not in BUDGET_KINDS:
        raise ConfigError(f"{where}.{kind}", f"unknown budget; known: {', '.join(BUDGET_KINDS)}")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount) or amount <= 0:
        raise ConfigError(f"{where}.{kind}", f"must be a positive number, got {shown(amount)}")
    if kind != "train_seconds" and kind != "flops" and amount != int(amount):
        raise ConfigError(f"{where}.{kind}", f"must be a whole number, got {shown(amount)}")
    return {kind: int(amount) if kind not in ("train_seconds", "flops") else float(amount)}


def callbacks_spec(value, registry: Registry) -> list[dict]:
    """A list of callback specs (`name` or {name, **options}), each checked like a plugin's."""
    if not isinstance(value, list):
        raise ConfigError("callbacks", f"must be a list of callbacks like [{{name: ema, decay: 0.999}}], got {shown(value)}")
    out = []
    for i, spec in enumerate(value):
        try:
            out.append(plugin_spec({"callback": spec}, "callback", registry))
        except ConfigError as e:
            raise ConfigError(f"callbacks[{i}]{e.key[len('callback') :]}", e.message) from None
    if len({c["name"] for c in out}) != len(out):
        raise ConfigError("callbacks", "names a callback twice")
    return out


def keep_best(value, registry: Registry | None = None) -> str:
    if value in (None, "none"):
        return "none"

    def direction(metric):  # ganbench's own keys, then those metric plugins declare
        if known_direction(metric) is not None or registry is None:
            return known_direction(metric)
        return registry.metric_directions().get(metric.split(".")[0])

    metric, _, how = str(value).partition(":")
    if not re.fullmatch(r"[A-Za-z0-9_.]+", metric) or how not in ("", "lower", "higher"):
        raise ConfigError("keep_best", f"must be none or METRIC[:lower|higher], got {value!r}")
    if not how and direction(metric) is None:
        raise ConfigError("keep_best", f"which way is better for {metric!r}? write {metric}:lower or {metric}:higher")
    return f"{metric}:{how or direction(metric)}"


def optimizer_spec(value) -> dict:
    spec = {"name": value} if isinstance(value, str) else dict(mapping("optimizer", value))
    name = choice("optimizer.name", spec.get("name"), tuple(OPTIMIZERS))
    allowed = OPTIMIZERS[name][1] | {"name", "lr"}
    for k in spec:
        if k not in allowed:
            options = sorted(allowed - {"name"})
            raise ConfigError(f"optimizer.{k}", f"not an option of {name}{did_you_mean(k, options)}; options: {', '.join(options)}")
    if "lr" not in spec:
        raise ConfigError("optimizer.lr", f"{name} needs a learning rate")
    out = {"name": name, "lr": number("optimizer.lr", spec["lr"], low=0, high=MAX_LR, low_open=True)}
    for k, v in spec.items():
        if k in ("betas",):
            if not (isinstance(v, (list, tuple)) and len(v) == 2):
                raise ConfigError("optimizer.betas", f"must be a list of two numbers, got {shown(v)}")
            out[k] = [number("optimizer.betas", b, low=0, high=1, high_open=True) for b in v]
        elif k in ("nesterov", "amsgrad", "centered"):
            if not isinstance(v, bool):
                raise ConfigError(f"optimizer.{k}", f"must be true or false, got {shown(v)}")
            out[k] = v
        elif k not in ("name", "lr"):
            low, high, high_open = OPTIMIZER_BOUNDS.get(k, (0, None, False))
            out[k] = number(f"optimizer.{k}", v, low=low, high=high, high_open=high_open)
    return out


def d_pretrain_spec(value):
    if value in (None, "none"):
        return "none"
    spec = mapping("d_pretrain", value)
    modes = [k for k in ("steps", "from_run", "classifier") if k in spec]
    extra = sorted(set(spec) - {"steps", "from_run", "classifier"})
    if extra or not modes or (len(modes) > 1 and modes != ["steps", "classifier"]):
        raise ConfigError("d_pretrain", "must be none, {steps: N}, {from_run: PATH} or {classifier: true, steps: N}")
    if "from_run" in spec:
        path = Path(str(spec["from_run"]))
        if (path / D_WEIGHTS).exists() and not (path / D_WEIGHTS).is_file():
            raise ConfigError("d_pretrain.from_run", f"{path / D_WEIGHTS} is not a regular file")
        if not (path / D_WEIGHTS).is_file():
            if (path / "run.json").is_file():  # a committed run: its record, not its weights
                raise ConfigError(
                    "d_pretrain.from_run",
                    f"{path} holds no D.pt: weights are not committed; re-create them by running that run's suite again with --rerun (and the --profile it was trained under)",
                )
            raise ConfigError("d_pretrain.from_run", f"{path} holds no D.pt (give a finished run's folder)")
        return {"from_run": str(path)}
    if "classifier" in spec:
        if spec["classifier"] is not True:
            raise ConfigError("d_pretrain.classifier", "must be true (or leave d_pretrain out)")
        steps = spec.get("steps", DEFAULT_CLASSIFIER_PRETRAIN_STEPS)
        return {"classifier": True, "steps": integer("d_pretrain.steps", steps, low=1)}
    return {"steps": integer("d_pretrain.steps", spec["steps"], low=1)}


def validate_eval(value, registry: Registry | None = None) -> dict:
    spec = {**EVAL_DEFAULTS, **mapping("eval", value)}
    extra = sorted(set(spec) - set(EVAL_DEFAULTS))
    if extra:
        raise ConfigError(f"eval.{extra[0]}", f"unknown key{did_you_mean(extra[0], EVAL_DEFAULTS)}; known keys: {', '.join(EVAL_DEFAULTS)}")
    out = {"every": interval("eval.every", spec["every"], allow_none=True)}
    for key in ("samples", "curve_samples"):
        out[key] = None if spec[key] is None else integer(f"eval.{key}", spec[key], MIN_EVAL_SAMPLES, MAX_EVAL_SAMPLES)
    real = spec["real_samples"]
    if isinstance(real, str) and real != "test":
        raise ConfigError("eval.real_samples", f"must be `test` or a number of training images, got {shown(real)}")
    out["real_samples"] = real if real == "test" else integer("eval.real_samples", real, MIN_EVAL_SAMPLES, MAX_EVAL_SAMPLES)
    out["batch_size"] = integer("eval.batch_size", spec["batch_size"], low=1)
    thr = spec["fid_threshold"]
    out["fid_threshold"] = None if thr is None else number("eval.fid_threshold", thr, low=0, low_open=True)
    inception = {True: "on", False: "off"}.get(spec["inception"], spec["inception"])  # YAML reads on/off as booleans
    out["inception"] = {"require": "on"}.get(inception, choice("eval.inception", inception, INCEPTION))
    weights = spec["inception_weights"]
    if weights is not None:
        if not isinstance(weights, str) or not Path(weights).expanduser().is_file():
            raise ConfigError("eval.inception_weights", f"must be an existing weights file, got {shown(weights)}")
    out["inception_weights"] = weights
    floor = spec["classifier_floor"]
    out["classifier_floor"] = None if floor is None else number("eval.classifier_floor", floor, low=0, high=1)
    out["mode_min_share"] = number("eval.mode_min_share", spec["mode_min_share"], low=0)
    out["confidence"] = number("eval.confidence", spec["confidence"], low=0, high=1, low_open=True)
    out["g_mode"] = choice("eval.g_mode", spec["g_mode"], G_MODES)
    out["metrics"] = metrics_spec(spec["metrics"], registry)
    return out


def metrics_spec(value, registry: Registry | None) -> dict:
    """eval.metrics: {name: {options} | null} (or a list of names), each checked like a plugin's options."""
    if isinstance(value, list):
        value = {name: {} for name in value}
    spec = mapping("eval.metrics", value)
    out = {}
    for name, options in spec.items():
        if options is None:
            options = {}
        if not isinstance(options, dict) or "name" in options:
            raise ConfigError(f"eval.metrics.{name}", f"must be a mapping of the metric's options, got {shown(options)}")
        if name in BUILTIN_FAMILIES:
            raise ConfigError(f"eval.metrics.{name}", "is measured in every run it applies to: its options are eval's own keys")
        if registry is None:
            raise ConfigError("eval.metrics", "metric plugins need the plugin registry to be checked")
        try:
            checked = plugin_spec({"metric": {"name": name, **options}}, "metric", registry)
        except ConfigError as e:
            raise ConfigError(
                f"eval.metrics.{name}{e.key[len('metric') :]}" if e.key.startswith("metric.") else "eval.metrics", e.message
            ) from None
        out[str(name)] = {k: v for k, v in checked.items() if k != "name"}
    return out
