"""One run's configuration: the defaults, how layers merge, and validation.

A run's config is built from layers, later ones winning: DEFAULTS, then the loss's own
defaults (WGAN-GP wants 5 critic steps), then the suite's ``base``, its matrix cell and
the command line's ``--set``. Every value is checked before anything runs; an error
names the key and, where it knows it, the layer the value came from.
"""

from __future__ import annotations

import copy
import inspect
import math
import re
import reprlib
import typing
from pathlib import Path
from typing import Any

from .metrics.plugin import BUILTIN_FAMILIES  # names only: no torch
from .optimizers import OPTIONS as OPTIMIZERS  # names and options only: no torch
from .plugins import PluginError, Registry
from .store import D_WEIGHTS
from .suggest import did_you_mean

DEFAULTS: dict[str, Any] = {
    "dataset": "mnist5k",  # ships inside a pip package: works offline
    "architecture": "dcgan",
    "loss": "vanilla",
    # Adam(2e-4, beta1 0.5): the DCGAN paper's setting, which most GAN recipes start from.
    "optimizer": {"name": "adam", "lr": 2.0e-4, "betas": [0.5, 0.999]},
    "lr_ratio": 1.0,  # D's lr = G's lr * lr_ratio (TTUR-style balancing when != 1)
    "lr_decay": 1.0,  # multiplicative per epoch; 1.0 = constant lr
    "d_pretrain": "none",  # none | {steps: N} | {from_run: PATH} | {classifier: true, steps: N}
    "freeze_d": "none",  # none | all | trunk
    "n_disc": 1,  # D steps per G step
    "batch_size": 64,
    "z_dim": 100,  # the DCGAN paper's latent size
    "epochs": 1,  # or `steps: N` (G steps); setting one in a layer clears the other
    "eval": {"every": "1 epoch"},  # the other eval options: EVAL_DEFAULTS
    "log_every": "20 steps",  # losses and D accuracies are averaged over this interval
    "grid_every": "1 epoch",  # sample grid from a fixed noise batch; `none` to skip
    "seed": 0,
    # How often to save what a killed run needs to resume (ganbench.checkpoint): `auto` =
    # every 10 minutes of training, `N steps`/`N epochs`, or `none`. Not part of a run's id.
    "checkpoint_every": "auto",
    "keep_best": "none",  # METRIC[:lower|higher]: keep the best evaluation's weights in best.pt
    # G's update scores the fake batch of D's last update (one G forward per D update, as
    # the DCGAN tutorial and most reference code do); true draws a fresh batch for it (the
    # behaviour before this option: one more G forward per step, and one more update of
    # G's BatchNorm running statistics, which the eval-mode samples use).
    "g_step_fresh_fake": False,
    # Code that runs in the loop (ganbench.callbacks): [{name: ema, decay: 0.999}], ...
    "callbacks": [],
    # A transform of D's inputs, real and fake alike (ganbench.augment): none |
    # {name: diffaugment, policy: "color,translation,cutout"} | {name: ada, target: 0.6}.
    "augment": "none",
    # Conditional architectures (G(z, y), D(x, y)): the labels fake batches are drawn for:
    # `data` (the training set's class frequencies) | `uniform`.
    "fake_labels": "data",
    # fp32 | bf16 | fp16 (autocast; losses and penalties in fp32; fp16 needs CUDA). It
    # changes the numbers, so it is part of a run's identity (docs/metrics.md).
    "precision": "fp32",
    # Speed settings (ganbench.speed): how the recipe executes, recorded in run.json's
    # env.speed, not part of a run id. channels_last: auto = on for CUDA runs of
    # convolutional models. fused_optimizers: auto = fused Adam/AdamW/SGD on CUDA.
    # tf32: off (IEEE fp32, the default: "fp32" means fp32 on every GPU) | conv (PyTorch's
    # default: cuDNN convolutions in TF32) | on (matmuls too); evaluation is always IEEE.
    "channels_last": "auto",
    "fused_optimizers": "auto",
    "tf32": "off",
    # pack: auto | none | N. The seeds of a cell trained in one process as one stacked
    # model (ganbench.engine.packed), N at most per pack; auto = every seed of the cell on
    # CUDA (a small GAN's kernels are launch-bound there), none on the CPU, where vmap's
    # batched kernels gained nothing measurable (docs/metrics.md).
    "pack": "auto",
    # cuda_graphs: auto | true | false. The step captured in a CUDA graph and replayed
    # (ganbench.engine.graphs); auto is off until a GPU measurement shows it pays.
    "cuda_graphs": "auto",
    # Set by a suite-level `budget:` (ganbench.budget): the budget this run's length spends.
    # A record, not part of the run id (the `steps` it resolved to is).
    "budget": None,
    # Seconds of training (evaluation excluded) after which the loop stops at its next log
    # row and evaluates for the last time; null = no time limit (ganbench.budget).
    "train_seconds": None,
}
# Keys that change no number a run produces (when to checkpoint), and speed settings
# that change only how it is executed: never part of a run id. tf32 changes the low bits
# on Ampere and later GPUs, as cuDNN's algorithm choice does, and nothing on CPUs or
# older GPUs: the id names the recipe, env.speed how this device computed it.
NOT_IN_RUN_ID = ("checkpoint_every", "keep_best", "channels_last", "fused_optimizers", "tf32", "pack", "cuda_graphs", "budget")
# Recipe keys added after run ids were first published (run-id schema 1), with the value
# that reproduces what runs did before them: left out of the id while they hold it, so an
# upgrade never makes a finished run look unfinished. Add every new key here (dotted).
ADDED_DEFAULTS: dict[str, Any] = {
    "g_step_fresh_fake": True,
    "callbacks": [],
    "augment": "none",
    "fake_labels": "data",
    "precision": "fp32",
    "eval.metrics": {},
    "eval.g_mode": "eval",  # G was always sampled in eval mode (BatchNorm running statistics) before
    "train_seconds": None,  # no time limit
}


