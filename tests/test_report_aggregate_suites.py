"""Aggregates across data sets (rliable): normalised scores, IQM intervals that cover,
probability of improvement, performance profiles."""

from __future__ import annotations

import numpy as np
import pytest
from report_fixtures import write_cell_run

pytest.importorskip("rliable", reason="rliable is not installed (pip install 'ganbench[aggregate]', part of the test extra)")

from ganbench.report import build_report
from ganbench.report.aggregate_suites import build, iqm_interval, markdown_lines

# task -> (reference, worst) of fid_domain: 0 and 100 on ring8, 10 and 110 on grid25
BOUNDS = {"ring8": (0.0, 100.0), "grid25": (10.0, 110.0)}


def test_the_iqm_interval_covers_the_true_iqm():
    """Three tasks whose scores are N(0.3 | 0.5 | 0.7, 0.1): the pooled distribution is
    symmetric about 0.5, so its interquartile mean is exactly 0.5. Over repeated draws of
    10 runs per task, rliable's nominal 95% stratified bootstrap interval must contain it
    at least 90% of the time (measured: 48 of 50)."""
    rng = np.random.default_rng(0)
    mu = np.array([0.3, 0.5, 0.7])
    hits = 0
    for draw in range(50):
        scores = rng.normal(mu, 0.1, size=(10, 3))  # (runs, tasks)
        point, low, high = iqm_interval(scores, reps=400, seed=draw)
        assert low <= point <= high
        hits += low <= 0.5 <= high
    assert hits / 50 >= 0.9, hits


def _suite(root, dataset, fids: dict[str, list], status=None):
    for loss, values in fids.items():
        for s, fid in enumerate(values):
            write_cell_run(
                root,
                f"{dataset}-{loss}_s{s}",
                {"dataset": {"name": dataset}, "loss": {"name": loss}},
                s,
                {"fid_domain": fid},
                status=(status or {}).get((loss, s), "complete"),
                suite=dataset,
            )


def test_recipes_ranked_across_data_sets(tmp_path):
    _suite(tmp_path, "ring8", {"good": [10, 20, 30], "bad": [60, 70, 80]})
    _suite(tmp_path, "grid25", {"good": [20, 30, 40], "bad": [70, 80, 999]}, status={("bad", 2): "diverged"})
    _suite(tmp_path, "grid25", {"lonely": [15]})  # only on one data set: left out, with a note
    rep = build_report(tmp_path, split_protocols=True)
    agg = build(rep, "fid_domain", bounds=BOUNDS, reps=400)
    assert agg.tasks == ["grid25", "ring8"] or agg.tasks == ["ring8", "grid25"]
    col = agg.tasks.index("ring8")
    assert list(agg.scores["loss=good"][:, col]) == pytest.approx([0.9, 0.8, 0.7])  # (100 - fid) / 100
    assert list(agg.scores["loss=bad"][:, 1 - col]) == pytest.approx([0.4, 0.3, 0.0])  # the diverged run scores 0
    iqm = agg.iqm.set_index("recipe")
    assert list(agg.iqm["recipe"]) == ["loss=good", "loss=bad"]
    # IQM: scipy's trim_mean(0.25) of the six scores cuts int(0.25 * 6) = 1 from each end
    good = np.sort([0.9, 0.8, 0.7] * 2)  # ring8 (100 - fid) / 100 and grid25 (110 - fid) / 100 give the same scores
    assert iqm.loc["loss=good", "iqm"] == pytest.approx(good[1:-1].mean())
    p = agg.improvement.set_index(["x", "y"])
    assert p.loc[("loss=good", "loss=bad"), "p_improve"] == 1.0 and p.loc[("loss=bad", "loss=good"), "p_improve"] == 0.0
    share, _, _ = agg.profiles["loss=good"]
    assert share[np.searchsorted(np.linspace(-0.25, 1.25, 61), 0.5)] == 1.0  # every good run above tau = 0.5
    assert any("loss=lonely left out" in n for n in agg.notes)
    assert "P(loss=good > loss=bad) = 1.00" in "\n".join(markdown_lines(agg))


def test_the_page_shows_the_aggregate_table_and_figure(tmp_path):
    from ganbench.report.html import page

    _suite(tmp_path, "ring8", {"good": [10, 20], "bad": [60, 70]})
    _suite(tmp_path, "grid25", {"good": [20, 30], "bad": [70, 80]})
    rep = build_report(tmp_path, split_protocols=True)
    rep.aggregate = build(rep, "fid_domain", bounds=BOUNDS, reps=200)
    html = page(rep, {})
    assert '<table id="aggregate">' in html and "Across data sets: fid_domain" in html
    assert html.count("<img") == 1 and "performance profiles" in html
