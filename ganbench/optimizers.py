"""The optimizers a suite may name, the options each accepts, and building them."""

from __future__ import annotations

import torch

# name -> (torch class, the options a suite may set besides `name` and `lr`)
OPTIMIZERS = {
    "sgd": (torch.optim.SGD, {"momentum", "dampening", "nesterov", "weight_decay"}),
    "adam": (torch.optim.Adam, {"betas", "eps", "weight_decay", "amsgrad"}),
    "adamw": (torch.optim.AdamW, {"betas", "eps", "weight_decay", "amsgrad"}),
    "rmsprop": (torch.optim.RMSprop, {"alpha", "eps", "momentum", "weight_decay", "centered"}),
}


def build_optimizer(params, spec: dict, lr: float) -> torch.optim.Optimizer:
    """spec is a validated `optimizer` mapping; lr is passed separately (G's or D's)."""
    cls, _ = OPTIMIZERS[spec["name"]]
    options = {k: v for k, v in spec.items() if k not in ("name", "lr")}
    if "betas" in options:
        options["betas"] = tuple(options["betas"])
    return cls(params, lr=lr, **options)
