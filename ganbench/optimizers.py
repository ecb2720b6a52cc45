"""The optimizers a suite may name, the options each accepts, and building them.

Validating a suite needs only the names and options (``OPTIONS``), not torch: the torch
classes are looked up when an optimizer is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: importing them at run time would load torch
    import torch


# name -> (the torch.optim class's name, the options a suite may set besides `name` and `lr`)
OPTIONS: dict[str, tuple[str, set[str]]] = {
    "sgd": ("SGD", {"momentum", "dampening", "nesterov", "weight_decay"}),
    "adam": ("Adam", {"betas", "eps", "weight_decay", "amsgrad"}),
    "adamw": ("AdamW", {"betas", "eps", "weight_decay", "amsgrad"}),
    "rmsprop": ("RMSprop", {"alpha", "eps", "momentum", "weight_decay", "centered"}),
}


def optimizer_class(name: str):
    """The torch.optim class behind a suite's optimizer name."""
    import torch

    return getattr(torch.optim, OPTIONS[name][0])


def build_optimizer(params, spec: dict, lr: float) -> torch.optim.Optimizer:
    """spec is a validated `optimizer` mapping; lr is passed separately (G's or D's)."""
    cls = optimizer_class(spec["name"])
    options = {k: v for k, v in spec.items() if k not in ("name", "lr")}
    if "betas" in options:
        options["betas"] = tuple(options["betas"])
    return cls(params, lr=lr, **options)


def __getattr__(name: str):
    # OPTIMIZERS, name -> (torch class, options), as this module offered before OPTIONS:
    # built on access, since it imports torch.
    if name == "OPTIMIZERS":
        return {k: (optimizer_class(k), options) for k, (_, options) in OPTIONS.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
