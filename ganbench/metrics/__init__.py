"""Scoring runs: what the training loop calls at each eval interval and at the end.

``make_evaluator(cfg, data, device)`` builds an Evaluator; the loop calls
``evaluator(G, step) -> {metric: number}`` at ``eval.every`` and at the last step, whose
values become the run's final metrics. Intermediate evaluations use ``eval.curve_samples``
samples, the last one ``eval.samples``. The evaluator's ``protocol`` (a flat mapping) and
``notes`` (one-line strings) go into run.json beside the numbers.

Throughput (d_step_ms, g_step_ms, peak_mem_mb) is measured by the loop with
``metrics.cost.StepTimer``; losses and train_img_per_s come from the loop itself.
"""

from __future__ import annotations

# The evaluator and its helpers import torch, torchvision and torch-fidelity; they are
# loaded on first use, so that registering metric plugins (ganbench.metrics.plugin) and
# reading result keys (ganbench.metrics.keys) stay light: `ganbench plugins`, `--help`
# and validating a suite never import torch.
_LAZY = {"Evaluator", "make_evaluator", "registry_direction", "SAMPLES", "CURVE_SAMPLES", "NOISE_SEED"}


def __getattr__(name: str):
    if name in _LAZY:
        from . import evaluator

        return getattr(evaluator, name)
    raise AttributeError(f"module 'ganbench.metrics' has no attribute {name!r}")