def identity(config: dict) -> dict:
    """The part of a resolved config that defines a run (hashed into its id)."""
    out = copy.deepcopy({k: v for k, v in config.items() if k not in NOT_IN_RUN_ID})
    for dotted, default in ADDED_DEFAULTS.items():
        *parents, leaf = dotted.split(".")
        node = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf in node and node[leaf] == default:
            del node[leaf]
    return out


# Evaluation options (ganbench.metrics). null = chosen per data kind by the evaluator.
EVAL_DEFAULTS: dict[str, Any] = {
    "every": "1 epoch",  # also evaluated at the last step; `none` = no evaluation at all
    "samples": None,  # final eval: 10,000 images (Lucic et al.) or 2,500 points (VEEGAN/PacGAN)
    "curve_samples": None,  # intermediate evals: 2,000 images (a trend at a fifth of the cost), 2,500 points
    "real_samples": "test",  # the real side: the held-out test split, or N random training images
    "batch_size": 256,  # fixed and recorded: Inception features depend on the batch size in fp32
    "fid_threshold": None,  # fid_domain to reach for time_to_fid_domain_s/_steps; null = not measured
    "inception": "auto",  # auto: when the weights are on this machine; require (or on): required; off: never
    "inception_weights": None,  # a local weights file; else $GANBENCH_INCEPTION_WEIGHTS, then torch's hub cache
    "classifier_floor": None,  # held-out accuracy the mode classifier must reach; null = the dataset's floor
    "mode_min_share": 0.1,  # a mode is covered with >= 10% of its fair share N/K of samples (at least 1); 0 = any sample
    "confidence": 0.9,  # confident_frac: share of samples whose top class probability is >= this
    "metrics": {},  # metric plugins besides the always-on families (metrics.plugin.BUILTIN_FAMILIES): {name: {option: value}} (ganbench.metrics.plugin)
    # How G is sampled for every metric: `eval` (BatchNorm running statistics: each sample a
    # function of its latent alone, as compare_gan and StudioGAN evaluate) or `train` (batch
    # statistics over eval.batch_size samples; G's running statistics are left untouched).
    "g_mode": "eval",
}
G_MODES = ("eval", "train")
TF32_MODES = ("off", "conv", "on")  # ganbench.speed.TF32
INCEPTION = ("auto", "on", "off", "require")  # require: a synonym of on (stored as on: same run id)
MIN_EVAL_SAMPLES = 10  # Inception score's 10 splits need at least one sample each
MAX_EVAL_SAMPLES = 1_000_000  # samples, curve_samples, real_samples: 100x the usual 10,000

