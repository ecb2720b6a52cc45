"""Known-answer tests of the evaluation: torch-fidelity is called for real, with the digits classifier.

One classifier is trained per test session (digits: 8x8, seconds on a CPU) into a
temporary cache directory and shared by every test here.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from ganbench import keys
from ganbench.builtin.datasets import digits, ring8
from ganbench.config import validate_eval
from ganbench.metrics import classifier as clf
from ganbench.metrics import coverage, make_evaluator
from ganbench.testing import make_registry


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("ganbench-cache")
        mp.setenv("GANBENCH_CACHE", str(path))
        mp.delenv("GANBENCH_INCEPTION_WEIGHTS", raising=False)
        yield path


@pytest.fixture(scope="session")
def data():
    return digits()


@pytest.fixture(scope="session")
def classifier(cache, data):
    return clf.get_classifier("digits", {}, data, torch.device("cpu"))


class Replay(nn.Module):
    """A 'generator' that returns given uint8 images, in order, as [-1, 1] floats."""

    def __init__(self, images: torch.Tensor):
        super().__init__()
        self.images, self.pos = images, 0

    def forward(self, z):  # (B, Z) -> (B, C, H, W)
        idx = (torch.arange(len(z)) + self.pos) % len(self.images)
        self.pos += len(z)
        return self.images[idx].float() / 127.5 - 1


def evaluate(data, generator, samples, **eval_options):
    cfg = {
        "dataset": {"name": "digits"},
        "steps": 1,
        "z_dim": 4,
        "seed": 0,
        "batch_size": 64,
        "n_disc": 1,
        "eval": validate_eval({"samples": samples, "real_samples": 800, "inception": "auto", **eval_options}),
    }
    ev = make_evaluator(cfg, data, torch.device("cpu"), make_registry())
    return ev, ev(generator, 1)  # step 1 of 1: the final evaluation


def test_classifier_meets_its_floor_and_is_cached(classifier, data, cache):
    assert classifier.accuracy >= clf.FLOORS["digits"]
    assert classifier.path.parent == cache / "classifiers" and classifier.path.is_file()
    clf._LOADED.clear()  # a new process: the classifier comes from disk, untrained
    again = clf.get_classifier("digits", {}, data, torch.device("cpu"))
    assert again is not classifier and again.accuracy == classifier.accuracy
    for a, b in zip(again.state_dict().values(), classifier.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(clf.ClassifierError, match="below its floor of 100%"):
        clf.get_classifier("digits", {}, data, torch.device("cpu"), floor=1.0)


def test_real_test_split_scores_as_perfect_generator(classifier, data):
    ev, real = evaluate(data, Replay(data.test), samples=len(data.test))
    assert real[keys.MODES_COVERED] == real[keys.MODES_TOTAL] == 10
    assert real[keys.MODE_KL] < 0.05
    assert real[keys.PRECISION_DOMAIN] > 0.5 and real[keys.RECALL_DOMAIN] > 0.5
    noise = torch.randint(0, 256, data.test.shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    _, fake = evaluate(data, Replay(noise), samples=len(data.test))
    # Noise is far from real-vs-real (measured ~10x; the digits' test writers differ from
    # the training writers, so real-vs-real is not 0 with 200 samples in 64-d features).
    assert fake[keys.FID_DOMAIN] > 5 * real[keys.FID_DOMAIN]
    assert fake[keys.KID_DOMAIN] > 5 * real[keys.KID_DOMAIN]
    assert real[keys.IS_DOMAIN] > 2 * fake[keys.IS_DOMAIN]  # real digits: confident and diverse
    assert real[keys.CONFIDENT_FRAC] > 0.8 > fake[keys.CONFIDENT_FRAC]
    # Offline, without Inception weights: no Inception keys, and a note says why.
    assert not set(keys.INCEPTION_KEYS) & set(real)
    assert any("Inception metrics absent" in n and "GANBENCH_INCEPTION_WEIGHTS" in n for n in ev.notes)
    assert ev.protocol["feature_spaces"] == "domain" and ev.protocol["samples"] == len(data.test)
    assert ev.protocol["kid_subset_size"] == len(data.test)  # capped at the sample count
    json.dumps(ev.protocol)  # flat and serializable


def test_collapsed_generator_covers_one_mode(classifier, data):
    one = data.test[data.test_labels == 3][:1]  # always the same image of a 3
    _, out = evaluate(data, Replay(one), samples=300)
    assert out[keys.MODES_COVERED] == 1
    assert out[keys.MODE_KL] == pytest.approx(math.log(10), rel=0.10)


def test_evaluation_restores_mode_and_leaves_training_rng_alone(classifier, data):
    g = nn.Sequential(nn.Linear(4, 64), nn.BatchNorm1d(64), nn.Linear(64, 64), nn.Tanh(), nn.Unflatten(1, (1, 8, 8)))
    g.train()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    evaluate(data, g, samples=100, fid_threshold=1e9)
    assert g.training
    assert torch.equal(torch.rand(3), expected)


def test_time_to_threshold(classifier, data):
    _, reached = evaluate(data, Replay(data.test), samples=len(data.test), fid_threshold=1e6)
    assert reached[keys.TIME_TO_FID_DOMAIN_STEPS] == 1 and reached[keys.TIME_TO_FID_DOMAIN_S] >= 0
    _, never = evaluate(data, Replay(data.test), samples=len(data.test), fid_threshold=1e-9)
    assert math.isnan(never[keys.TIME_TO_FID_DOMAIN_S]) and math.isnan(never[keys.TIME_TO_FID_DOMAIN_STEPS])


def test_stacked_joint_logits_are_per_channel_products():
    model = clf.ModeClassifier(data_channels=3, size=28, classes=1000, channel_classes=10).eval()
    x = torch.randint(0, 256, (5, 3, 28, 28), dtype=torch.uint8)
    with torch.no_grad():
        feats, joint = model(x)
    assert feats.shape == (5, 3 * clf.FEATURE_DIM) and joint.shape == (5, 1000)
    with torch.no_grad():
        logits = model.net(model.prepare(x))[1]  # (15, 11): 10 digits and the non-data class
    per = torch.softmax(logits[:, :10], 1).reshape(5, 3, 10)  # the modes: real classes only
    a, b, c = 4, 0, 7
    assert torch.softmax(joint, 1)[:, 100 * a + 10 * b + c] == pytest.approx(per[:, 0, a] * per[:, 1, b] * per[:, 2, c], rel=1e-4)
    # real confidence: the product over channels of the 11-way probability of the top real
    # class, 0 for a sample with any channel whose top class is non-data
    full = torch.softmax(logits, 1).reshape(5, 3, 11)
    top = full[..., :10].max(-1).values * (full.argmax(-1) < 10)
    probs, conf = model.assess(x)
    assert probs.shape == (5, 1000) and conf == pytest.approx(top.prod(1), rel=1e-5)


# ---------------------------------------------------------------- 2-D mixtures (no classifier)


def test_ring_true_mixture_covers_all_modes():
    ring = ring8()
    out = coverage.mixture_coverage(ring.test, ring.modes, ring.mode_std)
    assert out[keys.MODES_COVERED] == out[keys.MODES_TOTAL] == 8
    assert out[keys.HIGH_QUALITY_FRAC] > 0.95
    assert out[keys.MODE_KL] < 0.05


def test_ring_single_centre_covers_one_mode():
    ring = ring8()
    points = ring.modes[2].expand(2500, 2) + ring.mode_std * torch.randn(2500, 2, generator=torch.Generator().manual_seed(0))
    out = coverage.mixture_coverage(points, ring.modes, ring.mode_std)
    assert out[keys.MODES_COVERED] == 1 and out[keys.MODES_TOTAL] == 8
    assert out[keys.MODE_KL] == pytest.approx(math.log(8), rel=0.01)


def test_ring_through_the_evaluator():
    ring = ring8()
    cfg = {"dataset": {"name": "ring8"}, "steps": 5, "z_dim": 2, "seed": 0, "batch_size": 64, "n_disc": 1, "eval": validate_eval({})}
    ev = make_evaluator(cfg, ring, torch.device("cpu"), make_registry())
    far = nn.Sequential(nn.Linear(2, 2))  # points nowhere near the ring's centres at this scale
    with torch.no_grad():
        far[0].weight.zero_()
        far[0].bias.fill_(50.0)
    curve, final = ev(far, 1), ev(far, 5)
    assert ev.protocol["samples"] == 2500  # the VEEGAN / PacGAN protocol
    assert final[keys.MODES_COVERED] == 0 and final[keys.HIGH_QUALITY_FRAC] == 0.0
    assert final[keys.EVAL_S] > curve[keys.EVAL_S] > 0  # cumulative


# ---------------------------------------------------------------- end to end: run.json


def test_run_json_has_metrics_protocol_and_notes(classifier, tmp_path):
    from ganbench.plugins import load_registry
    from ganbench.runner import run_suite
    from ganbench.suite import load_suite

    suite_file = tmp_path / "tiny.yaml"
    suite_file.write_text(
        "name: tiny\n"
        "base: {dataset: digits, architecture: {name: mlp, g_hidden: [32], d_hidden: [32]}, batch_size: 32,\n"
        "       z_dim: 8, steps: 4, log_every: 2 steps, eval: {every: 2 steps, samples: 200, curve_samples: 100}}\n"
    )
    registry = load_registry()
    outcome = run_suite(load_suite(suite_file, registry), registry, tmp_path / "results", torch.device("cpu"))
    assert outcome.exit_code == 0
    (run_dir,) = (tmp_path / "results" / "tiny").glob("[!.]*")
    record = json.loads((run_dir / "run.json").read_text())
    m = record["metrics"]
    for key in (
        *keys.DOMAIN_KEYS,
        keys.MODES_COVERED,
        keys.MODES_TOTAL,
        keys.MODE_KL,
        keys.CONFIDENT_FRAC,
        keys.TRAIN_IMG_PER_S,
        keys.D_STEP_MS,
        keys.G_STEP_MS,
        keys.PEAK_MEM_MB,
        keys.EVAL_S,
        keys.WALL_S,
    ):
        assert isinstance(m[key], (int, float)), key
    assert m[keys.D_STEP_MS] > 0 and m[keys.G_STEP_MS] > 0
    assert record["protocol"]["samples"] == 200 and record["protocol"]["curve_samples"] == 100
    assert record["protocol"]["classifier_accuracy"] >= 0.95
    assert any("Inception" in n for n in record["notes"])
    history = (run_dir / "history.csv").read_text().splitlines()
    assert keys.FID_DOMAIN in history[0] and len(history) == 3  # curves at steps 2 and 4


def test_inception_keys_appear_with_a_local_weights_file(classifier, data, tmp_path, monkeypatch):
    """The weights path plumbing, with an untrained Inception (the numbers mean nothing)."""
    import torch_fidelity.feature_extractor_inceptionv3 as fi

    with monkeypatch.context() as mp:  # build the network without loading (or downloading) weights
        mp.setattr(fi, "load_state_dict_from_url", lambda *a, **k: {})
        mp.setattr(fi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
        net = fi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    weights = tmp_path / "inception.pth"
    torch.save(net.state_dict(), weights)
    monkeypatch.setenv("GANBENCH_INCEPTION_WEIGHTS", str(weights))
    ev, out = evaluate(data, Replay(data.test), samples=12, real_samples=12)
    assert all(math.isfinite(out[k]) for k in keys.INCEPTION_KEYS)
    assert ev.protocol["feature_spaces"] == "domain,inception" and not ev.notes
    monkeypatch.setenv("GANBENCH_INCEPTION_WEIGHTS", str(tmp_path / "missing.pth"))
    with pytest.raises(ValueError, match="missing.pth, which is not a file"):
        evaluate(data, Replay(data.test), samples=12, real_samples=12, inception="on")
