"""What plugins give the runner: datasets, model pairs and losses.

Shapes use B for the batch, Z for the latent size and `*shape` for one sample's shape:
(C, H, W) for images, (F,) for 2-D points or tabular rows.

Importing this module does not import torch: plugins import it to register their
factories, and `ganbench --help`, `ganbench plugins` or a suite's validation must not pay
for torch. ``Discriminator`` (an ``nn.Module``) is defined on first use, which imports
torch then; annotations are strings (``from __future__ import annotations``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
