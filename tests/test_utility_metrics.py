"""The data-utility metric plugins (cas, augmentation) on known answers: real held-out
images standing in for generated ones."""

from __future__ import annotations

import pytest
import torch

from ganbench.builtin.image_datasets import digits
from ganbench.metrics import classifier as clf
from ganbench.metrics.plugin import Context
from ganbench.metrics.utility import CAS, Augmentation, accuracy, train_classifier

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def held_out():
    """digits, its mode classifier, and the training images outside augmentation's real subset."""
    data = digits()
    classifier = clf.get_classifier("digits", {}, data, CPU)
    order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(0))  # augmentation's subset order
    rest = order[300:]
    ctx = Context(data, {"name": "digits"}, CPU, seed=0, final=True, samples=len(rest), classifier=classifier)
    return data, ctx, rest


def test_augmentation_with_real_images_as_synthetic(held_out):
    data, ctx, rest = held_out
    xs = data.train[rest]
    assert (ctx.classifier.predict(xs).argmax(1) == data.train_labels[rest]).float().mean() > 0.95  # argmax = true labels
    metric = Augmentation(real=300, seeds=1, steps=80)
    out = metric(xs, ctx)
    assert set(out) == {k for k in Augmentation.directions if not k.endswith("_conditional")}  # the default schemes: not `conditional`
    assert out["aug_gain_argmax"] >= -0.01  # more (correctly labelled) data does not hurt
    # The argmax scheme is training on the true labels (the classifier agrees with them).
    subset = metric._subset(data)
    truth = train_classifier(
        torch.cat([data.train[subset], xs]), torch.cat([data.train_labels[subset], data.train_labels[rest]]), 10, 20_000, 80, 128, CPU
    )
    assert out["aug_acc_argmax"] == pytest.approx(accuracy(truth, data.test, data.test_labels, 10, CPU), abs=0.03)
    protocol = metric.protocol(ctx)
    assert protocol["seeds"] == "20000" and protocol["real"] == 300 and protocol["synthetic"] == len(rest)


def test_cas_with_real_images_is_near_the_real_ceiling(held_out):
    data, ctx, rest = held_out
    out = CAS(steps=60)(data.train[rest], ctx)
    assert out["cas"] > 0.8 and out["cas"] >= out["cas_real"] - 0.05
    # Noise scores far lower, though not chance: the mode classifier's labels of noise
    # still carry some of what it knows (distillation), a limit of CAS with a labeller.
    noise = torch.randint(0, 256, (500, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    assert CAS(steps=60)(noise, ctx)["cas"] < out["cas"] - 0.25


def test_utility_metrics_skip_unlabelled_data_with_a_note():
    from ganbench.config import resolve
    from ganbench.metrics import make_evaluator
    from ganbench.testing import make_registry, tiny_data

    registry = make_registry()
    data = tiny_data("image", n=64, num_classes=2)
    data.train_labels = data.test_labels = None
    data.num_classes = None
    cfg = resolve(
        [
            (
                "base",
                {
                    "dataset": "digits",
                    "architecture": "dcgan",
                    "steps": 2,
                    "eval": {"inception": "off", "metrics": {"cas": {}, "augmentation": {"seeds": 1}}},
                },
            )
        ],
        registry,
    )
    evaluator = make_evaluator(cfg, data, CPU, registry)
    assert any(n.startswith("cas skipped") for n in evaluator.notes) and any(n.startswith("augmentation skipped") for n in evaluator.notes)
    assert not any(k.startswith(("cas.", "augmentation.")) for k in evaluator.protocol)
