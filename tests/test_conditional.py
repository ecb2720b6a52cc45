"""Conditional GANs: the contract (G(z, y), D(x, y), labels through the loop), the built-in
conditional DCGAN (projection D) and ACGAN with every built-in loss, and the conditional
metrics' known answers: real images of the requested class score per-class accuracy near
the classifier's own accuracy and intra-FID near the real-vs-real floor; a sampler that
ignores y scores about 1/K."""

from __future__ import annotations

import conditional_plugin
import pytest
import torch

from ganbench.build import Builder, seed_everything
from ganbench.config import ConfigError, resolve
from ganbench.engine import RunSpec, train_spec
from ganbench.engine.rng import global_state
from ganbench.metrics import classifier as clf
from ganbench.metrics import fidelity, make_evaluator
from ganbench.testing import make_registry

CPU = torch.device("cpu")
LOSSES = ("vanilla", "lsgan", "wgan", "wgan-gp", "hinge")


@pytest.fixture(scope="module")
def registry():
    torch.set_num_threads(1)
    return make_registry(conditional_plugin)


def spec(registry, tmp_path, layer):
    cfg = resolve(
        [
            (
                "test",
                {
                    "dataset": "digits",
                    "batch_size": 16,
                    "z_dim": 8,
                    "steps": 4,
                    "log_every": "2 steps",
                    "grid_every": "2 steps",
                    "eval": {"every": "none"},
                    **layer,
                },
            )
        ],
        registry,
    )
    builder = Builder(registry)
    data = builder.data(cfg["dataset"])
    seed_everything(0)
    models = builder.models(cfg, data)
    (tmp_path / "grids").mkdir(parents=True, exist_ok=True)
    return RunSpec(cfg, models, builder.loss(cfg), tmp_path, rng=global_state(CPU)), data


@pytest.mark.parametrize("architecture", ["cdcgan", "acgan"])
@pytest.mark.parametrize("loss", LOSSES)
def test_a_conditional_pair_trains_with_every_built_in_loss(architecture, loss, registry, tmp_path):
    s, data = spec(registry, tmp_path, {"architecture": {"name": architecture, "ngf": 4, "ndf": 4}, "loss": loss, "n_disc": 1})
    assert s.models.conditional and (s.models.aux_weight > 0) == (architecture == "acgan")
    result = train_spec(s, data, CPU)
    assert result.status == "complete" and len(result.history) == 2
    assert all(torch.isfinite(torch.tensor([r["d_loss"], r["g_loss"]])).all() for r in result.history)
    assert sorted(p.name for p in (tmp_path / "grids").iterdir()) == ["step_0000002.png", "step_0000004.png"]
    G = s.models.generator
    y = torch.tensor([0, 3, 9])
    x = G(torch.randn(3, 8), y)
    assert x.shape == (3, 1, 8, 8)  # digits: 8x8
    out = s.models.discriminator(x, y)
    scores = out[0] if architecture == "acgan" else out
    assert scores.shape == (3,) and (architecture != "acgan" or out[1].shape == (3, 10))


def test_the_label_reaches_both_models(registry, tmp_path):
    """G draws what y asks: changing y alone changes the sample; D's projection scores the
    same image differently under another label."""
    s, _ = spec(registry, tmp_path, {"architecture": {"name": "cdcgan", "ngf": 4, "ndf": 4}})
    G, D = s.models.generator.eval(), s.models.discriminator.eval()
    z = torch.randn(1, 8)
    with torch.no_grad():
        a, b = G(z, torch.tensor([1])), G(z, torch.tensor([7]))
        assert not torch.equal(a, b)
        torch.nn.init.normal_(D.head.embed.weight)
        assert not torch.equal(D(a, torch.tensor([1])), D(a, torch.tensor([7])))


def test_fake_labels_uniform_is_for_conditional_architectures(registry):
    assert resolve([("t", {"architecture": "cdcgan", "fake_labels": "uniform", "steps": 1})], registry)["fake_labels"] == "uniform"
    with pytest.raises(ConfigError, match="conditional architectures only"):
        resolve([("t", {"architecture": "dcgan", "fake_labels": "uniform", "steps": 1})], registry)
    assert "fake_labels" not in __import__("ganbench.config", fromlist=["identity"]).identity(
        resolve([("t", {"architecture": "dcgan", "steps": 1})], registry)
    )  # the default leaves unconditional run ids as they were


@pytest.fixture(scope="module")
def scores(registry):
    """sampler -> (evaluator, its final metrics) for the conditional known-answer samplers."""
    builder = Builder(registry)
    out = {}
    for name, ignore in (("class", False), ("ignores-y", True)):
        cfg = resolve(
            [
                (
                    "known-answer",
                    {
                        "dataset": "digits",
                        "architecture": {"name": "class-sampler", "ignore_labels": ignore},
                        "z_dim": 8,
                        "steps": 1,
                        "eval": {"every": "1 step", "samples": 1000, "metrics": {"class-accuracy": {}, "intra-fid": {}}},
                    },
                )
            ],
            registry,
        )
        data = builder.data(cfg["dataset"])
        evaluator = make_evaluator(cfg, data, CPU, registry)
        out[name] = evaluator, evaluator(builder.models(cfg, data).generator, evaluator.total_steps)
    return out


def test_real_images_of_the_requested_class_score_at_the_classifiers_accuracy(scores):
    evaluator, m = scores["class"]
    ceiling = evaluator.protocol["classifier_accuracy"]  # its held-out accuracy; on its own training digits it is higher
    assert ceiling - 0.05 <= m["class_acc"] <= 1.0 and m["class_acc_worst"] > 0.8
    assert evaluator.protocol["class-accuracy.labels"] == "every class alike"


def test_a_sampler_that_ignores_y_scores_about_one_in_k(scores):
    m = scores["ignores-y"][1]
    assert abs(m["class_acc"] - 0.1) < 0.04, m["class_acc"]  # 10 classes, 1,000 samples: sd ~0.01
    assert m["class_acc_worst"] < 0.1


def test_intra_fid_is_near_the_real_vs_real_floor_and_far_above_it_when_y_is_ignored(scores):
    evaluator, m = scores["class"]
    data, model = evaluator.data, evaluator.classifier
    floors = []
    for c in range(data.num_classes):  # a perfect sampler: training digits of class c vs the test digits of class c
        real = data.test[data.test_labels == c]
        floors.append(fidelity.domain_fid(model, data.train[data.train_labels == c][:100], real, clf.content_hash(real), CPU, 256))
    floor = sum(floors) / len(floors)
    assert 0.8 * floor <= m["intra_fid_domain"] <= 1.25 * floor, (m["intra_fid_domain"], floor)  # measured: 73 vs 75
    assert scores["ignores-y"][1]["intra_fid_domain"] > 5 * floor  # measured: 856: each class's samples are of every class
