"""Data utility of generated images: the ``cas`` and ``augmentation`` metric plugins.

Both train the mode classifier's architecture (``classifier.SmallCNN``), seeded, for a
fixed number of steps on batches drawn with replacement, and test it on the dataset's
real test split (top-1 accuracy over the K real classes).

- ``cas``: Classification Accuracy Score (Ravuri & Vinyals 2019), adapted to an
  unconditional GAN: each generated image takes the mode classifier's top class as its
  label, the classifier is trained on those images alone and tested on real test images.
  ``cas_real`` is the same recipe trained on the real training split: the ceiling.
- ``augmentation``: does adding generated images to a small real training set help?
  The classifier is trained on ``real`` random training images alone (the baseline) and
  on them plus ``synthetic`` generated images labelled by one of these schemes:
  ``extra-class`` (all generated images form class K + 1), ``argmax`` (the mode
  classifier's top class), ``uniform`` (a uniform label over the K classes: LSRO, Zheng
  et al. 2017). Averaged over ``seeds`` classifier seeds (recorded in the protocol).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .plugin import Context, Metric

if TYPE_CHECKING:  # annotations only: registering the metrics must not import torch
    import torch

    from .classifier import SmallCNN

SCHEMES = ("extra-class", "argmax", "uniform", "conditional")  # conditional: the classes a conditional G drew them for
LR = 2e-3
SEED_BASE = 20_000  # + the classifier seed: never the mode classifier's own seed (0)


def _usable(ctx: Context, name: str) -> str | None:
    """Why `name` cannot be measured on this run's data, or None."""
    data = ctx.data
    if ctx.classifier is None or data.train_labels is None or not data.num_classes:
        return f"{name} skipped: dataset {ctx.dataset.get('name')} has no labels (no mode classifier)"
    if data.info.get("channel_classes"):
        return f"{name} skipped: a channel-stacked dataset's {data.num_classes} joint classes are too many for it"
    if data.test is None or data.test_labels is None:
        return f"{name} skipped: dataset {ctx.dataset.get('name')} has no labelled test split"
    return None


