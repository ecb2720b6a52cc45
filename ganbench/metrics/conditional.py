"""Metrics of conditional generators (``ganbench.contracts.Models.conditional``): does G
draw the class it is asked for, and how well, class by class?

- ``class-accuracy``: the mode classifier's accuracy on samples generated for each class
  (the share whose top class is the requested one): the mean over classes and the worst
  class. The mode classifier's own held-out accuracy (run.json protocol
  ``classifier_accuracy``) is its ceiling; a generator that ignores y scores about 1/K.
- ``intra-fid``: intra-class FID (Miyato & Koyama 2018): FID between the samples drawn
  for class c and the real held-out images of class c, in the domain feature space (the
  mode classifier's penultimate layer, as ``fid_domain``), averaged over the classes.

Both read the labels each sample was drawn for (``ctx.labels``: every class alike) and
skip an unconditional run with a note. CAS with the generator's own labels (Ravuri &
Vinyals 2019 defined CAS for conditional models) is the ``cas`` metric itself, which
uses ``ctx.labels`` for a conditional run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .plugin import Context, Metric

if TYPE_CHECKING:  # annotations only: registering the metrics must not import torch
    import torch


def _usable(ctx: Context, name: str) -> str | None:
    if not ctx.conditional:
        return f"{name} skipped: the architecture is unconditional (it draws no requested class)"
    if ctx.classifier is None or not ctx.data.num_classes:
        return f"{name} skipped: dataset {ctx.dataset.get('name')} has no labels (no mode classifier)"
    if ctx.data.info.get("channel_classes"):
        return f"{name} skipped: a channel-stacked dataset's classes are not its generator's"
    return None


def _held_out(ctx: Context) -> tuple[torch.Tensor, torch.Tensor, str]:
    data = ctx.data
    if data.test is not None and data.test_labels is not None:
        return data.test, data.test_labels, "test"
    return data.train, data.train_labels, "train"


class ClassAccuracy(Metric):
    directions = {"class_acc": "higher", "class_acc_worst": "higher"}
    kinds = ("image",)

    def setup(self, ctx: Context) -> str | None:
        return _usable(ctx, "class-accuracy")

    def protocol(self, ctx: Context) -> dict:
        return {"labels": "every class alike", "classes": ctx.data.num_classes}

    def __call__(self, samples: torch.Tensor, ctx: Context) -> dict:
        if ctx.labels is None:  # samples that were drawn for no class (an image folder)
            return {}
        k = ctx.data.num_classes
        hit = (ctx.classifier.predict(samples).argmax(1) == ctx.labels).float()  # (N,)
        per_class = [float(hit[ctx.labels == c].mean()) for c in range(k) if (ctx.labels == c).any()]
        return {"class_acc": sum(per_class) / len(per_class), "class_acc_worst": min(per_class)}


class IntraFID(Metric):
    directions = {"intra_fid_domain": "lower"}
    kinds = ("image",)
    final_only = True  # K FIDs: at the final evaluation only
    feature_space = "domain"

    def setup(self, ctx: Context) -> str | None:
        return _usable(ctx, "intra-fid")

    def protocol(self, ctx: Context) -> dict:
        x, y, split = _held_out(ctx)
        return {
            "real_split": split,
            "real_per_class_min": int(min((y == c).sum() for c in range(ctx.data.num_classes))),
            "samples_per_class": ctx.samples // ctx.data.num_classes,
        }

    def __call__(self, samples: torch.Tensor, ctx: Context) -> dict:
        if ctx.labels is None:
            return {}
        from . import classifier as clf
        from .fidelity import domain_fid

        x, y, _ = _held_out(ctx)
        fids = []
        for c in range(ctx.data.num_classes):
            gen, real = samples[ctx.labels == c], x[y == c]
            if len(gen) < 2 or len(real) < 2:
                continue
            fids.append(domain_fid(ctx.classifier, gen, real, clf.content_hash(real), ctx.device, ctx.eval.get("batch_size", 256)))
        return {"intra_fid_domain": sum(fids) / len(fids)} if fids else {}
