"""Building what a run needs from the plugin registry: its data, models and loss.

Used by the training worker, by the up-front checks of a suite and by the report (which
rebuilds generators from run.json), so it depends on nothing that executes runs.
"""

from __future__ import annotations

import json
import platform
import random
from pathlib import Path

import numpy as np
import torch

from .contracts import Discriminator, GanData, Loss, Models
from .plugins import Registry


class Builder:
    """Instantiates a run's dataset, models and loss from the registry.

    Datasets are loaded once per distinct dataset config and shared by the runs of one
    process (a worker trains many runs on the same data).
    """

    def __init__(self, registry: Registry):
        self.registry = registry
        self._data: dict[str, GanData] = {}

    def data(self, spec: dict) -> GanData:
        key = json.dumps(spec, sort_keys=True)
        if key not in self._data:
            entry = self.registry.get("dataset", spec["name"])
            data = entry.factory(**_options(spec))
            _expect(data, GanData, "dataset", entry)
            problem = data_problem(data)
            if problem:
                raise ValueError(f"dataset {entry.name!r} ({entry.plugin}) breaks the GanData contract: {problem}")
            self._data[key] = data
        return self._data[key]

    def models(self, cfg: dict, data: GanData) -> Models:
        entry = self.registry.get("architecture", cfg["architecture"]["name"])
        models = entry.factory(data.spec, cfg["z_dim"], **_options(cfg["architecture"]))
        _expect(models, Models, "architecture", entry)
        _expect(models.discriminator, Discriminator, "architecture's discriminator", entry)
        if models.conditional != bool(getattr(entry.factory, "conditional", False)):
            raise TypeError(
                f"architecture {entry.name!r} ({entry.plugin}) returned Models(conditional={models.conditional}) but its factory's "
                "`conditional` attribute says otherwise: set both"
            )
        return models

    def loss(self, cfg: dict) -> Loss:
        entry = self.registry.get("loss", cfg["loss"]["name"])
        loss = entry.factory(**_options(cfg["loss"]))
        _expect(loss, Loss, "loss", entry)
        return loss


def data_problem(data: GanData) -> str | None:
    """What in a plugin's GanData would train on garbage without a word, or None.

    Checked once when the dataset is loaded (docs/plugins.md, Datasets): a contract
    broken here would make every metric of every run on it meaningless.
    """
    from .contracts import DATA_KINDS

    x = data.train
    if data.kind not in DATA_KINDS:
        return f"kind {str(data.kind)[:40]!r} is not one of {', '.join(DATA_KINDS)}"
    if not isinstance(x, torch.Tensor) or x.dim() < 2 or len(x) == 0:
        return "train must be a non-empty tensor (N, *shape)"
    if data.kind == "image" and x.dim() != 4:
        return f"images must be (N, C, H, W), got shape {tuple(x.shape)}"
    if x.dtype != torch.uint8 and not x.is_floating_point():
        return f"train must be uint8 images or floats, got {x.dtype}"
    for name, t in (("test", data.test),):
        if t is not None and (not isinstance(t, torch.Tensor) or tuple(t.shape[1:]) != tuple(x.shape[1:]) or t.dtype != x.dtype):
            return f"{name} must have train's sample shape {tuple(x.shape[1:])} and dtype {x.dtype}"
    if x.is_floating_point():
        if not torch.isfinite(x).all():
            return "train holds NaN or infinite values"
        if data.kind == "image" and (x.min() < -1 - 1e-3 or x.max() > 1 + 1e-3):
            return f"float images must lie in [-1, 1] (or be uint8 in [0, 255]), got [{x.min().item():.3g}, {x.max().item():.3g}]"
    for name, labels, n in (
        ("train_labels", data.train_labels, len(x)),
        ("test_labels", data.test_labels, None if data.test is None else len(data.test)),
    ):
        if labels is None:
            continue
        if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.dtype not in (torch.int64, torch.int32):
            return f"{name} must be an int64 tensor (N,)"
        if n is not None and len(labels) != n:
            return f"{name} has {len(labels)} labels for {n} samples"
        if data.num_classes and len(labels) and (labels.min() < 0 or labels.max() >= data.num_classes):
            return f"{name} must lie in [0, num_classes={data.num_classes})"
    return None


def _options(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k != "name"}


def _expect(obj, cls, what, entry):
    if not isinstance(obj, cls):
        raise TypeError(f"{what} {entry.name!r} ({entry.plugin}) returned {type(obj).__name__}, not {cls.__name__}")


def stored_config(cfg, registry: Registry) -> dict:
    """A run.json's config validated like a suite's before anything is built from it (a
    tampered run.json must not make the report allocate 128 GB or read /dev/zero).

    d_pretrain is not checked: rebuilding a finished run's models never reads its donor.
    Raises ConfigError naming the key."""
    from .config import ConfigError, resolve

    if not isinstance(cfg, dict):
        raise ConfigError("config", "must be a mapping")
    layer = {k: v for k, v in cfg.items() if k != "d_pretrain"}
    return {**resolve([("run.json config", layer)], registry), "d_pretrain": cfg.get("d_pretrain", "none")}


def seed_everything(seed: int) -> None:
    """Seed every global RNG a run may draw from, from the run's seed alone."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # CPU and every CUDA device


# ---------------------------------------------------------------- devices


def resolve_device(spec: str) -> torch.device:
    """auto -> the GPU when there is one; cuda[:N] must exist."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ValueError(f"--devices: unknown device {spec!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--devices {spec}: CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--devices {spec}: only {torch.cuda.device_count()} CUDA device(s)")
    elif device.type != "cpu":
        raise ValueError(f"--devices: unsupported device {spec!r}; use auto, cpu, cuda or cuda:N")
    return device


def resolve_devices(spec: str) -> list[torch.device]:
    """`--devices`: a comma-separated list; `auto` is every visible GPU, else the CPU.

    A bare `cuda` also means every visible GPU (runs are spread over them).
    """
    out: list[torch.device] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if part in ("auto", "cuda") and torch.cuda.is_available():
            found = [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
        else:
            found = [resolve_device(part)]
        out += [d for d in found if d not in out]
    if not out:
        raise ValueError(f"--devices: no device in {spec!r}")
    if len({d.type for d in out}) > 1:
        raise ValueError(f"--devices {spec}: mixing the CPU and GPUs in one suite would mix cost measurements; choose one")
    return out


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"
