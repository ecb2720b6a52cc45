"""What plugins give the runner: datasets, model pairs, losses and metrics.

Shapes use B for the batch, Z for the latent size and `*shape` for one sample's shape:
(C, H, W) for images, (F,) for 2-D points or tabular rows.

Importing this module does not import torch: plugins import it to register their
factories, and `ganbench --help`, `ganbench plugins` or a suite's validation must not pay
for torch. ``Discriminator`` (an ``nn.Module``) is defined on first use, which imports
torch then; annotations are strings (``from __future__ import annotations``).
"""

from __future__ import annotations

import inspect
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import keys

if TYPE_CHECKING:  # annotations only: importing them at run time would load torch
    import torch
    from torch import nn


DATA_KINDS = ("image", "points", "tabular")


@dataclass(frozen=True)
class DataSpec:
    """What an architecture needs to know about the data to build itself."""

    shape: tuple[int, ...]  # one sample: (C, H, W) or (F,)
    kind: str  # one of DATA_KINDS
    num_classes: int | None = None  # labelled classes (the modes a generator should cover)


@dataclass
class GanData:
    """A whole dataset held as tensors (small datasets stay in memory, even on the GPU).

    Images may be stored as uint8 in [0, 255] (4x less memory) and are scaled to [-1, 1]
    by ``as_float``; anything else is stored as float, already scaled or standardized.
    """

    train: torch.Tensor  # (N, *shape)
    kind: str  # one of DATA_KINDS
    train_labels: torch.Tensor | None = None  # (N,) int64 class of each sample
    test: torch.Tensor | None = None  # (M, *shape), held out: metrics compare against it
    test_labels: torch.Tensor | None = None  # (M,)
    num_classes: int | None = None
    modes: torch.Tensor | None = None  # (K, F) centres of a known mixture (ring8, grid25)
    mode_std: float | None = None  # the mixture's standard deviation
    info: dict[str, Any] = field(default_factory=dict)  # free-form provenance (source path...)

    @property
    def spec(self) -> DataSpec:
        return DataSpec(tuple(self.train.shape[1:]), self.kind, self.num_classes)

    @staticmethod
    def as_float(x: torch.Tensor) -> torch.Tensor:
        """uint8 images -> float in [-1, 1]; float data passes through."""
        import torch

        if x.dtype == torch.uint8:
            return x.float().div_(127.5).sub_(1.0)
        return x.float()


def _define_discriminator():
    from torch import nn

    class Discriminator(nn.Module):
        """A discriminator split into a trunk (``features``) and a last layer (``head``).

        The split is what lets the runner freeze the trunk (``freeze_d: trunk``) and pretrain
        the trunk as a classifier (``d_pretrain: {classifier: true}``). Subclasses define
        ``features(x)`` returning (B, ...) and set ``self.head`` to a module mapping those
        features to one raw score per sample.
        """

        __qualname__ = "Discriminator"  # as if defined at the top of this module: pickle finds it there

        head: nn.Module

        def features(self, x: torch.Tensor) -> torch.Tensor:
            raise NotImplementedError

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.features(x)).reshape(x.shape[0])  # (B,) raw scores (logits)

        def trunk_parameters(self) -> list[nn.Parameter]:
            head = {id(p) for p in self.head.parameters()}
            return [p for p in self.parameters() if id(p) not in head]

    return Discriminator


_DEFINE_LOCK = threading.Lock()


def __getattr__(name: str):
    """`Discriminator` is built on first access (importing torch), then stays one class."""
    if name == "Discriminator":
        with _DEFINE_LOCK:
            if "Discriminator" not in globals():
                globals()["Discriminator"] = _define_discriminator()
        return globals()["Discriminator"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), "Discriminator"})


@dataclass
class Models:
    """What an architecture's ``build`` returns.

    generator: (B, Z) noise -> (B, *shape) samples in the data's range ([-1, 1] for images).
    discriminator: (B, *shape) -> (B,) raw scores; higher means "real".

    A conditional pair (``conditional``; the architecture's ``build.conditional = True``
    says so before anything is built) takes class labels y (B,) int64 in [0, K) too:
    generator(z, y) -> samples of class y; discriminator(x, y) -> (B,) scores. The loop
    passes real batches with their labels and draws y for fake ones (``fake_labels``).
    ``aux_weight`` > 0 (ACGAN): discriminator(x, y) returns (scores (B,), class logits
    (B, K)), and aux_weight x the cross-entropy of those logits joins D's loss (real and
    fake) and G's (fake).
    """

    generator: nn.Module
    discriminator: nn.Module  # a Discriminator (its class is defined on first use, below)
    conditional: bool = False
    aux_weight: float = 0.0


