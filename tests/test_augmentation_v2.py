"""The augmentation-v2 suite's CPU profile, shrunk to a few steps: every cell (unconditional,
projection and ACGAN, each with and without DiffAugment) trains and is scored with the
labelling schemes that apply to it."""

from __future__ import annotations

import json

from conftest import REPO
from rich.console import Console

from ganbench.runner import run_suite
from ganbench.suite import load_suite

TINY = [
    "seeds=1",
    "steps=3",
    "eval.every=3 steps",
    "eval.samples=100",
    "eval.curve_samples=50",
    "eval.metrics={cas: {synthetic: 100, steps: 3}, augmentation: {real: 200, synthetic: 100, schemes: [extra-class, argmax, uniform, conditional], seeds: 1, steps: 3}, class-accuracy: {}, intra-fid: {}}",
]


def test_the_cpu_profile_runs_every_cell_on_a_tiny_variant(tmp_path, registry):
    suite = load_suite(REPO / "suites" / "augmentation-v2.yaml", registry, TINY, profile="cpu")
    assert len(suite.runs) == 6
    outcome = run_suite(suite, registry, tmp_path, "cpu", console=Console(quiet=True), threads=1)
    assert outcome.counts == {"complete": 6}
    for path in (tmp_path / "augmentation-v2").glob("[!.]*/run.json"):
        record = json.loads(path.read_text())
        m, arch = record["metrics"], record["config"]["architecture"]["name"]
        assert {"aug_gain_extra_class", "aug_gain_argmax", "aug_gain_uniform", "cas"} <= m.keys()
        if arch == "dcgan":
            assert "aug_gain_conditional" not in m and "class_acc" not in m
            assert any("unconditional" in n for n in record["notes"])
        else:
            assert m["aug_gain_conditional"] is not None and 0 <= m["class_acc"] <= 1 and m["intra_fid_domain"] > 0
            assert record["protocol"]["cas.labels"] == "the generator's own (conditional)"