def train_classifier(
    x: torch.Tensor, targets: torch.Tensor, classes: int, seed: int, steps: int, batch_size: int, device: torch.device
) -> SmallCNN:
    """SmallCNN trained on uint8 images x (N, C, H, W) and targets: (N,) class indices or
    (N, classes) probabilities (soft labels); everything random from `seed`."""
    import torch
    from torch.nn import functional as F

    from .classifier import SmallCNN

    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SmallCNN(x.shape[1], classes, x.shape[-1]).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, LR, total_steps=steps)
    net.train()
    soft = targets.dim() == 2
    for _ in range(steps):
        idx = torch.randint(len(x), (min(batch_size, len(x)),), generator=gen)
        logits = net(x[idx].to(device).float() / 255.0)[1]
        t = targets[idx].to(device)
        loss = -(t * F.log_softmax(logits, 1)).sum(1).mean() if soft else F.cross_entropy(logits, t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


def accuracy(net: SmallCNN, x: torch.Tensor, y: torch.Tensor, classes: int, device: torch.device) -> float:
    """Top-1 accuracy on (x, y) over the first `classes` logits (an extra class never wins)."""
    import torch

    with torch.no_grad():
        pred = torch.cat([net(x[i : i + 1024].to(device).float() / 255.0)[1][:, :classes].argmax(1).cpu() for i in range(0, len(x), 1024)])
    return float((pred == y).float().mean())


def mode_labels(ctx: Context, x: torch.Tensor) -> torch.Tensor:
    """The mode classifier's top class of each image."""

    return ctx.classifier.predict(x).argmax(1)


class CAS(Metric):
    """Classification Accuracy Score: train on generated images labelled by the mode
    classifier, test on the real test split."""

    directions = {"cas": "higher", "cas_real": "none"}
    kinds = ("image",)
    final_only = True

    def __init__(self, synthetic: int = 10_000, steps: int = 500, batch_size: int = 128, seed: int = 0):
        if synthetic < 10 or steps < 1 or batch_size < 1:
            raise ValueError("cas: synthetic must be >= 10, steps and batch_size >= 1")
        self.synthetic, self.steps, self.batch_size, self.seed = synthetic, steps, batch_size, seed

    def protocol(self, ctx: Context) -> dict:
        why = _usable(ctx, "cas")
        if why:
            ctx.notes.append(why)
            return {}
        return {
            "synthetic": min(self.synthetic, ctx.samples),
            "steps": self.steps,
            "batch_size": self.batch_size,
            "seed": SEED_BASE + self.seed,
            "labels": "the generator's own (conditional)" if ctx.conditional else "mode classifier argmax",
            "test": "real test split",
            "test_images": len(ctx.data.test),
        }

    def __call__(self, samples: torch.Tensor, ctx: Context) -> dict:

        if _usable(ctx, "cas"):
            return {}
        data, k, seed = ctx.data, ctx.data.num_classes, SEED_BASE + self.seed
        x = samples[: self.synthetic]
        labels = ctx.labels[: self.synthetic] if ctx.labels is not None else mode_labels(ctx, x)  # a conditional G's own
        net = train_classifier(x, labels, k, seed, self.steps, self.batch_size, ctx.device)
        real = train_classifier(data.train, data.train_labels, k, seed, self.steps, self.batch_size, ctx.device)
        return {
            "cas": accuracy(net, data.test, data.test_labels, k, ctx.device),
            "cas_real": accuracy(real, data.test, data.test_labels, k, ctx.device),
        }


class Augmentation(Metric):
    """Real subset alone vs real subset + generated images under each labelling scheme."""

    directions = {
        "aug_acc_real_only": "none",
        **{f"aug_acc_{s.replace('-', '_')}": "higher" for s in SCHEMES},
        **{f"aug_gain_{s.replace('-', '_')}": "higher" for s in SCHEMES},
    }
    kinds = ("image",)
    final_only = True

    def __init__(
        self,
        real: int = 2000,
        synthetic: int = 10_000,
        schemes: list[str] = list(SCHEMES[:3]),
        seeds: int = 3,
        steps: int = 500,
        batch_size: int = 128,
    ):
        if real < 10 or synthetic < 10 or seeds < 1 or steps < 1 or batch_size < 1:
            raise ValueError("augmentation: real and synthetic must be >= 10, seeds, steps and batch_size >= 1")
        unknown = [s for s in schemes if s not in SCHEMES]
        if unknown or not schemes or len(set(schemes)) != len(schemes):
            raise ValueError(f"augmentation: schemes must be distinct names among {', '.join(SCHEMES)}, got {schemes}")
        self.real, self.synthetic, self.schemes = real, synthetic, list(schemes)
        self.seeds, self.steps, self.batch_size = seeds, steps, batch_size

    def _subset(self, data) -> torch.Tensor:
        import torch

        n = min(self.real, len(data.train))
        return torch.randperm(len(data.train), generator=torch.Generator().manual_seed(0))[:n]  # fixed for every run

    def protocol(self, ctx: Context) -> dict:
        why = _usable(ctx, "augmentation")
        if why:
            ctx.notes.append(why)
            return {}
        return {
            "real": len(self._subset(ctx.data)),
            "real_subset_seed": 0,
            "synthetic": min(self.synthetic, ctx.samples),
            "schemes": ",".join(self.schemes),
            "seeds": ",".join(str(SEED_BASE + s) for s in range(self.seeds)),
            "steps": self.steps,
            "batch_size": self.batch_size,
            "test": "real test split",
            "test_images": len(ctx.data.test),
        }

    def __call__(self, samples: torch.Tensor, ctx: Context) -> dict:
        import torch
        from torch.nn import functional as F

        if _usable(ctx, "augmentation"):
            return {}
        data, k = ctx.data, ctx.data.num_classes
        idx = self._subset(data)
        xr, yr = data.train[idx], data.train_labels[idx]
        xs = samples[: self.synthetic]
        onehot = F.one_hot(yr, k + 1).float()  # real labels, with room for the extra class
        sets = {}  # scheme -> (images, targets, classes)
        for scheme in self.schemes:
            if scheme == "extra-class":
                t = torch.zeros(len(xs), k + 1)
                t[:, k] = 1.0
                sets[scheme] = (torch.cat([xr, xs]), torch.cat([onehot, t]), k + 1)
            elif scheme == "argmax":
                sets[scheme] = (torch.cat([xr, xs]), torch.cat([yr, mode_labels(ctx, xs)]), k)
            elif scheme == "conditional":
                if ctx.labels is None:
                    note = "augmentation: scheme conditional skipped: the generator is unconditional"
                    if note not in ctx.notes:
                        ctx.notes.append(note)
                    continue
                sets[scheme] = (torch.cat([xr, xs]), torch.cat([yr, ctx.labels[: len(xs)]]), k)
            else:  # uniform: LSRO
                sets[scheme] = (torch.cat([xr, xs]), torch.cat([onehot[:, :k], torch.full((len(xs), k), 1.0 / k)]), k)
        acc: dict[str, list[float]] = {"real_only": []}
        for s in range(self.seeds):
            seed = SEED_BASE + s
            net = train_classifier(xr, yr, k, seed, self.steps, self.batch_size, ctx.device)
            acc["real_only"].append(accuracy(net, data.test, data.test_labels, k, ctx.device))
            for scheme, (x, t, classes) in sets.items():
                net = train_classifier(x, t, classes, seed, self.steps, self.batch_size, ctx.device)
                acc.setdefault(scheme, []).append(accuracy(net, data.test, data.test_labels, k, ctx.device))
        mean = {name: sum(v) / len(v) for name, v in acc.items()}
        out = {"aug_acc_real_only": mean["real_only"]}
        for scheme in self.schemes:
            if scheme not in mean:
                continue
            key = scheme.replace("-", "_")
            out[f"aug_acc_{key}"] = mean[scheme]
            out[f"aug_gain_{key}"] = mean[scheme] - mean["real_only"]
        return out
