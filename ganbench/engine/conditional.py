"""Conditional runs in the step: batches with labels, fakes drawn for labels, D(x, y).

The step (``engine.step``) treats samples and scores as opaque values it moves between
the pair's methods, calling only ``.detach()`` and ``.float()`` on them. For a conditional
pair a sample is a ``Labelled`` batch (images and the classes they are of, or were drawn
for) and D's output a ``Scores`` (scores, ACGAN's class logits, the labels), so the same
step trains a conditional model: the pair unpacks them for the architecture and the loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .step import Pair


@dataclass
class Labelled:
    x: torch.Tensor  # (B, *shape)
    y: torch.Tensor  # (B,) int64 classes

    def detach(self) -> Labelled:
        return Labelled(self.x.detach(), self.y)

    def float(self) -> Labelled:
        return Labelled(self.x.float(), self.y)


@dataclass
class Scores:
    scores: torch.Tensor  # (B,) D's raw scores
    logits: torch.Tensor | None  # (B, K) ACGAN's class logits, else None
    labels: torch.Tensor  # (B,) the classes the batch was scored as

    def detach(self) -> Scores:
        return Scores(self.scores.detach(), None if self.logits is None else self.logits.detach(), self.labels)

    def float(self) -> Scores:
        return Scores(self.scores.float(), None if self.logits is None else self.logits.float(), self.labels)


class LabelledBatches:
    """Real batches with their labels: next() -> Labelled((B, *shape), (B,))."""

    def __init__(self, batches, labels: torch.Tensor):
        self.batches, self.labels = batches, labels  # labels (N,) on the batches' device

    def __next__(self) -> Labelled:
        idx = self.batches.indices()
        return Labelled(self.batches.take(idx), self.labels[idx])


class FakeLabels:
    """The classes fake batches are drawn for (`fake_labels`): `data`, the training set's
    class frequencies (a random training label per sample); `uniform`, every class alike.
    Drawn from the run's own stream."""

    def __init__(self, mode: str, labels: torch.Tensor, classes: int, streams):
        self.mode, self.labels, self.classes, self.streams = mode, labels, classes, streams

    def draw(self, n: int) -> torch.Tensor:
        if self.mode == "uniform":
            return self.streams.randint(self.classes, n)
        return self.labels[self.streams.randint(len(self.labels), n)]


class ConditionalPair(Pair):
    """One run's conditional G(z, y) and D(x, y) for the step (see the module docstring).

    aux_weight > 0 (ACGAN): D returns (scores, class logits) and aux_weight x their
    cross-entropy joins D's loss (real and fake) and G's (fake)."""

    def __init__(self, G, D, loss, streams, batch_size: int, z_dim: int, labels: FakeLabels, aux_weight: float = 0.0, augment=None):
        super().__init__(G, D, loss, streams, batch_size, z_dim, augment)
        self.g_module, self.d_module = G, D
        self.labels, self.aux_weight = labels, aux_weight
        self.G, self.D = self._generate, self._score

    def noise(self):
        return self.streams.randn(*self.shape), self.labels.draw(self.shape[0])  # (B, Z), (B,)

    def _generate(self, latent) -> Labelled:
        z, y = latent
        return Labelled(self.g_module(z, y), y)

    def _score(self, batch: Labelled) -> Scores:
        x = self.augment(batch.x) if self.augment is not None else batch.x
        out = self.d_module(x, batch.y)
        scores, logits = out if self.aux_weight else (out, None)
        return Scores(scores, logits, batch.y)

    def _aux(self, *scored: Scores) -> torch.Tensor:
        return self.aux_weight * sum(F.cross_entropy(s.logits.float(), s.labels) for s in scored)

    def d_loss(self, real_s: Scores, fake_s: Scores):
        if self.augment is not None:
            self.augment.observe(real_s.scores.detach())
        loss = self.loss.d_loss(real_s.scores, fake_s.scores)
        return loss + self._aux(real_s, fake_s) if self.aux_weight else loss

    def g_loss(self, fake_s: Scores, real_s: Scores | None):
        loss = self.loss.g_loss(fake_s.scores, None if real_s is None else real_s.scores)
        return loss + self._aux(fake_s) if self.aux_weight else loss

    def accuracy(self, real_s: Scores, fake_s: Scores):
        return self.loss.accuracy(real_s.scores, fake_s.scores)

    def penalty(self, real: Labelled, fake: Labelled):
        """The loss's penalty at D(., y) with the real batch's labels (interpolates of a real
        and a fake image are scored as the real one's class)."""
        return self.loss.penalty(_AtLabels(self, real.y), real.x, fake.x)


class _AtLabels(torch.nn.Module):
    def __init__(self, pair: ConditionalPair, y: torch.Tensor):
        super().__init__()
        self._pair, self._y = [pair], y

    def forward(self, x):
        return self._pair[0]._score(Labelled(x, self._y)).scores
