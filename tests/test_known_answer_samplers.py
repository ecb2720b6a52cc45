"""Known answers: the evaluator, real torch-fidelity and no mocks, scores generators whose
samples are known (tests/known_answer_plugin.py, built through the plugin registry as any
architecture) and must give the values those samples imply.

Expected values, from the definitions in ganbench/metrics/coverage.py:

- 2-D mixtures: a sample is *high quality* when its distance to the nearest centre is at
  most 3 sigma (sigma = the per-coordinate std of a mode). For an isotropic 2-D Gaussian
  of per-coordinate std s the distance r to its centre is Rayleigh distributed,
  P(r <= t) = 1 - exp(-t^2 / 2 s^2). Exact samples (s = sigma, t = 3 sigma):
  1 - e^-4.5 = 0.98889. Modes 3x too wide (s = 3 sigma): 1 - e^-0.5 = 0.39347. The ring's
  neighbouring centres are 0.77 apart (77 sigma), so the nearest centre is the own one.
  With 2,500 samples the binomial standard errors are 0.0021 and 0.0098.
- 2-D mode histograms count high-quality samples only (PacGAN's MetricLogger.do): samples
  between the modes leave it empty, so mode_kl and mode_jsd are null (NaN) with a note.
  mode_jsd = JSD(histogram, uniform): 0 for a balanced histogram; one mode of K gives
  (1/2)(ln(2K/(K+1)) + ((K-1)/K) ln 2 + (1/K) ln(2/(K+1))) (0.4970 for the ring of 8).
- confident_frac (images): share of samples whose top class of the classifier's K+1 (the
  last one: non-data) is a real class with probability >= 0.9. Real images pass (measured
  0.97-0.99 for training images), uniform noise and inverted images do not (0.00).
- mode_kl = KL(generated class histogram || real class histogram), the real one being the
  training labels' shares q_k: every sample in class k gives -ln q_k (about ln 10 for
  digits, ln 8 for the ring); five classes equally often give sum 0.2 ln(0.2 / q_k)
  (about ln 2); the real distribution gives about 0.
- modes_covered: a class is covered with at least 10% of its fair share N/K of the samples.
"""

from __future__ import annotations

import math

import known_answer_plugin
import pytest
import torch

from ganbench import keys
from ganbench.build import Builder
from ganbench.builtin.image_datasets import DEBIAN_FASHION_MNIST
from ganbench.config import resolve
from ganbench.metrics import coverage, fidelity, make_evaluator
from ganbench.testing import make_registry

CPU = torch.device("cpu")
IMAGES = 500  # a few hundred samples: seconds on a CPU
POINTS = 2500  # the VEEGAN / PacGAN protocol
HQ_EXACT = 1 - math.exp(-4.5)  # 0.98889
HQ_3_SIGMA = 1 - math.exp(-0.5)  # 0.39347


@pytest.fixture(scope="module")
def registry():
    return make_registry(known_answer_plugin)


@pytest.fixture(scope="module")
def score(registry):
    """score(dataset, sampler) -> (evaluator, the final evaluation's metrics)."""
    builder = Builder(registry)

    def run(dataset: str, sampler: str, samples: int = IMAGES):
        source = known_answer_plugin.SOURCES.get(dataset, {"name": dataset})
        cfg = resolve(
            [
                (
                    "known-answer",
                    {
                        "dataset": source,
                        "architecture": {"name": "fixed-sampler", "sampler": sampler, "source": dataset},
                        "z_dim": 64 if dataset == "digits" else 784,
                        "steps": 1,
                        # the losses suite's CPU profile: its 5,000-image Fashion-MNIST subset
                        # trains a classifier below the full set's floor (measured 83%)
                        "eval": {
                            "every": "1 step",
                            "samples": samples,
                            **({"classifier_floor": 0.8} if dataset == "fashion-mnist" else {}),
                        },
                    },
                )
            ],
            registry,
        )
        data = builder.data(cfg["dataset"])
        G = builder.models(cfg, data).generator
        evaluator = make_evaluator(cfg, data, CPU, registry)
        return evaluator, evaluator(G, evaluator.total_steps)

    return run


@pytest.fixture(scope="module")
def digits_scores(score):
    return {s: score("digits", s) for s in known_answer_plugin.IMAGE_SAMPLERS}


