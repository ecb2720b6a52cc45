"""Discriminator pretraining before the joint loop (the articles' "pretrain D" advice).

- ``{steps: N}``: D alone learns real vs. the untrained generator's samples.
- ``{from_run: PATH}``: D starts from another run's final weights.
- ``{classifier: true, steps: N}``: D's trunk learns the dataset's labels through a
  temporary linear head; D's own last layer is then trained in the joint loop.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn

from ..contracts import Discriminator, GanData, Loss
from ..optimizers import build_optimizer, implementation
from ..store import D_WEIGHTS, WeightsError, fit_weights, load_weights
from .rng import GlobalStreams
from .step import Pair, d_step


def pretrain_discriminator(
    cfg, D: Discriminator, G, loss: Loss, data: GanData, batches, device, donor: Path | None = None, pair=None, real=None
) -> float:
    """Pretrain D as configured; return the seconds spent (0 for none).

    donor: the from_run folder as this process sees it (the config's path is relative to
    where the suite was started, which a remote worker may not share). pair, real: the
    step's view of G and D (``engine.step.Pair``, or a conditional one) and its real
    batches, for `{steps: N}`; by default G and D themselves and `batches`.
    """
    spec = cfg["d_pretrain"]
    if spec == "none":
        return 0.0
    t0 = time.perf_counter()
    if "from_run" in spec:
        path = Path(donor or spec["from_run"]) / D_WEIGHTS
        try:
            fit_weights(D, load_weights(path, device), path)
        except WeightsError as e:
            raise ValueError(f"d_pretrain.from_run: {e}") from None
    elif "classifier" in spec:
        _as_classifier(cfg, D, data, device, spec["steps"])
    else:
        pair = pair or Pair(G, D, loss, GlobalStreams(device), cfg["batch_size"], cfg["z_dim"])
        _against_untrained_g(cfg, D, pair, real or batches.__next__, spec["steps"])
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def _d_optimizer(cfg, params):
    params = list(params)  # the run's fused_optimizers setting, as for the joint loop's D
    impl = implementation(cfg["optimizer"], params, params[0].device, cfg.get("fused_optimizers", "auto"))
    return build_optimizer(params, cfg["optimizer"], cfg["optimizer"]["lr"] * cfg["lr_ratio"], impl)


def _against_untrained_g(cfg, D, pair, real, steps):
    opt = _d_optimizer(cfg, D.parameters())
    D.train()
    for _ in range(steps):
        d_step(pair, opt, real())


def _as_classifier(cfg, D, data: GanData, device, steps):
    if data.train_labels is None or not data.num_classes:
        raise ValueError("d_pretrain.classifier needs a dataset with labels")
    x, y = data.train.to(device), data.train_labels.to(device)
    with torch.no_grad():
        n_features = D.features(GanData.as_float(x[:2])).flatten(1).shape[1]
    head = nn.Linear(n_features, data.num_classes).to(device)  # temporary, discarded after
    opt = _d_optimizer(cfg, list(D.trunk_parameters()) + list(head.parameters()))
    rng = torch.Generator().manual_seed(cfg["seed"])
    D.train()
    for _ in range(steps):
        idx = torch.randint(len(x), (cfg["batch_size"],), generator=rng).to(device)
        logits = head(D.features(GanData.as_float(x[idx])).flatten(1))  # (B, classes)
        ce = nn.functional.cross_entropy(logits, y[idx])
        opt.zero_grad(set_to_none=True)
        ce.backward()
        opt.step()
