"""The Python API (ganbench.api): a suite from a dict, trained, read back as frames,
reported, and its generators sampled, as a notebook would."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import TINY_BASE

import ganbench
from ganbench import api
from ganbench.report import Report, ReportError
from ganbench.suite import SuiteError

SUITE = {"name": "api", "base": TINY_BASE, "matrix": {"loss": ["vanilla", "hinge"]}, "seeds": 1}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two tiny runs (about a second each), trained once for the module."""
    results = tmp_path_factory.mktemp("api") / "results"
    outcome = api.run_suite(SUITE, results, devices="cpu", quiet=True)
    return results, outcome


def test_run_suite_from_a_dict(trained):
    results, outcome = trained
    assert isinstance(outcome, api.Outcome)
    assert outcome.counts == {"complete": 2} and outcome.exit_code == 0 and outcome.skipped == 0
    assert outcome.folder == results / "api" and len(outcome.run_dirs()) == 2
    assert [r.config["loss"]["name"] for r in outcome.suite.runs] == ["vanilla", "hinge"]
    again = api.run_suite(SUITE, results, devices="cpu", quiet=True)  # finished runs are skipped
    assert again.skipped == 2 and not again.counts


def test_load_suite_takes_overrides_as_a_dict_or_strings(registry, tmp_path):
    a = api.load_suite(SUITE, {"optimizer.lr": 1e-3, "seeds": [0, 3]}, registry)
    b = api.load_suite(SUITE, ["optimizer.lr=1e-3", "seeds=[0, 3]"], registry)
    assert [r.id for r in a.runs] == [r.id for r in b.runs] and [r.seed for r in a.runs] == [0, 3, 0, 3]
    assert all(r.config["optimizer"]["lr"] == 1e-3 for r in a.runs)
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(SUITE))  # JSON is YAML
    c = api.load_suite(path, {"optimizer.lr": 1e-3, "seeds": [0, 3]}, registry)
    assert [r.id for r in c.runs] == [r.id for r in a.runs]
    assert api.load_suite(a) is a


def test_an_invalid_suite_raises_a_one_line_suite_error(registry):
    with pytest.raises(SuiteError, match=r"^<dict>: base.optimiser: unknown key \(did you mean 'optimizer'\?\)"):
        api.load_suite({"name": "x", "base": {**TINY_BASE, "optimiser": "sgd"}}, registry=registry)
    with pytest.raises(SuiteError, match=r"<dict>: --set seeds: must be >= 1"):
        api.run_suite(SUITE, "unused", overrides={"seeds": 0}, registry=registry)


def test_load_results_gives_runs_history_and_cells(trained):
    results, outcome = trained
    runs, history, cells = api.load_results(results)
    assert len(runs) == 2 and set(runs["status"]) == {"complete"}
    assert {"id", "label", "path", "g_loss"} <= set(runs.columns)
    assert list(history.columns[:5]) == ["suite", "id", "cell", "label", "seed"] and "d_loss" in history.columns
    assert set(history["id"]) == set(runs["id"]) and history.groupby("id")["step"].max().tolist() == [6, 6]
    assert len(cells) == 2
    assert set(runs["label"]) == set(history["label"]) == {"loss=vanilla", "loss=hinge"}


def test_report_render_and_write(trained, tmp_path):
    results, _ = trained
    rep = api.report(results / "api", metrics=["g_loss"])
    assert isinstance(rep, Report) and rep.metrics == ["g_loss"]
    assert "hinge" in api.render(rep, "md") and "g_loss" in api.render(rep, "md")
    assert json.loads(api.render(rep, "json"))
    assert "<html" in api.render(rep, "html").lower()
    written = api.write_report(rep, tmp_path / "out.csv")
    assert written[0] == tmp_path / "out.csv" and "label" in written[0].read_text().splitlines()[0]
    with pytest.raises(ReportError, match="format 'pdf'"):
        api.render(rep, "pdf")
    with pytest.raises(ReportError, match="no such results folder"):
        api.report(tmp_path / "nothing")


def test_load_generator_and_sample(trained):
    results, outcome = trained
    run_dir = outcome.run_dirs()[0]
    G = api.load_generator(run_dir)
    assert isinstance(G, torch.nn.Module) and not G.training and G.z_dim == TINY_BASE["z_dim"]
    state = torch.get_rng_state()
    x = api.sample(run_dir, n=5, seed=3)
    assert x.shape == (5, 1, 8, 8) and x.device.type == "cpu" and x.abs().max() <= 1
    assert torch.equal(x, api.sample(G, n=5, seed=3))  # a folder or its module: the same samples
    assert not torch.equal(x, api.sample(G, n=5, seed=4))
    assert torch.equal(state, torch.get_rng_state())  # the global random state is left alone
    with pytest.raises(ValueError, match="z_dim"):
        api.sample(torch.nn.Linear(2, 2), n=2)
    with pytest.raises(ReportError, match="not a run folder"):
        api.load_generator(results)


def test_the_package_root_re_exports_the_api_lazily():
    assert ganbench.run_suite is api.run_suite and ganbench.sample is api.sample
    assert ganbench.load_results is api.load_results
    with pytest.raises(AttributeError):
        _ = ganbench.no_such_function
