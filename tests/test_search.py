"""`search:` in suites: N sampled configurations per cell, and the report's expected best score
after n of them (Dodge et al. 2019) with a bootstrap band."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import TINY_BASE
from report_fixtures import write_run
from rich.console import Console

from ganbench.cli import main
from ganbench.report import build_report
from ganbench.report.formats import terminal, to_json
from ganbench.report.search import curve, expected_max, search_figures
from ganbench.runner import run_suite
from ganbench.suite import SuiteError, expand, load_suite

SPACE = {
    "optimizer.lr": {"loguniform": [1.0e-5, 1.0e-2]},
    "optimizer.betas.0": {"uniform": [0.0, 0.9]},
    "n_disc": {"choice": [1, 2, 5]},
}
POINTS = {**TINY_BASE, "dataset": "ring8", "architecture": {"name": "mlp", "g_hidden": [16], "d_hidden": [16]}}


def suite(**keys) -> dict:
    return {
        "name": "hp",
        "base": POINTS,
        "matrix": {"loss": ["vanilla", "wgan-gp"]},
        "search": {"samples": 4, "seed": 7, "space": SPACE},
        **keys,
    }


def test_a_search_expands_each_cell_into_the_same_sampled_configurations(registry):
    s = expand(suite(seeds=2), registry)
    assert len(s.runs) == 2 * 4 * 2 and len({r.id for r in s.runs}) == 16
    assert [r.id.split("_s")[0] for r in s.runs[:4]] == ["vanilla_cfg0", "vanilla_cfg0", "vanilla_cfg1", "vanilla_cfg1"]
    by_cell = {}
    for r in s.runs:
        values = r.search["values"]
        assert 1e-5 <= values["optimizer.lr"] <= 1e-2 and 0 <= values["optimizer.betas.0"] <= 0.9 and values["n_disc"] in (1, 2, 5)
        assert r.config["optimizer"]["lr"] == values["optimizer.lr"] and r.config["n_disc"] == values["n_disc"]
        assert r.config["optimizer"]["betas"][0] == values["optimizer.betas.0"]
        assert r.search["samples"] == 4 and r.search["seed"] == 7 and r.cell == {"loss": r.config["loss"]["name"]}
        by_cell.setdefault(r.config["loss"]["name"], []).append(json.dumps(values, sort_keys=True))
    assert by_cell["vanilla"] == by_cell["wgan-gp"]  # common random numbers across cells
    assert len(set(by_cell["vanilla"])) == 4
    # the list keeps its other element: Adam's 0.999 here, WGAN-GP's recipe (betas 0, 0.9) there
    betas = {r.config["loss"]["name"]: r.config["optimizer"]["betas"][1] for r in s.runs}
    assert betas == {"vanilla": 0.999, "wgan-gp": 0.9}
    again = expand(suite(seeds=2), registry)
    assert [r.id for r in again.runs] == [r.id for r in s.runs]  # deterministic from the seed
    other = expand(suite(search={"samples": 4, "seed": 8, "space": SPACE}), registry)
    assert other.runs[0].search["values"] != s.runs[0].search["values"]
    fewer = expand(suite(search={"samples": 4, "seed": 7, "space": {"optimizer.lr": SPACE["optimizer.lr"]}}), registry)
    assert [r.search["values"]["optimizer.lr"] for r in fewer.runs] == [r.search["values"]["optimizer.lr"] for r in s.runs[::2]]


def test_loguniform_draws_are_uniform_in_log_space(registry):
    s = expand(
        {"name": "lr", "base": POINTS, "search": {"samples": 400, "seed": 0, "space": {"optimizer.lr": SPACE["optimizer.lr"]}}}, registry
    )
    logs = np.log10([r.search["values"]["optimizer.lr"] for r in s.runs])
    assert -5 <= logs.min() and logs.max() <= -2
    counts, _ = np.histogram(logs, bins=3, range=(-5, -2))
    assert counts.min() > 100  # about 133 per decade, not piled up in the last one


def test_a_profile_replaces_the_search_and_dry_run_shows_the_draws(registry, tmp_path):
    spec = suite(profiles={"cpu": {"search": {"samples": 2, "seed": 7, "space": SPACE}}})
    assert len(expand(spec, registry, profile="cpu").runs) == 4
    path = tmp_path / "hp.yaml"
    path.write_text(json.dumps(spec))
    out = CliRunner().invoke(main, ["run", str(path), "--dry-run", "--profile", "none"], env={"COLUMNS": "250"})
    assert out.exit_code == 0, out.output
    s = expand(spec, registry)
    first = s.runs[0].search["values"]
    row = next(line for line in out.output.splitlines() if s.runs[0].id in line)
    assert f"{first['optimizer.lr']:.3g}" in row and f"{first['optimizer.betas.0']:.3g}" in row
    assert "cfg" in out.output and "optimizer.betas.0" in out.output


@pytest.mark.parametrize(
    "search, message",
    [
        ({"samples": 0, "space": SPACE}, "search.samples: must be an integer from 1"),
        ({"samples": 2, "space": {"optimizer.lr": {"normal": [0, 1]}}}, "search.space.optimizer.lr: must be one of"),
        ({"samples": 2, "space": {"optimizer.lr": {"uniform": [1, 0]}}}, "search.space.optimizer.lr.uniform: must be [low, high]"),
        ({"samples": 2, "space": {"optimizer.lr": {"loguniform": [0, 1]}}}, "needs low > 0"),
        ({"samples": 2, "space": {"n_disc": {"choice": []}}}, "search.space.n_disc.choice: must be a non-empty list"),
        ({"samples": 2, "space": {"optimizer.lrr": {"uniform": [0, 1]}}}, "search.space.optimizer.lrr"),
        ({"samples": 2, "space": {"optimizer.betas.2": {"uniform": [0, 1]}}}, "optimizer.betas is not a list with an element 2"),
        ({"samples": 2, "space": {"seed": {"choice": [1, 2]}}}, "the seed is not a hyperparameter"),
        ({"samples": 2, "space": SPACE, "budget": 3}, "search: must be a mapping with"),
    ],
)
def test_a_bad_search_is_one_line_naming_its_key(registry, tmp_path, search, message):
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(suite(search=search)))
    with pytest.raises(SuiteError, match=message.replace("[", r"\[").replace("(", r"\(")) as e:
        load_suite(path, registry)
    assert "\n" not in str(e.value)


def test_a_search_too_large_is_refused_before_anything(registry, monkeypatch):
    monkeypatch.setenv("GANBENCH_MAX_RUNS", "10")
    with pytest.raises(Exception, match=r"2 cells x 4 configurations x 2 seeds = 16 runs, more than the limit of 10"):
        expand(suite(seeds=2), registry)


def test_each_configuration_trains_as_a_normal_run_recording_its_draw(tmp_path, registry):
    spec = {"name": "hp", "base": POINTS, "search": {"samples": 2, "seed": 1, "space": {"optimizer.lr": SPACE["optimizer.lr"]}}}
    s = expand(spec, registry)
    assert run_suite(s, registry, tmp_path, "cpu", console=Console(quiet=True)).counts == {"complete": 2}
    records = [json.loads((tmp_path / "hp" / r.id / "run.json").read_text()) for r in s.runs]
    assert [rec["search"] for rec in records] == [r.search for r in s.runs]
    assert records[0]["config"]["optimizer"]["lr"] != records[1]["config"]["optimizer"]["lr"]


# ---------------------------------------------------------------- expected best of n


def brute_force(scores, unscored, n):
    """E[best of n draws | some draw scored], by enumerating every ordered draw."""
    pool = list(scores) + [None] * unscored
    best = [max(v for v in draw if v is not None) for draw in itertools.product(pool, repeat=n) if any(v is not None for v in draw)]
    return sum(best) / len(best), 1 - len(best) / len(pool) ** n


def test_expected_max_is_the_expected_best_of_n_draws():
    emp, p_none = expected_max(np.array([1.0, 2.0, 3.0]), 0, 3)
    assert emp[0] == pytest.approx(2.0) and emp[1] == pytest.approx(22 / 9) and p_none.tolist() == [0, 0, 0]
    scores, unscored = [0.3, 0.9, 0.5, 0.7], 2
    emp, p_none = expected_max(np.array(scores), unscored, 4)
    for n in (1, 2, 3, 4):
        want, p = brute_force(scores, unscored, n)
        assert emp[n - 1] == pytest.approx(want) and p_none[n - 1] == pytest.approx(p)
    assert all(np.diff(emp) >= 0)  # more configurations never lower the expected best


def test_the_curve_turns_for_lower_is_better_and_its_band_holds_it():
    fid = np.array([40.0, 55.0, 31.0, 80.0, 47.0, 36.0])
    table = curve(fid, 1, higher=False)
    assert table["emp"].iloc[0] == pytest.approx(brute_force(-fid, 1, 1)[0] * -1)
    assert all(np.diff(table["emp"]) <= 0)  # the expected best FID falls with the budget
    assert (table["emp_low"] <= table["emp"] + 1e-9).all() and (table["emp"] <= table["emp_high"] + 1e-9).all()
    assert table["emp"].iloc[-1] > fid.min()  # the best of 7 draws is not always the best of the 7
    assert table.equals(curve(fid, 1, higher=False))  # a seeded bootstrap: the same report every time


def search_results(root):
    """Two losses x 4 configurations x 2 seeds; hinge's configuration 3 diverges in both seeds."""
    fids = {"vanilla": [30.0, 50.0, 40.0, 60.0], "hinge": [20.0, 70.0, 35.0, None]}
    for loss, values in fids.items():
        for i, value in enumerate(values):
            for seed in (0, 1):
                fid = value
                run_id = f"{loss}_cfg{i}_s{seed}"
                status = "diverged" if value is None else "complete"
                fid = 999.0 if fid is None else fid + seed  # a diverged run's last value is never averaged
                d = write_run(root, run_id, {"name": "adam", "lr": 1e-4 * (i + 1)}, seed, status=status, fid=fid, suite="hp")
                record = json.loads((d / "run.json").read_text())
                record["cell"] = {"loss": {"name": loss}}
                record["config"]["loss"] = {"name": loss}
                record["search"] = {"index": i, "samples": 4, "seed": 0, "values": {"optimizer.lr": 1e-4 * (i + 1)}}
                (d / "run.json").write_text(json.dumps(record))
    return root