def test_real_digits_score_at_the_real_vs_real_floor(digits_scores):
    """Training digits through G and the evaluator score as real digits scored directly
    (torch-fidelity on the uint8 images, no generator): the FID floor at these sizes."""
    evaluator, real = digits_scores["real"]
    data = evaluator.data
    floors = []
    for seed in range(3):  # other draws of 500 training digits, scored without any generator
        g = torch.Generator().manual_seed(100 + seed)
        sample = data.train[torch.randint(len(data.train), (IMAGES,), generator=g)]
        out = fidelity.domain_metrics(evaluator.classifier, sample, evaluator.real, evaluator.real_hash, CPU, 256)
        floors.append(out[keys.FID_DOMAIN])
    floor = sum(floors) / len(floors)  # measured: 26-30 (the test split's writers differ from training's)
    assert 0.75 * floor <= real[keys.FID_DOMAIN] <= 1.25 * floor, (real[keys.FID_DOMAIN], floors)
    assert real[keys.MODES_COVERED] == real[keys.MODES_TOTAL] == 10
    assert real[keys.MODE_KL] < 0.05
    assert real[keys.CONFIDENT_FRAC] > 0.95
    assert real[keys.IS_DOMAIN] > 8  # ten confident, balanced classes: IS near its maximum, 10
    assert evaluator.protocol["real_split"] == "test" and evaluator.protocol["g_mode"] == "eval"
    one = digits_scores["one-class"][1]
    assert one[keys.FID_DOMAIN] > 10 * floor


def _shares(data) -> torch.Tensor:
    return torch.bincount(data.train_labels, minlength=10).double() / len(data.train_labels)


def test_one_class_covers_one_mode_at_kl_ln10(digits_scores):
    evaluator, out = digits_scores["one-class"]
    q = _shares(evaluator.data)
    assert out[keys.MODES_COVERED] == 1
    expected = -math.log(q[known_answer_plugin.ONE_CLASS])  # 2.282 = ln(1597 / 163); ln 10 = 2.303
    assert out[keys.MODE_KL] == pytest.approx(expected, abs=0.02)
    assert out[keys.MODE_KL] == pytest.approx(math.log(10), abs=0.05)
    assert out[keys.IS_DOMAIN] == pytest.approx(1.0, abs=0.05)  # one confident class: IS 1


def test_five_classes_cover_five_modes_at_kl_ln2(digits_scores):
    evaluator, out = digits_scores["five-classes"]
    q = _shares(evaluator.data)
    assert out[keys.MODES_COVERED] == 5
    expected = sum(0.2 * math.log(0.2 / q[c]) for c in known_answer_plugin.FIVE_CLASSES)
    # 500 samples over 5 classes: multinomial shares 0.2 +- 0.018 move the KL by ~0.01
    assert out[keys.MODE_KL] == pytest.approx(expected, abs=0.02)
    assert out[keys.MODE_KL] == pytest.approx(math.log(2), abs=0.05)
    assert out[keys.IS_DOMAIN] == pytest.approx(5.0, rel=0.1)


def test_uniform_noise_is_not_confident_and_far_from_digits(digits_scores):
    noise, real = digits_scores["noise"][1], digits_scores["real"][1]
    assert noise[keys.CONFIDENT_FRAC] < 0.02  # measured 0.000 (a 10-way softmax alone: 0.23; digits: > 0.95)
    assert noise[keys.FID_DOMAIN] > 5 * real[keys.FID_DOMAIN]
    assert noise[keys.PRECISION_DOMAIN] < 0.5 * real[keys.PRECISION_DOMAIN]
    assert noise[keys.RECALL_DOMAIN] < 0.1
    # the classifier's argmax spreads noise over the classes: modes_covered alone does not
    # tell noise from digits, confident_frac and the FID do


FASHION = DEBIAN_FASHION_MNIST.is_dir()
# Real images' confident_frac is the classifier's own certainty between real classes: high
# for digits, about half for Fashion-MNIST, whose shirts, T-shirts and pullovers a small
# CNN trained on 5,000 images tells apart at 83% (a K-way softmax alone gives the same 0.51
# on training images: the non-data class takes nothing from real ones there).
REAL_CONFIDENT = {"digits": 0.9, "mnist5k": 0.9, "fashion-mnist": 0.4}


@pytest.mark.parametrize(
    "dataset",
    [
        "digits",
        "mnist5k",
        pytest.param(
            "fashion-mnist",
            marks=pytest.mark.skipif(not FASHION, reason=f"Debian's dataset-fashion-mnist is not installed ({DEBIAN_FASHION_MNIST})"),
        ),
    ],
)
def test_confident_frac_passes_real_images_only(score, dataset):
    """On every built-in image protocol: real images are confident, uniform noise and
    inverted images (a kind the non-data class never saw) are not, and confident_frac orders
    them as their FID does. Measured (500 samples): real 0.992 / 0.924 / 0.478 (digits,
    mnist5k, Fashion-MNIST subset), noise 0.000 on all, inverted 0.000 / 0.004 / 0.072; a
    softmax over the real classes alone gave noise 0.23 on digits and 1.00 on mnist5k."""
    out = {s: score(dataset, s)[1] for s in ("real", "noise", "inverted")}
    assert out["real"][keys.CONFIDENT_FRAC] > REAL_CONFIDENT[dataset]
    assert out["noise"][keys.CONFIDENT_FRAC] < 0.02
    assert out["inverted"][keys.CONFIDENT_FRAC] < 0.15
    assert out["noise"][keys.FID_DOMAIN] > 5 * out["real"][keys.FID_DOMAIN]