# Bounds that keep a typo from passing validation and failing (or overflowing) in every run.
MAX_INT = 2**31 - 1  # any count (steps, batch size, ...): torch takes int64, nothing needs more
MAX_SEED = 2**31 - 1  # numpy's seed must be < 2**32, and the metrics seed with 10,000 + seed
MAX_LR = 10.0
MAX_LR_RATIO = 100.0
# Optimizer options besides lr and betas: (low, high, high excluded). Momentum or RMSprop's
# alpha of 1 or more makes the running averages grow without end or never move.
OPTIMIZER_BOUNDS = {
    "momentum": (0, 1, True),
    "alpha": (0, 1, True),
    "dampening": (0, 1, False),
    "eps": (0, 1, False),
    "weight_decay": (0, 10, False),
}

FREEZE = ("none", "all", "trunk")
NAMED = ("dataset", "architecture", "loss", "optimizer")  # `name` or {name: ..., options}
INTERVAL = re.compile(r"\s*(\d+)\s*(epoch|epochs|step|steps)\s*")  # fullmatch
DEFAULT_CLASSIFIER_PRETRAIN_STEPS = 200


class ConfigError(ValueError):
    """An invalid value; ``key`` is the dotted path of the offending key."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{one_line(key)}: {message}" if key else message)
        self.key = key
        self.message = message


# A user's value quoted in a message: a repr (quotes, escaped newlines), cut short, since
# a value can be megabytes long and the message must stay one short line.
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = 6
_REPR.maxdict = 4
_REPR.maxlevel = 3
shown = _REPR.repr


def one_line(text: str, limit: int = 300) -> str:
    """`text` on one line (control characters escaped: a YAML key may hold a newline),
    cut to about `limit` characters."""
    text = str(text)
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    return out[:limit] + "..." if len(text) > limit or len(out) > limit else out


# ---------------------------------------------------------------- merging layers


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


# ---------------------------------------------------------------- validation


def validate(cfg: dict, registry: Registry, arch_defaults: dict | None = None) -> dict:
    """Check every key of a merged config; return it normalized (canonical types)."""
    unknown = sorted(set(cfg) - set(DEFAULTS) - {"steps"})
    if unknown:
        known = [*sorted(DEFAULTS), "steps"]
        raise ConfigError(unknown[0], f"unknown key{did_you_mean(unknown[0], known)}; known keys: {', '.join(known)}")
    out: dict[str, Any] = {}
    out["dataset"] = _plugin(cfg, "dataset", registry)
    out["architecture"] = _plugin(cfg, "architecture", registry, skip=2, defaults=arch_defaults)
    out["loss"] = _plugin(cfg, "loss", registry)
    out["optimizer"] = _optimizer(cfg["optimizer"])
    out["lr_ratio"] = _number("lr_ratio", cfg["lr_ratio"], low=0, high=MAX_LR_RATIO, low_open=True)
    out["lr_decay"] = _number("lr_decay", cfg["lr_decay"], low=0, high=1, low_open=True)
    out["d_pretrain"] = _d_pretrain(cfg["d_pretrain"])
    out["freeze_d"] = _choice("freeze_d", cfg["freeze_d"], FREEZE)
    for key in ("n_disc", "batch_size", "z_dim"):
        out[key] = _int(key, cfg[key], low=1)
    if ("epochs" in cfg) == ("steps" in cfg):
        raise ConfigError("epochs", "set exactly one of `epochs` and `steps`")
    length = "epochs" if "epochs" in cfg else "steps"
    out[length] = _int(length, cfg[length], low=1)
    out["eval"] = _eval(cfg["eval"], registry)
    out["log_every"] = _interval("log_every", cfg["log_every"])
    out["grid_every"] = _interval("grid_every", cfg["grid_every"], allow_none=True)
    out["seed"] = _int("seed", cfg["seed"], low=0, high=MAX_SEED)
    out["checkpoint_every"] = (
        "auto" if cfg["checkpoint_every"] == "auto" else _interval("checkpoint_every", cfg["checkpoint_every"], allow_none=True)
    )
    out["keep_best"] = _keep_best(cfg["keep_best"], registry)
    out["g_step_fresh_fake"] = _bool("g_step_fresh_fake", cfg["g_step_fresh_fake"])
    out["callbacks"] = _callbacks(cfg["callbacks"], registry)
    out["augment"] = "none" if cfg["augment"] in (None, "none") else _plugin({"augment": cfg["augment"]}, "augment", registry)
    out["fake_labels"] = _choice("fake_labels", cfg["fake_labels"], ("data", "uniform"))
    if out["fake_labels"] != "data" and not getattr(
        registry.get("architecture", out["architecture"]["name"]).factory, "conditional", False
    ):
        raise ConfigError("fake_labels", f"applies to conditional architectures only; {out['architecture']['name']} is not one")
    out["precision"] = _choice("precision", cfg["precision"], ("fp32", "bf16", "fp16"))
    for key in ("channels_last", "fused_optimizers", "cuda_graphs"):
        out[key] = _auto_bool(key, cfg[key])
    tf32 = {True: "on", False: "off"}.get(cfg["tf32"], cfg["tf32"])  # YAML reads on/off as booleans
    out["tf32"] = _choice("tf32", tf32, TF32_MODES)
    out["pack"] = _pack(cfg["pack"])
    out["budget"] = validate_budget(cfg["budget"])
    ts = cfg["train_seconds"]
    out["train_seconds"] = None if ts is None else _number("train_seconds", ts, low=0, high=math.inf, low_open=True)
    return out


def _pack(value):
    """auto | none | N (N >= 1; 1 means none)."""
    if value in ("auto", "none"):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return "none" if value == 1 else value
    raise ConfigError("pack", f"must be auto, none or a number of seeds >= 1, got {shown(value)}")


def validate_budget(value):
    from .budget import validate_spec  # budget.py imports this module

    return validate_spec(value)


def _auto_bool(key: str, value):
    """auto | true | false -> "auto", True or False."""
    if value == "auto" or isinstance(value, bool):
        return value
    raise ConfigError(key, f"must be auto, true or false, got {shown(value)}")


def _callbacks(value, registry: Registry) -> list[dict]:
    """A list of callback specs (`name` or {name, **options}), each checked like a plugin's."""
    if not isinstance(value, list):
        raise ConfigError("callbacks", f"must be a list of callbacks like [{{name: ema, decay: 0.999}}], got {shown(value)}")
    out = []
    for i, spec in enumerate(value):
        try:
            out.append(_plugin({"callback": spec}, "callback", registry))
        except ConfigError as e:
            raise ConfigError(f"callbacks[{i}]{e.key[len('callback') :]}", e.message) from None
    if len({c["name"] for c in out}) != len(out):
        raise ConfigError("callbacks", "names a callback twice")
    return out