def test_the_report_shows_the_expected_best_per_cell_and_the_distribution(tmp_path):
    rep = build_report(search_results(tmp_path / "r") / "hp")
    curves = rep.search
    assert set(curves["search_cell"]) == {"loss=vanilla", "loss=hinge"} and set(curves["metric"]) == {"fid_domain"}
    vanilla = curves[curves["search_cell"] == "loss=vanilla"]
    scores = [30.5, 50.5, 40.5, 60.5]  # each configuration: the mean of its two seeds
    assert vanilla["emp"].tolist() == pytest.approx([-brute_force([-s for s in scores], 0, n)[0] for n in (1, 2, 3, 4)])
    hinge = curves[curves["search_cell"] == "loss=hinge"]
    assert hinge["unscored"].iloc[0] == 1 and hinge["p_unscored"].iloc[0] == pytest.approx(0.25)  # 1 of 4 draws: nothing
    assert hinge["emp"].iloc[1] == pytest.approx(-brute_force([-20.5, -70.5, -35.5], 1, 2)[0])
    assert rep.search_scores["score"].isna().sum() == 1
    console = Console(width=120, record=True)
    terminal(rep, console)
    text = " ".join(console.export_text().split())
    assert "search: expected best fid_domain (lower is better) after n of the configurations tried" in text
    assert "loss=hinge: n=1" in text and "1 of 4 configurations without a score (every seed diverged or failed)" in text
    assert text.index("search: expected best") < text.index("protocol ")
    (caption, fig), *_ = list(search_figures(rep))
    assert caption.startswith("search:") and len(fig.axes) == 2
    assert not math.isnan(json.loads(to_json(rep))["search"]["curves"][0]["emp"])
