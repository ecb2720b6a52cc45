"""The mode-coverage classifier: a small CNN per labelled image dataset, trained once, cached.

It labels generated images (mode coverage) and is the `domain` feature space of
torch-fidelity (penultimate layer for FID/KID/precision-recall, logits for IS).

Channel-stacked datasets (Stacked MNIST) say so with ``data.info["channel_classes"] = k``:
every channel is an independently labelled image with k classes, and a sample's label is
the base-k number of its channel labels, channel 0 first (k**C modes). The classifier is
then trained on single channels and applied to each channel.

A classifier is cached under $GANBENCH_CACHE (default ~/.cache/ganbench)/classifiers,
keyed by dataset name, options, the recipe version and a hash of the data itself, and
refused when its held-out accuracy is below the dataset's floor: labels from a weak
classifier would make every coverage number meaningless.

Besides the K classes it has a (K+1)-th, *non-data* (``metrics.nondata``): noise, constant,
pixel-shuffled, blurred and blob images made from each training batch. Its labels, the IS
logits and the class probabilities of ``predict`` are over the K real classes only; the
extra class decides ``confident`` (``assess``): a sample counts only when its top class of
all K+1 is a real one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import uuid
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from ..contracts import GanData
from . import nondata

CLASSIFIER_VERSION = 4  # part of the cache key: bump when the recipe below changes (3: seeded initial weights; 4: non-data class)

# Held-out accuracy floors. MNIST-like digits are easy for a small CNN (>99% on full
# MNIST); the 5k subset and the 8x8 digits have less to learn from; Fashion-MNIST tops
# out near 91-93% for small CNNs; CIFAR-10 near 70% for this tiny net.
FLOORS = {
    "mnist": 0.98,
    "mnist5k": 0.95,
    "fashion-mnist": 0.88,
    "digits": 0.93,  # recipe 4's non-data class costs a point: 94.5% on the 200 held-out digits at 16x16 (recipe 3: 96.0%)
    "stacked-mnist": 0.98,  # per channel: the MNIST classifier
    "cifar10": 0.65,  # a 2-layer CPU-trained CNN; not verified offline (no CIFAR-10 here)
}
DEFAULT_FLOOR = 0.80  # a third party's dataset: well above chance for any sensible labelling

FEATURE_DIM = 64  # penultimate width: small, so FID's covariance is well-conditioned on ~500 real samples
WIDTH = 16  # first conv layer's channels for images of 16 px and more
TINY_WIDTH = 32  # below 16 px (8x8 digits) a layer costs ~12x less per image: afford a wider one
BATCH_SIZE = 128
TARGET_IMAGES = 120_000  # images seen in training: ~27 epochs of mnist5k (augmented) ...
MIN_EPOCHS = 8  # ... but at least 8 epochs: Fashion-MNIST reaches ~89.5% (2 epochs: 83%)
MAX_EPOCHS = 40  # caps tiny datasets (digits: 1,600 images; more epochs only overfit)
AUGMENT_BELOW = 20_000  # augment small training sets only: large ones converge slower with it
LR = 2e-3

_LOADED: dict[str, "ModeClassifier"] = {}  # cache file -> model, shared by all runs of a process


class ClassifierError(ValueError):
    """The classifier cannot be trusted (below its floor) or cannot be built (no labels)."""


class SmallCNN(nn.Module):
    """(B, C, H, W) float in [0, 1] -> features (B, FEATURE_DIM), logits (B, K)."""

    def __init__(self, in_channels: int, num_classes: int, size: int):
        super().__init__()
        first_stride = 2 if size >= 16 else 1  # 8x8 digits keep their resolution for one layer
        w = WIDTH if size >= 16 else TINY_WIDTH
        # Strided convolutions, no full-resolution layer: ~0.3 MMAC per 28x28 image, so it
        # trains in seconds on a 2-core CPU (mnist5k: ~97% held out; digits: ~96%).
        self.trunk = nn.Sequential(
            nn.Conv2d(in_channels, w, 5, stride=first_stride, padding=2),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),  # any input size (8x8 digits, 28x28, 32x32) -> 4x4
            nn.Flatten(),
            nn.Linear(2 * w * 16, FEATURE_DIM),
            nn.ReLU(),
        )
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, x):
        h = self.trunk(x)
        return h, self.head(h)


class ModeClassifier(nn.Module):
    """Labels a dataset's images; accepts uint8 or [0, 1] images, 3-channel tiled or not.

    forward: (B, 3 or C, H, W) -> (features (B, C'*FEATURE_DIM), logits (B, modes)), where
    C' is the number of channels for a stacked dataset and 1 otherwise.
    """

    def __init__(self, data_channels: int, size: int, classes: int, channel_classes: int | None = None):
        super().__init__()
        self.data_channels = data_channels
        self.channel_classes = channel_classes
        per_channel = channel_classes is not None
        self.classes = channel_classes if per_channel else classes  # real classes of the net (per channel)
        self.net = SmallCNN(1 if per_channel else data_channels, self.classes + 1, size)  # + the non-data class
        self.num_modes = channel_classes**data_channels if per_channel else classes
        self.accuracy = math.nan  # held-out accuracy over the real classes (per channel for stacked data)
        self.non_data_rejected = math.nan  # held-out non-data images (from the test split) put in the non-data class
        self.floor = math.nan
        self.key = ""
        self.hash = ""  # weights_hash(): the feature space's identity, recorded in the protocol
        self.trained_here = False  # trained by this process (rather than loaded from the cache)
        self.train_s = 0.0

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """(B, >=C, H, W) uint8 or float -> the net's input: (B or B*C, C or 1, H, W) in [0, 1]."""
        x = x[:, : self.data_channels]  # grayscale arrives tiled to 3 channels
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        if self.channel_classes is not None:
            x = x.reshape(-1, 1, *x.shape[2:])
        return x

    def forward(self, x: torch.Tensor):
        """-> (features, logits of the real modes): the non-data logit is left out."""
        b = x.shape[0]
        feats, logits = self.net(self.prepare(x))
        logits = logits[:, : self.classes]
        if self.channel_classes is None:
            return feats, logits
        per = F.log_softmax(logits, 1).reshape(b, self.data_channels, -1)  # (B, C, k)
        joint = per[:, 0]
        for c in range(1, self.data_channels):  # log p(a, b, ...) = sum of per-channel log p
            joint = (joint[:, :, None] + per[:, c][:, None, :]).reshape(b, -1)
        return feats.reshape(b, -1), joint  # (B, C*F), (B, k**C) logits of the joint class

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """(N, C, H, W) -> (N, modes) class probabilities, in eval mode."""
        self.eval()
        dev = next(self.parameters()).device
        out = [F.softmax(self(x[i : i + batch_size].to(dev))[1], 1).cpu() for i in range(0, len(x), batch_size)]
        return torch.cat(out)

    @torch.no_grad()
    def assess(self, x: torch.Tensor, batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C, H, W) -> (probabilities of the real modes (N, modes), real confidence (N,)).

        Real confidence: the (K+1)-way probability of the top real class, 0 when the top
        class is non-data; for stacked data the product over channels (0 if any channel is
        non-data). Only samples with a high real confidence look like data of some class."""
        self.eval()
        dev = next(self.parameters()).device
        probs, conf = [], []
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size].to(dev)
            _, logits = self.net(self.prepare(xb))  # (B or B*C, K+1)
            p = F.softmax(logits, 1)
            top, arg = p[:, : self.classes].max(1)
            real = torch.where(arg == p.argmax(1), top, torch.zeros_like(top))  # top of all K+1 is a real class
            conf.append(real.reshape(len(xb), -1).prod(1).cpu())
            probs.append(F.softmax(self(xb)[1], 1).cpu())
        return torch.cat(probs), torch.cat(conf)


def cache_dir() -> Path:
    return Path(os.environ.get("GANBENCH_CACHE") or Path.home() / ".cache" / "ganbench")


def content_hash(*tensors: torch.Tensor | None) -> str:
    """sha256 of tensors' shapes, dtypes and bytes: the data itself, not its name."""
    h = hashlib.sha256()
    for t in tensors:
        if t is None:
            h.update(b"none")
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def _training_set(data: GanData, channel_classes: int | None):
    """Images (N, C|1, H, W) uint8 and labels for the net, train and held-out."""
    x, y, xt, yt = data.train, data.train_labels, data.test, data.test_labels
    if xt is None or yt is None:  # no test split: hold out every 10th training image
        keep = torch.arange(len(x)) % 10 != 0
        x, y, xt, yt = x[keep], y[keep], x[~keep], y[~keep]
    if channel_classes is not None:  # label = base-k digits, channel 0 most significant
        c = x.shape[1]
        powers = channel_classes ** torch.arange(c - 1, -1, -1)

        def split(images, labels):
            digits = (labels[:, None] // powers) % channel_classes  # (N, C)
            return images.reshape(-1, 1, *images.shape[2:]), digits.reshape(-1)

        (x, y), (xt, yt) = split(x, y), split(xt, yt)
    return x, y, xt, yt


def train_classifier(data: GanData, device: torch.device, seed: int = 0) -> ModeClassifier:
    """Train a ModeClassifier on the training split; its held-out accuracy in `.accuracy`.

    Everything random (initial weights, batches, augmentation) comes from `seed` alone,
    never from the caller's RNG state: the classifier is the feature space of fid_domain,
    and two processes that train it must get the same one. The caller's RNG is restored.
    """
    if data.kind != "image" or data.train_labels is None or not data.num_classes:
        raise ClassifierError("the mode-coverage classifier needs a labelled image dataset")
    channel_classes = data.info.get("channel_classes")
    x, y, xt, yt = _training_set(data, channel_classes)
    epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(TARGET_IMAGES / len(x))))
    augment = len(x) < AUGMENT_BELOW
    steps = epochs * max(1, len(x) // BATCH_SIZE)
    gen = torch.Generator().manual_seed(seed)
    devices = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=devices):  # the caller's random stream stays untouched
        torch.manual_seed(seed)  # before the model exists: its initial weights come from here
        model = ModeClassifier(data.train.shape[1], data.train.shape[-1], data.num_classes, channel_classes).to(device)
        opt = torch.optim.Adam(model.net.parameters(), lr=LR)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, LR, total_steps=steps)  # fast, stable convergence
        model.train()
        n_fake = int(BATCH_SIZE * nondata.SHARE)
        for _ in range(steps):
            idx = torch.randint(len(x), (BATCH_SIZE,), generator=gen)
            xb = model.prepare(x[idx].to(device))
            xb = _augment(xb, gen) if augment else xb
            fake, _ = nondata.make(xb[:n_fake], gen)  # non-data images, labelled K (the extra class)
            yb = torch.cat([y[idx].to(device), torch.full((n_fake,), model.classes, device=device)])
            loss = F.cross_entropy(model.net(torch.cat([xb, fake]))[1], yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        held_out = model.prepare(xt.to(device))  # (N, 1|C, H, W) in [0, 1]
        fake, _ = nondata.make(held_out, torch.Generator().manual_seed(seed + 1))
        logits, fake_logits = (torch.cat([model.net(t[i : i + 1024])[1].cpu() for i in range(0, len(t), 1024)]) for t in (held_out, fake))
        rejected = fake_logits.argmax(1) == model.classes
    model.accuracy = (logits[:, : model.classes].argmax(1) == yt).float().mean().item()
    model.non_data_rejected = rejected.float().mean().item()
    model.train_s = time.perf_counter() - t0
    return model


def weights_hash(model: nn.Module) -> str:
    """sha256 (16 hex digits) of a model's state: two runs share a feature space iff equal."""
    return content_hash(*model.state_dict().values())[:16]


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Per-sample random affine (±2 px shift, ±10° rotation, ±10% scale): a few thousand
    digits generalize like many more. Tiny images (8x8 digits) shift by half a pixel at
    most: one pixel is an eighth of their width."""
    b = x.shape[0]
    px = 2.0 if x.shape[-1] >= 16 else 0.5
    angle = (torch.rand(b, generator=gen) - 0.5) * (2 * math.pi / 18)
    scale = 1 + (torch.rand(b, generator=gen) - 0.5) * 0.2
    shift = (torch.rand(b, 2, generator=gen) - 0.5) * (4 * px / x.shape[-1])  # ±px pixels in [-1, 1] units
    cos, sin = angle.cos() / scale, angle.sin() / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def classifier_path(name: str, options: dict, data: GanData) -> tuple[Path, str, str]:
    """(cache file, key, spec) of a dataset's classifier: keyed by recipe and data content."""
    chash = content_hash(data.train, data.train_labels, data.test, data.test_labels)
    spec = json.dumps(
        {"dataset": name, "options": options, "version": CLASSIFIER_VERSION, "info": data.info.get("channel_classes")},
        sort_keys=True,
        default=str,
    )
    key = hashlib.sha256((spec + chash).encode()).hexdigest()[:20]
    return cache_dir() / "classifiers" / f"{_safe(name)}-{key}.pt", key, spec


def get_classifier(name: str, options: dict, data: GanData, device: torch.device, floor: float | None = None) -> ModeClassifier:
    """The dataset's classifier: from memory, the disk cache, or trained now; checked against its floor.

    Many processes (a suite's workers, two `ganbench run`s) may ask at once: a file lock
    makes one of them train it while the others wait and then load it, and the weights
    file appears by an atomic rename, whole or not at all.
    """
    from filelock import FileLock

    floor = FLOORS.get(name, DEFAULT_FLOOR) if floor is None else floor
    path, key, spec = classifier_path(name, options, data)
    model = _LOADED.get(str(path))
    if model is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock"):
            model = _load(path, data)
            if model is None:
                model = train_classifier(data, device)
                model.trained_here = True  # (tests check that concurrent first uses train once)
                meta = {
                    "accuracy": model.accuracy,
                    "non_data_rejected": model.non_data_rejected,
                    "train_s": model.train_s,
                    "dataset": name,
                    "spec": spec,
                }
                tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
                torch.save({"state": model.state_dict(), "meta": meta}, tmp)
                os.replace(tmp, path)  # atomic: a reader without the lock sees the whole file or none
        model.hash = weights_hash(model)
    model.key, model.floor = key, floor
    model.path = path
    _LOADED[str(path)] = model
    if model.accuracy < floor:
        raise ClassifierError(
            f"the {name} mode classifier reaches {model.accuracy:.1%} held-out accuracy, below its floor of {floor:.0%}; "
            f"its labels would make coverage numbers meaningless (set eval.classifier_floor to accept it; cached at {path})"
        )
    return model.to(device)


def load_cached(path: str) -> ModeClassifier:
    """A classifier already built in this process (torch-fidelity's extractor asks by path)."""
    return _LOADED[str(path)]


def _load(path: Path, data: GanData) -> ModeClassifier | None:
    if not path.is_file():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        with torch.random.fork_rng(devices=[]):  # building it must not move the caller's RNG
            model = ModeClassifier(data.train.shape[1], data.train.shape[-1], data.num_classes, data.info.get("channel_classes"))
        model.load_state_dict(blob["state"])
        model.accuracy, model.train_s = float(blob["meta"]["accuracy"]), float(blob["meta"].get("train_s", 0.0))
        model.non_data_rejected = float(blob["meta"]["non_data_rejected"])
    except Exception:  # a corrupt, outdated or meta-less file: retrain and overwrite it
        return None
    return model.eval()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
