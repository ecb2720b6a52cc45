"""Per-cell statistics, --at, ranking and pairwise tests on hand-made runs with known numbers."""

import math

import numpy as np
import pytest
from scipy import stats

from ganbench.report import ReportError, build_report
from ganbench.report.aggregate import ci, direction
from report_fixtures import ADAM, ADAM_FID, ADAM_IPS, SGD_FID, hand_made, write_run


@pytest.fixture
def results(tmp_path):
    return hand_made(tmp_path / "results")


def cell(report, optimizer):
    rows = report.cells[report.cells["axis:optimizer"] == optimizer]
    assert len(rows) == 1
    return rows.iloc[0]


def test_cells_group_seeds_and_count_statuses(results):
    r = build_report(results)
    assert r.axes == ["optimizer"]
    assert sorted(r.cells["axis:optimizer"]) == ["adam", "sgd"]  # labelled by optimizer name
    adam, sgd = cell(r, "adam"), cell(r, "sgd")
    assert (adam["runs"], adam["complete"], adam["diverged"], adam["failed"]) == (4, 3, 1, 0)
    assert (sgd["runs"], sgd["complete"], sgd["diverged"], sgd["failed"]) == (4, 3, 0, 1)
    assert adam["seeds"] == "0 1 2 3"


def test_mean_std_t_interval_over_complete_runs_only(results):
    r = build_report(results)
    adam = cell(r, "adam")
    x = np.array(ADAM_FID)  # the diverged run's 999 must not enter
    assert adam["fid_domain.n"] == 3
    assert adam["fid_domain.mean"] == pytest.approx(12.0)
    assert adam["fid_domain.std"] == pytest.approx(2.0)
    lo, hi = stats.t.interval(0.95, 2, loc=12.0, scale=stats.sem(x))
    assert (adam["fid_domain.ci_low"], adam["fid_domain.ci_high"]) == pytest.approx((lo, hi))
    assert cell(r, "adam")["train_img_per_s.mean"] == pytest.approx(np.mean(ADAM_IPS))


def test_bootstrap_interval_is_inside_the_data_range(results):
    r = build_report(results, ci="bootstrap")
    sgd = cell(r, "sgd")
    assert min(SGD_FID) <= sgd["fid_domain.ci_low"] < sgd["fid_domain.mean"] < sgd["fid_domain.ci_high"] <= max(SGD_FID)
    lo, hi = ci(np.array(SGD_FID), "bootstrap")
    assert (lo, hi) == (sgd["fid_domain.ci_low"], sgd["fid_domain.ci_high"])  # seeded: the same every time
    assert math.isnan(ci(np.array([1.0]), "t")[0])  # one seed: no interval


def test_final_and_best_from_history(results):
    r = build_report(results)
    adam = cell(r, "adam")
    assert adam["fid_domain.best.mean"] == pytest.approx(10.0)  # each seed's best is 2 below its final
    assert adam["fid_domain.mean"] == pytest.approx(12.0)
    assert "d_acc_real.best.mean" not in r.cells  # no known direction: no "best"


def test_at_step_and_epoch(results):
    r = build_report(results, at="step=20")
    assert r.shown["fid_domain"] == "fid_domain.at_step_20"
    assert cell(r, "adam")["fid_domain.at_step_20.mean"] == pytest.approx(10.0)
    r = build_report(results, at="epoch=2")
    assert cell(r, "sgd")["fid_domain.at_epoch_2.mean"] == pytest.approx(np.mean(SGD_FID) - 2)
    r = build_report(results, at="step=25")  # between logs: the latest value at or before
    assert cell(r, "adam")["fid_domain.at_step_25.mean"] == pytest.approx(10.0)
    r = build_report(results, at="step=100")  # never reached: blank, not the last value
    assert math.isnan(cell(r, "adam")["fid_domain.at_step_100.mean"])
    with pytest.raises(ReportError, match="epoch=N or step=N"):
        build_report(results, at="iteration=3")


def test_ranking_uses_the_metric_direction(results):
    r = build_report(results, sort="fid_domain")
    assert list(r.cells["axis:optimizer"]) == ["adam", "sgd"] and list(r.cells["rank"]) == [1, 2]
    r = build_report(results, sort="train_img_per_s")  # higher is better
    assert list(r.cells["axis:optimizer"]) == ["sgd", "adam"]
    r = build_report(results, sort="d_loss:higher")
    assert r.sort == ("d_loss", "higher")
    with pytest.raises(ReportError, match="d_loss:lower"):
        build_report(results, sort="d_loss")
    with pytest.raises(ReportError, match="no metric 'nope'"):
        build_report(results, sort="nope:lower")


def test_directions():
    assert direction("fid") == direction("kid_domain") == direction("mode_kl") == direction("d_step_ms") == "lower"
    assert direction("time_to_fid_domain_s") == direction("peak_mem_mb") == direction("time_to_fid_domain_steps") == "lower"
    assert direction("is") == direction("recall_domain") == direction("modes_covered") == "higher"
    assert direction("train_img_per_s") == direction("high_quality_frac") == "higher"
    assert direction("d_acc_real") is None and direction("modes_total") is None
    assert direction("my_score", {"my_score": "higher"}) == "higher"


