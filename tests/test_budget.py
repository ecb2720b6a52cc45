"""A suite-level `budget:` sets every cell's length so that each spends the same."""

from __future__ import annotations

import json

import pytest

from ganbench import api
from ganbench.budget import header_lines
from ganbench.config import identity
from ganbench.metrics import flops
from ganbench.report.load import find_runs
from ganbench.suite import SuiteError

BASE = {"dataset": "ring8", "architecture": {"name": "mlp", "g_hidden": [8], "d_hidden": [8]}, "batch_size": 16, "z_dim": 4, "epochs": 3}


def _suite(budget, **extra):
    return {"name": "b", "base": BASE, "matrix": {"loss": ["vanilla", "wgan-gp"]}, "budget": budget, **extra}


def _steps(suite):
    runs = api.load_suite(suite, profile="none").runs
    return {r.config["loss"]["name"]: (r.config["steps"], r.config["n_disc"]) for r in runs}, runs


def test_equal_g_updates_and_equal_d_updates(registry):
    steps, runs = _steps(_suite({"g_updates": 600}))
    assert steps == {"vanilla": (600, 1), "wgan-gp": (600, 5)}  # WGAN-GP's 5 critic steps: same G updates
    assert all("epochs" not in r.config and r.config["budget"] == {"g_updates": 600} for r in runs)
    steps, _ = _steps(_suite({"d_updates": 600}))
    assert steps == {"vanilla": (600, 1), "wgan-gp": (120, 5)}  # equal D updates: a fifth of the G updates
    steps, _ = _steps(_suite({"images": 9600}))  # real images D trains on: steps * n_disc * batch
    assert steps == {"vanilla": (600, 1), "wgan-gp": (120, 5)}


def test_equal_flops(registry):
    steps, runs = _steps(_suite({"flops": 1e9}))
    from ganbench.budget import flops_per_step

    for r in runs:
        per = flops_per_step(r.config, registry)
        assert r.config["steps"] == int(1e9 // per) and 1e9 - per < r.config["steps"] * per <= 1e9
    assert steps["wgan-gp"][0] < steps["vanilla"][0] / 5  # 5 critic updates and a gradient penalty per step


def test_the_budget_is_a_record_not_an_id(registry):
    """Only the resolved steps define the run: the same steps without a budget is the same run."""
    _, with_budget = _steps(_suite({"g_updates": 600}))
    plain = api.load_suite(
        {
            "name": "b",
            "base": {**{k: v for k, v in BASE.items() if k != "epochs"}, "steps": 600},
            "matrix": {"loss": ["vanilla", "wgan-gp"]},
        },
        profile="none",
    )
    assert [r.id for r in with_budget] == [r.id for r in plain.runs]
    assert "budget" not in identity(with_budget[0].config)


@pytest.mark.parametrize(
    "budget,message",
    [
        ({"g_updates": 0}, "budget.g_updates: must be a positive number"),
        ({"epochs": 3}, "budget.epochs: unknown budget"),
        ({"g_updates": 10, "images": 100}, "budget: must be a mapping of one of"),
        ({"g_updates": 1.5}, "must be a whole number"),
    ],
)
def test_bad_budgets_are_refused_in_one_line(registry, budget, message):
    with pytest.raises(SuiteError, match=message):
        api.load_suite(_suite(budget), profile="none")


def test_a_run_records_its_budget_and_what_it_spent(tmp_path, registry):
    suite = _suite({"d_updates": 10}, seeds=1)
    suite["base"] = {**BASE, "log_every": "1 step", "eval": {"every": "none"}, "grid_every": "none"}
    out = api.run_suite(suite, tmp_path, devices="cpu", quiet=True, profile="none")
    assert out.exit_code == 0
    records = {
        json.loads((d / "run.json").read_text())["config"]["loss"]["name"]: json.loads((d / "run.json").read_text()) for d in out.run_dirs()
    }
    for loss, steps in (("vanilla", 10), ("wgan-gp", 2)):
        rec = records[loss]
        assert rec["budget"]["kind"] == "d_updates" and rec["budget"]["value"] == 10 and rec["budget"]["steps"] == steps
        spent = rec["budget"]["spent"]
        assert spent["g_updates"] == steps and spent["d_updates"] == 10 and spent["images"] == 10 * 16
        assert spent["flops"] == steps * rec["flops"][flops.PER_STEP] and spent["train_seconds"] > 0
    lines = header_lines(find_runs(tmp_path))
    assert lines == ["budget: d_updates = 10 per run (a suite-level budget: each cell's length set to spend it; resolved steps 2, 10)"]


def test_a_train_seconds_budget_stops_each_run_at_its_first_row_past_it_and_scores_it_there(tmp_path, registry):
    suite = _suite({"train_seconds": 0.5}, seeds=1)
    suite["base"] = {
        **{k: v for k, v in BASE.items() if k != "epochs"},
        "steps": 100_000,
        "log_every": "1 steps",  # a row per step: the first one falls well before 0.5 s, even on a loaded machine
        "grid_every": "none",
        "eval": {"every": "100000 steps", "samples": 120, "curve_samples": 60},
    }
    out = api.run_suite(suite, tmp_path, devices="cpu", quiet=True, profile="none")
    assert out.exit_code == 0
    for d in out.run_dirs():
        rec = json.loads((d / "run.json").read_text())
        assert rec["status"] == "complete" and rec["config"]["train_seconds"] == 0.5
        steps = rec["metrics"]["steps"]
        assert 2 <= steps < 100_000  # at a log row, long before the cap
        assert rec["metrics"]["train_s"] >= 0.5
        history = [line.split(",") for line in (d / "history.csv").read_text().splitlines()]
        assert len(history) >= 3, history  # the header, a row before the budget, the row past it
        header, last, before = history[0], history[-1], history[-2]
        # the first row past it; history rounds train_s to ms, so the row before may read 0.5 (from 0.4996)
        assert float(before[header.index("train_s")]) <= 0.5 <= float(last[header.index("train_s")])
        assert rec["metrics"].get("modes_covered") is not None  # evaluated at that row ...
        assert rec["protocol"]["samples"] == 120 and not (d / "checkpoint.pt").exists()  # ... as the final evaluation
        assert rec["budget"]["spent"]["train_seconds"] >= 0.5
