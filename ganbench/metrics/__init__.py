"""Scoring runs: the evaluator (``evaluator.py``), result keys (``keys.py``), the mode
classifier, coverage, torch-fidelity, step timing and metric plugins (``plugin.py``)."""

from __future__ import annotations

# The evaluator and its helpers import torch, torchvision and torch-fidelity; they are
# loaded on first use, so that registering metric plugins (ganbench.metrics.plugin) and
# reading result keys (ganbench.keys) stay light: `ganbench plugins`, `--help`
# and validating a suite never import torch.
_LAZY = {"Evaluator", "make_evaluator", "SAMPLES", "CURVE_SAMPLES", "NOISE_SEED"}


def __getattr__(name: str):
    if name == "count_run_flops":  # FLOPs of one training step (flops.py), for run.json
        from .flops import count_run

        return count_run
    if name in _LAZY:
        from . import evaluator

        return getattr(evaluator, name)
    raise AttributeError(f"module 'ganbench.metrics' has no attribute {name!r}")
