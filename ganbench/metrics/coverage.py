"""Mode coverage: which classes (modes) the generator's samples land in, and how evenly.

Images: the mode-coverage classifier labels each sample. 2-D mixtures (ring8, grid25):
each sample goes to its nearest centre and is *high quality* within 3 sigma of it; a mode
is covered when it has at least one high-quality sample (the VEEGAN / PacGAN protocol).
"""

from __future__ import annotations

import math

import torch

from . import keys

HQ_SIGMAS = 3.0  # "high quality": within 3 standard deviations of the nearest centre (VEEGAN)
KL_EPS = 1e-6  # floor of the real histogram: a class missing from a small real split keeps KL finite


def class_histogram(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(N,) int labels -> (K,) shares summing to 1."""
    counts = torch.bincount(labels.reshape(-1).long(), minlength=num_classes).double()
    return counts / counts.sum().clamp_min(1)


def mode_kl(gen_hist: torch.Tensor, real_hist: torch.Tensor) -> float:
    """KL(generated || real) in nats; classes the generator never hits contribute 0."""
    q = real_hist.double().clamp_min(KL_EPS)
    q = q / q.sum()
    p = gen_hist.double()
    hit = p > 0
    return float((p[hit] * (p[hit] / q[hit]).log()).sum())


def covered_threshold(n: int, num_classes: int, min_share: float) -> int:
    """Samples a class needs to count as covered: min_share of its fair share N/K, at least 1."""
    return max(1, math.ceil(min_share * n / num_classes))


def image_coverage(probs: torch.Tensor, real_hist: torch.Tensor, min_share: float, confidence: float) -> dict:
    """Coverage of classifier probabilities (N, K) against the real class histogram (K,)."""
    n, k = probs.shape
    conf, labels = probs.max(1)
    counts = torch.bincount(labels, minlength=k)
    return {
        keys.MODES_COVERED: int((counts >= covered_threshold(n, k, min_share)).sum()),
        keys.MODES_TOTAL: k,
        keys.MODE_KL: mode_kl(class_histogram(labels, k), real_hist),
        keys.CONFIDENT_FRAC: float((conf >= confidence).float().mean()),
    }


def mixture_coverage(points: torch.Tensor, centres: torch.Tensor, std: float, real_hist: torch.Tensor | None = None) -> dict:
    """Coverage of 2-D samples (N, 2) of a mixture with centres (K, 2) and std sigma."""
    k = len(centres)
    points = torch.nan_to_num(points.double(), nan=1e6, posinf=1e6, neginf=-1e6)  # a broken G is far from everything
    dist = torch.cdist(points, centres.double())  # (N, K)
    nearest_d, nearest = dist.min(1)
    hq = nearest_d <= HQ_SIGMAS * std
    covered = torch.bincount(nearest[hq], minlength=k) > 0
    real_hist = torch.full((k,), 1.0 / k) if real_hist is None else real_hist
    return {
        keys.MODES_COVERED: int(covered.sum()),
        keys.MODES_TOTAL: k,
        keys.HIGH_QUALITY_FRAC: float(hq.double().mean()),
        keys.MODE_KL: mode_kl(class_histogram(nearest, k), real_hist),
    }