class Loss:
    """An adversarial objective. Scores are the discriminator's raw (B,) outputs.

    Class attributes a loss may set:
      defaults: run-config values this loss needs when the suite leaves them unset,
        e.g. WGAN-GP's ``{"n_disc": 5, "optimizer": {...}}``.
      architecture_defaults: architecture options applied when the architecture accepts
        them and the suite leaves them unset, e.g. ``{"d_norm": "layer"}`` for a critic
        whose gradient penalty must not mix samples through BatchNorm.
      g_needs_real: the generator loss also needs the scores of a real batch
        (relativistic losses); the runner then passes them to ``g_loss``.
    """

    defaults: dict[str, Any] = {}
    architecture_defaults: dict[str, Any] = {}
    g_needs_real: bool = False

    def d_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def g_loss(self, fake_scores: torch.Tensor, real_scores: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def penalty(self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor | None:
        """An extra D loss term that needs D itself (e.g. a gradient penalty)."""
        return None

    def accuracy(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Share of real samples D calls real, and of fake samples it calls fake.

        The default threshold is a score of 0 (probability 0.5 for a logit); losses whose
        scores live elsewhere (LSGAN's 0/1 targets) override it.
        """
        return (real_scores > 0).float().mean(), (fake_scores <= 0).float().mean()


# ---------------------------------------------------------------- metrics
# A metric plugin's contract; the guide to writing one is ganbench.metrics.plugin's docstring
# (metric authors import these from there).

DIRECTIONS = ("higher", "lower", "none")
# ganbench's own families (metrics.families), on in every run whose data kind they apply
# to, in this order; the registry names under which ganbench.builtin.metrics registers them.
BUILTIN_FAMILIES = ("mode-coverage", "domain-fidelity", "inception-fidelity", "mixture-coverage")


@dataclass
class Context:
    """What a metric may use besides the samples."""

    data: GanData  # the whole dataset (train, test, labels, info)
    dataset: dict  # the run's dataset config: {name, **options}
    device: torch.device
    seed: int  # the run's seed: seed anything random from it (e.g. seed + 1)
    final: bool  # the last evaluation (eval.samples samples) or an intermediate one
    samples: int  # how many samples the final evaluation draws (eval.samples)
    classifier: Any = None  # the dataset's mode classifier (ganbench.metrics.classifier), images with labels only
    notes: list[str] = field(default_factory=list)  # one-line remarks for run.json
    eval: dict = field(default_factory=dict)  # the run's validated `eval` options (config.EVAL_DEFAULTS)
    # Images: the real side every feature-space metric compares against (eval.real_samples,
    # in a fixed random order) and its content hash (a key for caches of real features).
    real: torch.Tensor | None = None  # uint8 (M, C, H, W)
    real_hash: str | None = None
    # A conditional generator's samples: the class each was drawn for, (N,) int64 on the
    # CPU, aligned with the samples a metric is called with; None for an unconditional one.
    labels: torch.Tensor | None = None
    conditional: bool = False  # the run's architecture takes labels (known at set-up, before any sample)


class Metric:
    """Subclass, set ``directions`` and ``kinds``, and implement ``__call__``."""

    directions: dict[str, str] = {}
    kinds: tuple[str, ...] = DATA_KINDS
    ranges: dict[str, tuple] = {}  # {key: (low, high)}, None for no bound: where the report clips intervals
    final_only: bool = False  # True: measured at the last evaluation only (an expensive metric)
    feature_space: str | None = None  # the feature space it measures in, if any (run.json protocol `feature_spaces`)

    def setup(self, ctx: Context) -> str | None:
        """Prepare once per run (find weights, fit features); return why this run cannot
        measure the metric (a note for run.json: the metric is then left out), or None."""
        return None

    def protocol(self, ctx: Context) -> dict:
        """Fields that make two values of this metric comparable (flat: str -> scalar): the
        same for every seed of a cell (sample counts, a library's version, a fixed seed of
        the metric's own), never a per-run value such as ctx.seed: the report pools the
        seeds of a cell only when their protocols are equal."""
        return {}

    def __call__(self, samples: torch.Tensor, ctx: Context) -> dict[str, float]:
        raise NotImplementedError


def metric_problem(factory, name: str | None = None) -> str | None:
    """Why a metric factory registered as `name` breaks the contract, or None."""
    directions = getattr(factory, "directions", None)
    if not isinstance(directions, dict) or not directions:
        return f"{getattr(factory, '__name__', factory)} must declare `directions`, a non-empty {{key: higher|lower|none}}"
    for key, how in directions.items():
        if not isinstance(key, str) or not key or how not in DIRECTIONS:
            return f"directions[{key!r}] = {how!r}: keys are non-empty strings, values one of {', '.join(DIRECTIONS)}"
    taken = sorted(set(directions) & set(keys.DIRECTIONS))
    if taken and name not in BUILTIN_FAMILIES:
        return f"{taken[0]!r} is a key of ganbench's own metrics: name yours differently"
    kinds = getattr(factory, "kinds", None)
    if not isinstance(kinds, (tuple, list)) or not kinds or not set(kinds) <= set(DATA_KINDS):
        return f"`kinds` must be a non-empty subset of {DATA_KINDS}, got {kinds!r}"
    ranges = getattr(factory, "ranges", None) or {}
    if not isinstance(ranges, dict):
        return f"`ranges` must be a dict {{key: (low, high)}}, got {ranges!r}"
    for key, bounds in ranges.items():
        if key not in directions:
            return f"ranges[{key!r}]: not a key the metric declares in `directions`"
        ok = isinstance(bounds, (tuple, list)) and len(bounds) == 2
        ok = ok and all(b is None or (isinstance(b, (int, float)) and not isinstance(b, bool)) for b in bounds)
        if not ok or (None not in bounds and bounds[0] > bounds[1]):
            return f"ranges[{key!r}] = {bounds!r}: expected (low, high) numbers or None, low <= high"
    if inspect.isclass(factory) and not issubclass(factory, Metric):
        return f"{factory.__name__} is not a subclass of ganbench.metrics.plugin.Metric"
    return None
