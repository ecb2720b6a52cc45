"""ganbench's own metric families go through the register_metrics hook like a plugin's."""

from __future__ import annotations

import pytest
import torch

from ganbench import keys
from ganbench.config import ConfigError, resolve
from ganbench.hookspecs import hookimpl
from ganbench.metrics import make_evaluator
from ganbench.metrics.plugin import BUILTIN_FAMILIES, Metric
from ganbench.plugins import RegistrationError
from ganbench.testing import make_registry, tiny_data

CPU = torch.device("cpu")
# The protocol fields run.json recorded before the families became plugins: recorded bare
# (no `<metric>.` prefix) still, so old and new runs stay comparable.
IMAGE_FIELDS = {
    "samples",
    "curve_samples",
    "batch_size",
    "g_mode",
    "real_split",
    "real_samples",
    "torch_fidelity",
    "classifier_accuracy",
    "classifier_non_data_rejected",
    "classifier_floor",
    "classifier_cache",
    "classifier_hash",
    "domain_feature_dim",
    "kid_subset_size",
    "kid_subsets",
    "kid_subsets_curve",
    "isc_splits",
    "prc_neighborhood",
    "prc_samples",
    "mode_min_share",
    "confidence",
    "confident_rule",
    "mode_kl_reference",
    "feature_spaces",
}
MIXTURE_FIELDS = {
    "samples",
    "curve_samples",
    "batch_size",
    "g_mode",
    "mode_assignment",
    "mode_histogram",
    "high_quality_sigmas",
    "mode_std",
    "modes",
}


def _cfg(registry, dataset="digits", **ev):
    base = {"dataset": dataset, "architecture": "mlp", "steps": 2, "eval": {"inception": "off", "samples": 200, **ev}}
    return resolve([("base", base)], registry)


def test_the_families_are_registered_through_the_hook():
    registry = make_registry()
    for name in BUILTIN_FAMILIES:
        entry = registry.get("metric", name)
        assert entry.plugin.startswith("ganbench") and issubclass(entry.factory, Metric)
    declared = {k for name in BUILTIN_FAMILIES for k in registry.get("metric", name).factory.directions}
    assert declared == set(keys.SAMPLE_KEYS)  # every key the evaluation measures has a declared direction


def test_an_image_run_measures_its_families_with_the_same_protocol_fields():
    registry = make_registry()
    from ganbench.builtin.image_datasets import digits

    data = digits()
    evaluator = make_evaluator(_cfg(registry), data, CPU, registry)
    assert list(evaluator.metrics) == ["mode-coverage", "domain-fidelity"]  # inception is off
    assert set(evaluator.protocol) == IMAGE_FIELDS
    assert evaluator.protocol["feature_spaces"] == "domain"
    assert "Inception metrics absent: turned off (eval.inception: off)" in evaluator.notes
    scores = evaluator.score(data.test[:200])  # real held-out digits as the "samples"
    assert set(scores) == set(keys.DOMAIN_KEYS) | {keys.MODES_COVERED, keys.MODES_TOTAL, keys.MODE_KL, keys.CONFIDENT_FRAC}
    assert scores[keys.MODES_COVERED] == scores[keys.MODES_TOTAL] == 10 and isinstance(scores[keys.MODES_COVERED], int)
    assert scores[keys.FID_DOMAIN] < 5  # real vs real
    # KID: torch-fidelity's 100 subsets at the final evaluation, fewer on the curve.
    from ganbench.metrics import fidelity

    def kid(subsets):
        return fidelity.domain_metrics(evaluator.classifier, data.test[:200], evaluator.real, evaluator.real_hash, CPU, 256, subsets)[
            keys.KID_DOMAIN
        ]

    curve = evaluator.score(data.test[:200], final=False)
    assert scores[keys.KID_DOMAIN] == kid(fidelity.KID_SUBSETS) and curve[keys.KID_DOMAIN] == kid(fidelity.KID_SUBSETS_CURVE)
    assert curve[keys.KID_DOMAIN] != scores[keys.KID_DOMAIN]


def test_a_mixture_run_measures_mixture_coverage():
    registry = make_registry()
    from ganbench.builtin.datasets import ring8

    data = ring8(n_train=400, n_test=100)
    evaluator = make_evaluator(_cfg(registry, "ring8"), data, CPU, registry)
    assert list(evaluator.metrics) == ["mixture-coverage"] and set(evaluator.protocol) == MIXTURE_FIELDS
    scores = evaluator.score(data.train)
    assert scores[keys.MODES_COVERED] == 8 and scores[keys.HIGH_QUALITY_FRAC] > 0.95


def test_a_family_that_cannot_measure_a_run_is_left_out_with_its_reason():
    registry = make_registry()
    data = tiny_data("points", n=64)
    data.modes = None  # points whose mixture centres are unknown
    evaluator = make_evaluator(_cfg(registry, "ring8"), data, CPU, registry)
    assert evaluator.metrics == {} and evaluator.score(data.train) == {}
    assert any("mixture coverage absent" in n for n in evaluator.notes)
    assert any("only cost is measured" in n for n in evaluator.notes)


class ClaimsFid(Metric):
    directions = {keys.FID: "lower"}
    kinds = ("image",)


@hookimpl
def register_metrics(register):
    register("my-fid", ClaimsFid)


def test_a_plugin_may_not_declare_a_key_of_the_families():
    import sys

    with pytest.raises(RegistrationError, match="'fid' is a key of ganbench's own metrics"):
        from ganbench.plugins import check_factory

        check_factory("metric", "my-fid", ClaimsFid)
    with pytest.raises(AssertionError, match="broken plugin: .*'fid' is a key of ganbench's own metrics"):
        make_registry(sys.modules[__name__])  # the plugin is refused, loudly


def test_naming_a_family_in_eval_metrics_is_a_config_error():
    registry = make_registry()
    with pytest.raises(ConfigError, match="eval.metrics.domain-fidelity: is measured in every run it applies to"):
        _cfg(registry, metrics={"domain-fidelity": {}})
