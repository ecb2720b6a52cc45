"""Tabular data (sklearn-table) and the tabular-quality metric plugin (SDMetrics)."""

from __future__ import annotations

import json

import pytest
import torch
from rich.console import Console

from ganbench.builtin.datasets import sklearn_table
from ganbench.config import ConfigError, identity, resolve
from ganbench.metrics.plugin import Context
from ganbench.runner import run_suite
from ganbench.suite import expand
from ganbench.testing import make_registry


@pytest.mark.parametrize("table,rows,columns,classes", [("wine", 178, 14, 3), ("breast_cancer", 569, 31, 2), ("diabetes", 442, 11, None)])
def test_sklearn_tables_are_standardized_with_their_target_named(table, rows, columns, classes):
    d = sklearn_table(table)
    assert len(d.train) + len(d.test) == rows and d.train.shape[1] == columns and d.kind == "tabular"
    assert torch.allclose(d.train.mean(0), torch.zeros(columns), atol=1e-4)
    assert torch.allclose(d.train.std(0, unbiased=False), torch.ones(columns), atol=1e-3)
    assert d.info["columns"][d.info["target_index"]] == d.info["target"] == "target"
    assert d.num_classes == classes
    if classes:  # the labels are the target column's class codes
        i = d.info["target_index"]
        codes = (d.train[:, i] * d.info["std"][i] + d.info["mean"][i]).round().long()
        assert torch.equal(codes, d.train_labels) and d.info["task"] == "classification"
    else:
        assert d.train_labels is None and d.info["task"] == "regression"
    assert torch.equal(sklearn_table(table).test, d.test)  # the split is fixed


def quality(samples, data, **options):
    pytest.importorskip("sdmetrics")
    from ganbench.metrics.tabular import TabularQuality

    metric = TabularQuality(**options)
    ctx = Context(data, {"name": "sklearn-table"}, torch.device("cpu"), seed=0, final=True, samples=len(samples))
    return metric(samples, ctx), metric.protocol(ctx)


def test_tabular_quality_known_answers():
    data = sklearn_table("breast_cancer")
    # Real rows the metric's real side (the test split) does not hold, as "synthetic".
    real, protocol = quality(data.train, data)
    assert real["tab_column_shapes"] > 0.9 and real["tab_pair_trends"] > 0.93
    assert real["tab_detection"] > 0.9  # 1 = a classifier tells them apart no better than chance
    assert real["tab_ml_efficacy"] == pytest.approx(real["tab_ml_efficacy_real"]) and real["tab_ml_efficacy"] > 0.9
    assert protocol["sdmetrics"] and protocol["ml_model"] == "BinaryLogisticRegression" and protocol["real_split"] == "test"
    # Each column shuffled on its own: the marginals stay, the relations between columns go.
    g = torch.Generator().manual_seed(0)
    shuffled = torch.stack([c[torch.randperm(len(c), generator=g)] for c in data.train.T], 1)
    noise, _ = quality(shuffled, data)
    assert noise["tab_column_shapes"] == pytest.approx(real["tab_column_shapes"])
    assert noise["tab_pair_trends"] < real["tab_pair_trends"] - 0.1
    assert noise["tab_ml_efficacy"] < 0.75
    # Gaussian noise with each column's mean and standard deviation: the skewed marginals go too.
    gauss, _ = quality(torch.randn(len(data.train), data.train.shape[1], generator=g), data, detection=False, ml_efficacy=False)
    assert gauss["tab_column_shapes"] < real["tab_column_shapes"] - 0.03
    assert gauss["tab_pair_trends"] < real["tab_pair_trends"] - 0.1


def test_tabular_quality_runs_in_a_suite(tmp_path):
    pytest.importorskip("sdmetrics")
    registry = make_registry()
    spec = {
        "name": "tab",
        "base": {
            "dataset": {"name": "sklearn-table", "table": "wine"},
            "architecture": "mlp",
            "steps": 3,
            "batch_size": 32,
            "z_dim": 8,
            "eval": {"every": "2 steps", "samples": 200, "metrics": {"tabular-quality": {"detection": False}}},
        },
    }
    run_suite(expand(spec, registry), registry, tmp_path, "cpu", console=Console(quiet=True))
    (run_dir,) = (tmp_path / "tab").glob("[!.]*")
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "complete", record.get("error")
    assert 0 <= record["metrics"]["tab_column_shapes"] <= 1 and "tab_detection" not in record["metrics"]
    assert record["protocol"]["tabular-quality.ml_model"] == "MulticlassDecisionTreeClassifier"
    assert record["protocol"]["tabular-quality.detection"] == "off"


def test_eval_metrics_are_validated_and_keep_old_run_ids():
    registry = make_registry()
    base = {"dataset": "ring8", "architecture": "mlp", "steps": 2}
    plain = resolve([("base", base)], registry)
    assert plain["eval"]["metrics"] == {} and "metrics" not in identity(plain)["eval"]  # ADDED_DEFAULTS: ids unchanged
    on = resolve([("base", {**base, "eval": {"metrics": {"tabular-quality": None}}})], registry)
    assert on["eval"]["metrics"] == {"tabular-quality": {}} and identity(on)["eval"]["metrics"] == {"tabular-quality": {}}
    assert (
        resolve([("base", {**base, "keep_best": "tab_detection"})], registry)["keep_best"] == "tab_detection:higher"
    )  # a plugin's direction
    with pytest.raises(ConfigError, match="unknown metric 'nope'"):
        resolve([("base", {**base, "eval": {"metrics": {"nope": {}}}})], registry)
    with pytest.raises(ConfigError, match=r"eval.metrics.tabular-quality.rows: not an option"):
        resolve([("base", {**base, "eval": {"metrics": {"tabular-quality": {"rows": 3}}}})], registry)
    with pytest.raises(ConfigError, match=r"eval.metrics.tabular-quality.max_rows: must be an integer"):
        resolve([("base", {**base, "eval": {"metrics": {"tabular-quality": {"max_rows": "many"}}}})], registry)


def test_a_metric_for_other_data_is_skipped_with_a_note():
    from ganbench.builtin.datasets import ring8
    from ganbench.metrics import make_evaluator

    registry = make_registry()
    cfg = resolve(
        [("base", {"dataset": "ring8", "architecture": "mlp", "steps": 2, "eval": {"metrics": {"tabular-quality": {}}}})], registry
    )
    evaluator = make_evaluator(cfg, ring8(n_train=100, n_test=50), torch.device("cpu"), registry)
    assert list(evaluator.metrics) == ["mixture-coverage"]  # the built-in family for ring8; tabular-quality left out
    assert any("tabular-quality skipped" in n for n in evaluator.notes)
