"""A run's defaults (every key a run config has), the defaults of its `eval` section, and the
bounds and choices validation checks against."""

from __future__ import annotations

import copy
import re
from typing import Any

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
