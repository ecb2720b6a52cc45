"""`ganbench report --reference`: a perfect sampler's row (held-out real data through the
same evaluation) in every table, with the known answers of real data."""

from __future__ import annotations

import json

import pytest
import torch

from ganbench import keys
from ganbench.build import Builder
from ganbench.config import resolve
from ganbench.metrics import make_evaluator
from ganbench.report import build_report
from ganbench.report.formats import markdown
from ganbench.report.reference import LABEL


def _write(root, registry, dataset, losses=("vanilla", "lsgan"), protocol=None):
    """Runs of a resolved config (not trained: the reference needs only their config and
    protocol); final metrics made up, far from real data's."""
    for i, loss in enumerate(losses):
        cfg = resolve(
            [
                (
                    "base",
                    {
                        "dataset": dataset,
                        "architecture": "mlp",
                        "loss": loss,
                        "steps": 2,
                        "eval": {"samples": 2500 if dataset == "ring8" else 200, "inception": "off"},
                    },
                )
            ],
            registry,
        )
        if protocol is None:
            data = Builder(registry).data(cfg["dataset"])
            protocol = dict(make_evaluator(cfg, data, torch.device("cpu"), registry).protocol)
        d = root / "s" / f"{loss}_s0"
        d.mkdir(parents=True)
        env = {"ganbench": "0.1.0", "torch": torch.__version__, "torch_fidelity": "0.4.0", "device_name": "test"}
        metrics = {keys.MODES_COVERED: 1 + i, keys.HIGH_QUALITY_FRAC: 0.1, keys.FID_DOMAIN: 500.0 + i}
        record = {
            "id": d.name,
            "suite": "s",
            "status": "complete",
            "seed": 0,
            "cell": {"loss": loss},
            "config": cfg,
            "metrics": metrics,
            "env": env,
            "protocol": protocol,
        }
        (d / "run.json").write_text(json.dumps(record))
        (d / "history.csv").write_text("step,d_loss\n2,0.5\n")
    return root


def test_the_reference_row_is_real_data_scored_by_the_same_protocol(tmp_path, registry):
    root = _write(tmp_path, registry, "ring8")
    rep = build_report(root, reference=True, registry=registry)
    ref = rep.cells[rep.cells["label"] == LABEL]
    assert len(ref) == 1 and len(rep.trained_cells()) == 2
    row = ref.iloc[0]
    assert row[f"{keys.MODES_COVERED}.mean"] == 8  # exact mixture samples: every mode
    assert row[f"{keys.HIGH_QUALITY_FRAC}.mean"] == pytest.approx(0.98889, abs=4 * 0.0021)  # 1 - e^-4.5, 2,500 test points
    assert row[f"{keys.MODE_JSD}.mean"] < 0.005
    assert any("reference row (ring8)" in n and "2500 test points" in n and "another protocol" not in n for n in rep.notes)
    assert "| reference |" in markdown(rep)  # a row of the table, and not an axis value of the runs
    assert "loss (lsgan, vanilla)" in markdown(rep) or "loss (vanilla, lsgan)" in markdown(rep)
    assert build_report(root).cells.shape[0] == 2  # only when asked


def test_the_reference_says_when_the_runs_protocol_differs(tmp_path, registry):
    """Runs measured under an older classifier: the row is still shown, measured now, and the
    note names the fields that differ."""
    old = {"samples": 200, "real_split": "test", "classifier_hash": "0123456789abcdef", "g_mode": "eval"}
    rep = build_report(_write(tmp_path, registry, "digits", protocol=old), reference=True, registry=registry)
    row = rep.cells[rep.cells["label"] == LABEL].iloc[0]
    assert row[f"{keys.CONFIDENT_FRAC}.mean"] > 0.9 and row[f"{keys.MODES_COVERED}.mean"] == 10
    assert row[f"{keys.FID_DOMAIN}.mean"] < 100  # real vs real; the made-up runs score 500
    note = next(n for n in rep.notes if n.startswith("reference row (digits)"))
    assert "200 training images" in note and "classifier_hash" in note


def test_a_final_null_stays_null(tmp_path, registry):
    """2-D mode_kl is null when no sample is high quality: the report must not show an
    earlier evaluation's value as the final one (it fills from the history only a metric
    run.json does not record)."""
    root = _write(tmp_path, registry, "ring8", losses=("vanilla",), protocol={"samples": 2500})
    d = root / "s" / "vanilla_s0"
    record = json.loads((d / "run.json").read_text())
    record["metrics"][keys.MODE_KL] = None
    (d / "run.json").write_text(json.dumps(record))
    (d / "history.csv").write_text("step,d_loss,mode_kl,high_quality_frac\n1,0.5,0.2,0.5\n2,0.5,,0.0\n")
    rep = build_report(root)
    assert rep.frame[keys.MODE_KL].isna().all()
    assert rep.frame[f"{keys.MODE_KL}.best"].iloc[0] == 0.2  # the best evaluation is still the best


def test_the_worst_value_is_uniform_noise_through_the_same_evaluation(registry):
    """The aggregates' 0: uniform samples over the ring's bounding box ([-1, 1]^2, area 4)
    are high quality with probability 8 * pi * (3 sigma)^2 / 4 = 0.00565 (sigma 0.01)."""
    import math

    from ganbench.report.reference import measure_noise

    cfg = resolve([("base", {"dataset": "ring8", "architecture": "mlp", "steps": 2})], registry)
    values, _, what, _ = measure_noise(cfg, registry)
    assert "2500 uniform samples" in what
    expected = 8 * math.pi * 0.03**2 / (2 * 2)
    assert values[keys.HIGH_QUALITY_FRAC] == pytest.approx(expected, abs=4 * math.sqrt(expected / 2500))
