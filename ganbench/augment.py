"""Transforms of D's inputs: what sits between a batch and the discriminator.

An augment is a plugin kind: a factory registered with the ``register_augments`` hook,
``make(**options) -> Augment``, named in a run's config as ``augment: {name: diffaugment,
policy: color,translation,cutout}``. The training step applies it to every batch before
every D call, real and fake alike (D's updates, G's update through D, a loss penalty's
D), so it must be differentiable w.r.t. its input: G learns through it. It draws its
random numbers from torch's global generator, which is the run's own stream (seeded from
the run's seed). The built-ins (``ganbench.builtin.augments``):

- ``diffaugment``: DiffAugment (Zhao et al. 2020): colour (brightness, saturation,
  contrast), translation (up to 1/8 of the image, zero padding) and cutout (a square of
  half the image's side), each applied to every sample with its own random parameters.
- ``ada``: adaptive discriminator augmentation (Karras et al. 2020): a pipeline of
  geometric and colour transforms, each applied with probability p, and p adjusted every
  few D updates from D's overfitting signal r_t = E[sign(D(real))] towards a target (0.6);
  p and r_t are logged in the history (``ada_p``, ``ada_rt``).

Everything an augment keeps (ADA's p) is in its ``state_dict``: checkpoints save it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: registering an augment must not import torch
    import torch


class Augment:
    """Subclass and implement ``__call__``; the other methods are optional."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, *shape) in the data's range -> the same shape, differentiable w.r.t. x."""
        raise NotImplementedError

    def observe(self, real_scores: torch.Tensor) -> None:
        """After each of D's updates: D's raw scores (B,) of the augmented real batch,
        still on the device (read them without a host sync)."""

    def log(self) -> dict[str, float]:
        """Values to add to each history row (called at the row, when the loop syncs anyway)."""
        return {}

    def to(self, device: torch.device) -> Augment:
        """Move any state tensor to the run's device; return self."""
        return self

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def make_augment(spec, registry) -> Augment | None:
    """The run config's `augment` ("none" or {name, **options}) from the registry."""
    if spec in (None, "none"):
        return None
    entry = registry.get("augment", spec["name"])
    augment = entry.factory(**{k: v for k, v in spec.items() if k != "name"})
    if not isinstance(augment, Augment):
        raise TypeError(f"augment {entry.name!r} ({entry.plugin}) returned {type(augment).__name__}, not Augment")
    return augment
