"""Scoring runs: what the training loop calls at each eval interval and at the end.

Training throughput and losses come from the loop itself (ganbench.train); sample-quality
and mode-coverage metrics plug in here.
"""

from __future__ import annotations

import torch

from ..contracts import GanData


def make_evaluator(cfg: dict, data: GanData, device: torch.device):
    """An ``evaluate(generator, step) -> {metric: number}`` for this run, or None."""
    return None
