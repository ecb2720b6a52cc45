"""Mode coverage: which classes (modes) the generator's samples land in, and how evenly.

Images: the mode-coverage classifier labels each sample (its top real class, as the
Stacked-MNIST papers count modes: VEEGAN, PacGAN `stacked_MNIST_experiments`); a sample is
*confident* only when the classifier's top class of all K+1 is a real one (not its non-data
class, ``metrics.nondata``) with probability >= eval.confidence.

2-D mixtures (ring8, grid25): PacGAN's evaluation (fjxmlzn/PacGAN,
synthetic_data_experiments/PacGAN/pacgan/extensions.py, ``MetricLogger.do``): each sample
goes to its nearest centre and is *high quality* within 3 sigma of it; only high-quality
samples enter the mode histogram, from which come the modes covered (at least one sample),
mode_kl (against the real mode shares) and PacGAN's JSD to the uniform distribution. With
no high-quality sample the histogram is empty: mode_kl and mode_jsd are null (NaN here).
"""

from __future__ import annotations

import math

import torch

from .. import keys

HQ_SIGMAS = 3.0  # "high quality": within 3 standard deviations of the nearest centre (VEEGAN)
KL_EPS = 1e-6  # floor of the real histogram: a class missing from a small real split keeps KL finite
# Recorded in run.json's protocol (a changed definition must never pool with the old one).
CONFIDENT_RULE = "real class of K+1 (non-data class) with p >= confidence"
MIXTURE_HISTOGRAM = "high-quality samples"  # PacGAN MetricLogger.do; before: all samples by nearest centre
NO_HIGH_QUALITY = (
    "mode_kl and mode_jsd are null at an evaluation where no sample is high quality (within 3 sigma of a mode): the mode histogram is empty"
)


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


def jsd(p: torch.Tensor, q: torch.Tensor) -> float:
    """Jensen-Shannon divergence in nats (0 to ln 2) of two histograms (PacGAN's JSD_core)."""
    p, q = p.double() / p.sum(), q.double() / q.sum()
    m = (p + q) / 2

    def kl(a):
        hit = a > 0
        return float((a[hit] * (a[hit] / m[hit]).log()).sum())

    return 0.5 * kl(p) + 0.5 * kl(q)


def covered_threshold(n: int, num_classes: int, min_share: float) -> int:
    """Samples a class needs to count as covered: min_share of its fair share N/K, at least 1."""
    return max(1, math.ceil(min_share * n / num_classes))


def image_coverage(probs: torch.Tensor, real_conf: torch.Tensor, real_hist: torch.Tensor, min_share: float, confidence: float) -> dict:
    """Coverage of classifier probabilities of the real classes (N, K) and the real
    confidence (N,) (``ModeClassifier.assess``) against the real class histogram (K,)."""
    n, k = probs.shape
    labels = probs.argmax(1)
    counts = torch.bincount(labels, minlength=k)
    return {
        keys.MODES_COVERED: int((counts >= covered_threshold(n, k, min_share)).sum()),
        keys.MODES_TOTAL: k,
        keys.MODE_KL: mode_kl(class_histogram(labels, k), real_hist),
        keys.CONFIDENT_FRAC: float((real_conf >= confidence).float().mean()),
    }


def mixture_coverage(points: torch.Tensor, centres: torch.Tensor, std: float, real_hist: torch.Tensor | None = None) -> dict:
    """Coverage of 2-D samples (N, 2) of a mixture with centres (K, 2) and std sigma."""
    k = len(centres)
    points = torch.nan_to_num(points.double(), nan=1e6, posinf=1e6, neginf=-1e6)  # a broken G is far from everything
    dist = torch.cdist(points, centres.double())  # (N, K)
    nearest_d, nearest = dist.min(1)
    hq = nearest_d <= HQ_SIGMAS * std
    counts = torch.bincount(nearest[hq], minlength=k)  # (K,) the high-quality mode histogram
    real_hist = torch.full((k,), 1.0 / k) if real_hist is None else real_hist
    empty = not bool(hq.any())
    return {
        keys.MODES_COVERED: int((counts > 0).sum()),
        keys.MODES_TOTAL: k,
        keys.HIGH_QUALITY_FRAC: float(hq.double().mean()),
        keys.MODE_KL: math.nan if empty else mode_kl(class_histogram(nearest[hq], k), real_hist),
        keys.MODE_JSD: math.nan if empty else jsd(counts, torch.ones(k)),
    }