def test_pairwise_welch_and_mann_whitney_match_scipy(results):
    r = build_report(results)  # optimizer has two values: compared automatically
    row = r.comparisons[(r.comparisons["metric"] == "fid_domain")].iloc[0]
    a, b = np.array(ADAM_FID), np.array(SGD_FID)
    res = stats.ttest_ind(a, b, equal_var=False)
    assert (row["a"], row["b"], row["n_a"], row["n_b"]) == ("adam", "sgd", 3, 3)
    assert row["diff"] == pytest.approx(a.mean() - b.mean())
    assert row["p"] == pytest.approx(res.pvalue)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(tuple(res.confidence_interval(0.95)))
    assert row["better"] == "adam"  # lower fid, p < 0.05
    r = build_report(results, test="mwu", compare_axes=["optimizer"])
    row = r.comparisons[(r.comparisons["metric"] == "fid_domain")].iloc[0]
    assert row["p"] == pytest.approx(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    with pytest.raises(ReportError, match="not an axis"):
        build_report(results, compare_axes=["loss"])


def test_comparisons_at_a_point_use_those_values(results):
    r = build_report(results, at="step=20")
    row = r.comparisons[(r.comparisons["metric"] == "fid_domain")].iloc[0]
    assert row["column"] == "fid_domain.at_step_20"
    assert row["diff"] == pytest.approx(np.mean(ADAM_FID) - np.mean(SGD_FID))  # both 2 below final


def test_missing_metric_is_blank_with_a_note(results):
    r = build_report(results)
    assert "kid_domain" in r.metrics  # measured for adam only
    assert math.isnan(cell(r, "sgd")["kid_domain.mean"])
    assert r.missing() == ["kid_domain"]
    assert any("offline" in n for n in r.notes)


def test_mixed_protocols_refused_or_split(tmp_path):
    root = hand_made(tmp_path / "r")
    write_run(root, "adam_s9", ADAM, 9, fid=11.0, protocol={"samples": 50000, "real_samples": 1000,
                                                             "real_split": "test", "features": "domain classifier"})
    with pytest.raises(ReportError, match="2 different protocols.*samples"):
        build_report(root)
    r = build_report(root, split_protocols=True)
    assert len(r.protocols) == 2 and "protocol" in r.axes
    assert len(r.cells) == 3  # adam under each protocol kept apart, sgd
    assert sorted(r.cells["complete"]) == [1, 3, 3]


def test_cells_measured_differently_are_kept_apart_not_refused(tmp_path):
    """Two suites (or datasets) with their own protocols: one report, labelled, no pooling."""
    root = tmp_path / "r"
    other = {"samples": 2500, "modes": 8}
    for s in range(3):
        write_run(root, f"adam_s{s}", ADAM, s, fid=10.0 + s)
        write_run(root, f"sgd_s{s}", {"name": "sgd", "lr": 0.1}, s, fid=20.0 + s, protocol=other, suite="ring")
    r = build_report(root)
    assert len(r.protocols) == 2 and "protocol" in r.axes
    assert sorted(r.cells["complete"]) == [3, 3]
    assert r.comparisons.empty  # adam and sgd were measured differently: no pairwise test


def test_no_spread_gives_no_p_value(tmp_path):
    root = tmp_path / "r"
    for s in range(2):
        write_run(root, f"a{s}", ADAM, s, fid=5.0)
        write_run(root, f"b{s}", {"name": "sgd", "lr": 0.1}, s, fid=7.0)
    row = build_report(root).comparisons.iloc[0]
    assert row["diff"] == -2.0 and (row["ci_low"], row["ci_high"]) == (-2.0, -2.0)
    assert math.isnan(row["p"]) and row["better"] == ""  # a p of 0 from two identical seeds would overclaim


def test_a_failed_run_without_protocol_does_not_mix_protocols(tmp_path):
    root = hand_made(tmp_path / "r")
    write_run(root, "adam_s8", ADAM, 8, status="failed", protocol={})  # failed before evaluation was set up
    r = build_report(root)
    assert len(r.protocols) == 1 and cell(r, "adam")["failed"] == 1


def _set_env(run_dir, **env):
    import json

    path = run_dir / "run.json"
    record = json.loads(path.read_text())
    record["env"] = {**record["env"], **env}
    path.write_text(json.dumps(record))


def test_cost_is_compared_only_within_one_execution_context(results):
    # sgd's seeds all ran 16 to a GPU: their throughput is not comparable with adam's, alone
    for s in range(4):
        _set_env(results / "hand" / f"sgd_s{s}", executor="process", runs_per_device=16, threads=1)
    r = build_report(results, metrics=["fid_domain", "train_img_per_s"])
    assert cell(r, "adam")["train_img_per_s.mean"] == pytest.approx(np.mean(ADAM_IPS))  # each cell is one context
    compared = set(r.comparisons["metric"])
    assert "fid_domain" in compared and "train_img_per_s" not in compared  # quality still compared
    assert not [n for n in r.notes if "cost metrics left blank" in n]

    # one adam seed ran shared: adam's cost mixes contexts and is left blank, with a note
    _set_env(results / "hand" / "adam_s0", executor="process", runs_per_device=16, threads=1)
    r = build_report(results, metrics=["fid_domain", "train_img_per_s"])
    assert math.isnan(cell(r, "adam")["train_img_per_s.mean"])
    assert cell(r, "adam")["fid_domain.mean"] == pytest.approx(12.0)
    assert [n for n in r.notes if "cost metrics left blank" in n and "x16" in n]