def _bool(key: str, value) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, f"must be true or false, got {shown(value)}")
    return value


def _keep_best(value, registry: Registry | None = None) -> str:
    if value in (None, "none"):
        return "none"
    from .metrics.keys import direction as known

    def direction(metric):  # ganbench's own keys, then those metric plugins declare
        if known(metric) is not None or registry is None:
            return known(metric)
        from .metrics.plugin import registry_direction

        return registry_direction(metric, registry)

    metric, _, how = str(value).partition(":")
    if not re.fullmatch(r"[A-Za-z0-9_.]+", metric) or how not in ("", "lower", "higher"):
        raise ConfigError("keep_best", f"must be none or METRIC[:lower|higher], got {value!r}")
    if not how and direction(metric) is None:
        raise ConfigError("keep_best", f"which way is better for {metric!r}? write {metric}:lower or {metric}:higher")
    return f"{metric}:{how or direction(metric)}"


def parse_interval(text: str) -> tuple[int, str]:
    """ "2 epochs" -> (2, "epoch"); "50 steps" -> (50, "step")."""
    n, unit = INTERVAL.fullmatch(str(text)).groups()
    return int(n), unit.rstrip("s")


def _interval(key: str, value, allow_none: bool = False) -> str:
    if allow_none and value in (None, "none"):
        return "none"
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value} steps"
    m = INTERVAL.fullmatch(value) if isinstance(value, str) else None
    if not m or int(m.group(1)) < 1:
        raise ConfigError(key, f"must be like '1 epoch' or '50 steps', got {shown(value)}")
    n, unit = int(m.group(1)), m.group(2).rstrip("s")
    return f"{n} {unit}" + ("s" if n != 1 else "")