@pytest.fixture(scope="module")
def ring_scores(score):
    return {s: score("ring8", s, POINTS) for s in known_answer_plugin.POINT_SAMPLERS}


@pytest.fixture(scope="module")
def grid_scores(score):
    return {s: score("grid25", s, POINTS) for s in known_answer_plugin.POINT_SAMPLERS}


def _one_of_k_jsd(k: int) -> float:
    """JSD(one-hot over K, uniform over K), nats."""
    m_hit, m_miss = (1 + 1 / k) / 2, (1 / k) / 2
    return 0.5 * math.log(1 / m_hit) + 0.5 * (math.log((1 / k) / m_hit) / k + (k - 1) / k * math.log((1 / k) / m_miss))


def _ring_share(evaluator, mode: int) -> float:
    labels = evaluator.data.train_labels
    return float((labels == mode).double().mean())


def test_exact_mixture_samples(ring_scores):
    evaluator, out = ring_scores["mixture"]
    assert evaluator.protocol["samples"] == POINTS
    assert evaluator.protocol["mode_histogram"] == coverage.MIXTURE_HISTOGRAM
    assert out[keys.MODES_COVERED] == out[keys.MODES_TOTAL] == 8
    assert out[keys.HIGH_QUALITY_FRAC] == pytest.approx(HQ_EXACT, abs=4 * 0.0021)
    assert out[keys.MODE_KL] < 0.01
    assert out[keys.MODE_JSD] < 0.005  # 2,500 multinomial draws over 8 equal modes


def test_one_mode(ring_scores):
    evaluator, out = ring_scores["one-mode"]
    assert out[keys.MODES_COVERED] == 1
    assert out[keys.HIGH_QUALITY_FRAC] == pytest.approx(HQ_EXACT, abs=4 * 0.0021)
    expected = -math.log(_ring_share(evaluator, known_answer_plugin.ONE_MODE))  # ~ ln 8 = 2.079
    assert out[keys.MODE_KL] == pytest.approx(expected, abs=1e-6)
    assert out[keys.MODE_KL] == pytest.approx(math.log(8), abs=0.05)
    assert out[keys.MODE_JSD] == pytest.approx(_one_of_k_jsd(8), abs=1e-9)  # 0.4970


def test_modes_three_times_too_wide(ring_scores):
    out = ring_scores["wide"][1]
    assert out[keys.MODES_COVERED] == 8
    assert out[keys.HIGH_QUALITY_FRAC] == pytest.approx(HQ_3_SIGMA, abs=4 * 0.0098)


@pytest.mark.parametrize("mixture", ["ring8", "grid25"])
def test_samples_between_the_modes_have_no_mode_histogram(ring_scores, grid_scores, mixture):
    """Midpoints of neighbouring centres: every mode has a nearest-centre share of 1/K, as for
    the exact mixture, but no sample is within 3 sigma of a centre. PacGAN counts only
    high-quality samples in the mode histogram, so it is empty: nothing covered, mode_kl and
    mode_jsd null (counting every sample by its nearest centre gave 0.0015 on the ring, as
    good as exact samples' 0.0016), and a note says why."""
    scores = ring_scores if mixture == "ring8" else grid_scores
    evaluator, between = scores["between"]
    exact = scores["mixture"][1]
    assert between[keys.MODES_COVERED] == 0 and between[keys.HIGH_QUALITY_FRAC] == 0.0
    assert math.isnan(between[keys.MODE_KL]) and math.isnan(between[keys.MODE_JSD])
    assert coverage.NO_HIGH_QUALITY in evaluator.notes
    assert exact[keys.MODES_COVERED] == exact[keys.MODES_TOTAL] == len(evaluator.data.modes)
    assert exact[keys.HIGH_QUALITY_FRAC] == pytest.approx(HQ_EXACT, abs=4 * 0.0021)
    assert exact[keys.MODE_KL] < 0.02 and exact[keys.MODE_JSD] < 0.01


def test_grid_one_mode_and_wide(grid_scores):
    one, wide = grid_scores["one-mode"][1], grid_scores["wide"][1]
    assert one[keys.MODES_COVERED] == 1 and one[keys.MODE_JSD] == pytest.approx(_one_of_k_jsd(25), abs=1e-9)
    assert wide[keys.MODES_COVERED] == 25
    assert wide[keys.HIGH_QUALITY_FRAC] == pytest.approx(HQ_3_SIGMA, abs=4 * 0.0098)
