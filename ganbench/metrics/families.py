"""ganbench's built-in metric families, as metric plugins (``ganbench.metrics.plugin``).

They are registered through the ``register_metrics`` hook like a third party's metrics
(``ganbench.builtin.metrics``) and differ in one way only: the evaluator turns them on in
every run whose data they apply to (``plugin.BUILTIN_FAMILIES``), where a plugin is on
only when a run names it in ``eval.metrics``. Their options are the run's ``eval`` keys
(``mode_min_share``, ``confidence``, ``inception``...), read from ``ctx.eval``, and their
protocol fields are recorded without a ``<metric>.`` prefix, as they were before the hook.

- ``mode-coverage``: images with labels; the mode classifier's top class per sample.
- ``domain-fidelity``: FID/KID/IS/precision/recall in the mode classifier's feature space.
- ``inception-fidelity``: FID/IS/KID in Inception-v3's space, when its weights are here.
- ``mixture-coverage``: 2-D mixtures with known centres (VEEGAN / PacGAN protocol).

torch, torchvision and torch-fidelity are imported inside the methods: registering these
classes (``ganbench plugins``, validating a suite) must not load them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import keys
from .plugin import Context, Metric

if TYPE_CHECKING:
    import torch


def _declared(names: tuple[str, ...]) -> dict[str, str]:
    return {k: keys.DIRECTIONS[k] for k in names}


def _no_classifier(ctx: Context) -> str | None:
    if ctx.classifier is None:
        return f"domain metrics and mode coverage absent: dataset {ctx.dataset.get('name')} has no labels to train a classifier on"
    return None


def _fidelity_protocol(ctx: Context) -> dict:
    """torch-fidelity's settings shared by both feature spaces."""
    from . import fidelity

    return {
        "kid_subset_size": min(fidelity.KID_SUBSET_SIZE, ctx.samples, len(ctx.real)),
        "kid_subsets": fidelity.KID_SUBSETS,
        "kid_subsets_curve": fidelity.KID_SUBSETS_CURVE,
        "isc_splits": fidelity.ISC_SPLITS,
    }


class ModeCoverage(Metric):
    """How many of the K classes the samples cover, and how evenly (mode_kl)."""

    directions = _declared((keys.MODES_COVERED, keys.MODES_TOTAL, keys.MODE_KL, keys.CONFIDENT_FRAC))
    kinds = ("image",)

    def setup(self, ctx: Context) -> str | None:
        why = _no_classifier(ctx)
        if why is None:
            from . import coverage

            # Stacked data's labels already name the joint mode (base-k digits per channel).
            self.real_hist = coverage.class_histogram(ctx.data.train_labels, ctx.classifier.num_modes)  # (K,)
        return why

    def protocol(self, ctx: Context) -> dict:
        from . import coverage

        return {
            "mode_min_share": ctx.eval["mode_min_share"],
            "confidence": ctx.eval["confidence"],
            "confident_rule": coverage.CONFIDENT_RULE,
            "mode_kl_reference": "train labels",
        }

    def __call__(self, samples: torch.Tensor, ctx: Context) -> dict[str, float]:
        from . import coverage

        probs, real_conf = ctx.classifier.assess(samples)  # (N, K), (N,)
        return coverage.image_coverage(probs, real_conf, self.real_hist, ctx.eval["mode_min_share"], ctx.eval["confidence"])


class DomainFidelity(Metric):
    """FID/KID/IS/precision/recall with the mode classifier as the feature extractor."""

    directions = _declared(keys.DOMAIN_KEYS)
    kinds = ("image",)
    feature_space = "domain"

    def setup(self, ctx: Context) -> str | None:
        return _no_classifier(ctx)

    def protocol(self, ctx: Context) -> dict:
        from . import fidelity

        return {**_fidelity_protocol(ctx), "prc_neighborhood": fidelity.PRC_NEIGHBORHOOD, "prc_samples": min(ctx.samples, len(ctx.real))}

    def __call__(self, samples: torch.Tensor, ctx: Context) -> dict[str, float]:
        from . import fidelity

        subsets = fidelity.KID_SUBSETS if ctx.final else fidelity.KID_SUBSETS_CURVE
        return fidelity.domain_metrics(ctx.classifier, samples, ctx.real, ctx.real_hash, ctx.device, ctx.eval["batch_size"], subsets)


class InceptionFidelity(Metric):
    """FID/IS/KID in torch-fidelity's Inception-v3 space (``eval.inception``: auto/on/off)."""

    directions = _declared(keys.INCEPTION_KEYS)
    kinds = ("image",)
    feature_space = "inception"

    def setup(self, ctx: Context) -> str | None:
        from . import fidelity

        if ctx.eval["inception"] == "off":
            return "Inception metrics absent: turned off (eval.inception: off)"
        self.weights, why = fidelity.find_inception_weights(ctx.eval["inception_weights"])
        if self.weights is None and ctx.eval["inception"] == "on":
            raise ValueError(f"eval.inception is on but the Inception weights are missing: {why}")
        return None if self.weights is not None else f"Inception metrics absent: {why}"

    def protocol(self, ctx: Context) -> dict:
        return {**_fidelity_protocol(ctx), "inception_weights": str(self.weights)}

    def __call__(self, samples: torch.Tensor, ctx: Context) -> dict[str, float]:
        from . import fidelity

        subsets = fidelity.KID_SUBSETS if ctx.final else fidelity.KID_SUBSETS_CURVE
        return fidelity.inception_metrics(self.weights, samples, ctx.real, ctx.real_hash, ctx.device, ctx.eval["batch_size"], subsets)


class MixtureCoverage(Metric):
    """Modes covered by high-quality samples (within 3 sigma of the nearest centre)."""

    directions = _declared((keys.MODES_COVERED, keys.MODES_TOTAL, keys.HIGH_QUALITY_FRAC, keys.MODE_KL, keys.MODE_JSD))
    kinds = ("points",)

    def setup(self, ctx: Context) -> str | None:
        if ctx.data.modes is None:
            return f"mixture coverage absent: dataset {ctx.dataset.get('name')} has no known mode centres"
        return None

    def protocol(self, ctx: Context) -> dict:
        from . import coverage

        data = ctx.data
        return {
            "mode_assignment": "nearest centre",
            "mode_histogram": coverage.MIXTURE_HISTOGRAM,
            "high_quality_sigmas": coverage.HQ_SIGMAS,
            "mode_std": data.mode_std,
            "modes": len(data.modes),
        }

    def __call__(self, samples: torch.Tensor, ctx: Context) -> dict[str, float]:
        from . import coverage

        data = ctx.data
        labels = data.train_labels  # None: the mixture's weights are taken as uniform
        real_hist = None if labels is None else coverage.class_histogram(labels, len(data.modes))
        out = coverage.mixture_coverage(samples, data.modes, data.mode_std, real_hist)
        if out[keys.HIGH_QUALITY_FRAC] == 0 and coverage.NO_HIGH_QUALITY not in ctx.notes:
            ctx.notes.append(coverage.NO_HIGH_QUALITY)
        return out