def _number(key, value, low=None, high=None, low_open=False, high_open=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(key, f"must be a number, got {shown(value)}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ConfigError(key, f"must be {'>' if low_open else '>='} {low}, got {shown(value)}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ConfigError(key, f"must be {'<' if high_open else '<='} {high}, got {shown(value)}")
    return float(value)


def _int(key, value, low=-MAX_INT, high=MAX_INT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"must be an integer, got {shown(value)}")
    if value < low:
        raise ConfigError(key, f"must be >= {low:,}, got {shown(value)}")
    if value > high:
        raise ConfigError(key, f"must be <= {high:,}, got {shown(value)}")
    return value


def _choice(key, value, choices) -> str:
    if value not in choices:
        raise ConfigError(key, f"must be one of {', '.join(choices)}, got {shown(value)}{did_you_mean(value, choices)}")
    return value


def _mapping(key, value) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(key, f"must be a mapping, got {shown(value)}")
    return value


def _optimizer(value) -> dict:
    spec = {"name": value} if isinstance(value, str) else dict(_mapping("optimizer", value))
    name = _choice("optimizer.name", spec.get("name"), tuple(OPTIMIZERS))
    allowed = OPTIMIZERS[name][1] | {"name", "lr"}
    for k in spec:
        if k not in allowed:
            options = sorted(allowed - {"name"})
            raise ConfigError(f"optimizer.{k}", f"not an option of {name}{did_you_mean(k, options)}; options: {', '.join(options)}")
    if "lr" not in spec:
        raise ConfigError("optimizer.lr", f"{name} needs a learning rate")
    out = {"name": name, "lr": _number("optimizer.lr", spec["lr"], low=0, high=MAX_LR, low_open=True)}
    for k, v in spec.items():
        if k in ("betas",):
            if not (isinstance(v, (list, tuple)) and len(v) == 2):
                raise ConfigError("optimizer.betas", f"must be a list of two numbers, got {shown(v)}")
            out[k] = [_number("optimizer.betas", b, low=0, high=1, high_open=True) for b in v]
        elif k in ("nesterov", "amsgrad", "centered"):
            if not isinstance(v, bool):
                raise ConfigError(f"optimizer.{k}", f"must be true or false, got {shown(v)}")
            out[k] = v
        elif k not in ("name", "lr"):
            low, high, high_open = OPTIMIZER_BOUNDS.get(k, (0, None, False))
            out[k] = _number(f"optimizer.{k}", v, low=low, high=high, high_open=high_open)
    return out


def _d_pretrain(value):
    if value in (None, "none"):
        return "none"
    spec = _mapping("d_pretrain", value)
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
        return {"classifier": True, "steps": _int("d_pretrain.steps", steps, low=1)}
    return {"steps": _int("d_pretrain.steps", spec["steps"], low=1)}


def _eval(value, registry: Registry | None = None) -> dict:
    spec = {**EVAL_DEFAULTS, **_mapping("eval", value)}
    extra = sorted(set(spec) - set(EVAL_DEFAULTS))
    if extra:
        raise ConfigError(f"eval.{extra[0]}", f"unknown key{did_you_mean(extra[0], EVAL_DEFAULTS)}; known keys: {', '.join(EVAL_DEFAULTS)}")
    out = {"every": _interval("eval.every", spec["every"], allow_none=True)}
    for key in ("samples", "curve_samples"):
        out[key] = None if spec[key] is None else _int(f"eval.{key}", spec[key], MIN_EVAL_SAMPLES, MAX_EVAL_SAMPLES)
    real = spec["real_samples"]
    if isinstance(real, str) and real != "test":
        raise ConfigError("eval.real_samples", f"must be `test` or a number of training images, got {shown(real)}")
    out["real_samples"] = real if real == "test" else _int("eval.real_samples", real, MIN_EVAL_SAMPLES, MAX_EVAL_SAMPLES)
    out["batch_size"] = _int("eval.batch_size", spec["batch_size"], low=1)
    thr = spec["fid_threshold"]
    out["fid_threshold"] = None if thr is None else _number("eval.fid_threshold", thr, low=0, low_open=True)
    inception = {True: "on", False: "off"}.get(spec["inception"], spec["inception"])  # YAML reads on/off as booleans
    out["inception"] = {"require": "on"}.get(inception, _choice("eval.inception", inception, INCEPTION))
    weights = spec["inception_weights"]
    if weights is not None:
        if not isinstance(weights, str) or not Path(weights).expanduser().is_file():
            raise ConfigError("eval.inception_weights", f"must be an existing weights file, got {shown(weights)}")
    out["inception_weights"] = weights
    floor = spec["classifier_floor"]
    out["classifier_floor"] = None if floor is None else _number("eval.classifier_floor", floor, low=0, high=1)
    out["mode_min_share"] = _number("eval.mode_min_share", spec["mode_min_share"], low=0)
    out["confidence"] = _number("eval.confidence", spec["confidence"], low=0, high=1, low_open=True)
    out["g_mode"] = _choice("eval.g_mode", spec["g_mode"], G_MODES)
    out["metrics"] = _metrics(spec["metrics"], registry)
    return out


def _metrics(value, registry: Registry | None) -> dict:
    """eval.metrics: {name: {options} | null} (or a list of names), each checked like a plugin's options."""
    if isinstance(value, list):
        value = {name: {} for name in value}
    spec = _mapping("eval.metrics", value)
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
            checked = _plugin({"metric": {"name": name, **options}}, "metric", registry)
        except ConfigError as e:
            raise ConfigError(
                f"eval.metrics.{name}{e.key[len('metric') :]}" if e.key.startswith("metric.") else "eval.metrics", e.message
            ) from None
        out[str(name)] = {k: v for k, v in checked.items() if k != "name"}
    return out


def _plugin(cfg, kind, registry, skip=0, defaults=None) -> dict:
    """`name` or {name, **options} -> {name, **options}, checked against the factory."""
    value = cfg[kind]
    spec = {"name": value} if isinstance(value, str) else dict(_mapping(kind, value))
    name = spec.pop("name", None)
    if not isinstance(name, str):
        raise ConfigError(f"{kind}.name", f"must name a {kind}, got {shown(name)}")
    try:
        entry = registry.get(kind, name)
    except PluginError as e:
        raise ConfigError(kind, str(e)) from None
    params, hints = _signature(entry.factory, skip)
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
            spec[k] = _typed(f"{kind}.{k}", v, hints[k])
    for n, p in params.items():
        if p.default is p.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and n not in spec:
            raise ConfigError(f"{kind}.{n}", f"{kind} {shown(name)} needs this option")
    return {"name": name, **spec}


def _signature(factory, skip: int):
    target = factory.__init__ if inspect.isclass(factory) else factory
    params = dict(inspect.signature(factory).parameters)
    for n in list(params)[:skip]:
        params.pop(n)
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # unresolvable annotations: check names only
        hints = {}
    return params, {k: v for k, v in hints.items() if k in params}


def _typed(key, value, hint):
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
                return _typed(key, value, a)
            except ConfigError as e:
                errors.append(e.message)
        raise ConfigError(key, errors[0] if errors else f"invalid value {shown(value)}")
    if origin is list and len(args) == 1:  # list[int]: e.g. an MLP's layer widths
        if not isinstance(value, (list, tuple)):
            raise ConfigError(key, f"must be a list, got {shown(value)}")
        return [_typed(key, v, args[0]) for v in value]
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"must be true or false, got {shown(value)}")
    elif hint is int:
        return _int(key, value)
    elif hint is float:
        return _number(key, value)
    elif hint is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"must be a string, got {shown(value)}")
    return value
