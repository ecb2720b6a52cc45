"""Per-cell statistics, --at, ranking and pairwise tests on hand-made runs with known numbers."""

import math

import numpy as np
import pandas as pd
import pytest
from report_fixtures import ADAM, ADAM_FID, ADAM_IPS, PROTOCOL, SGD, SGD_FID, hand_made, write_cell_run, write_run
from scipy import stats

from ganbench.report import ReportError, build_report
from ganbench.report.aggregate import ci, direction
from ganbench.report.compare import adjust, compare, holm, permutation, trends
from ganbench.report.formats import display_table, fingerprint_lines, footnotes


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


def test_bootstrap_needs_enough_seeds_and_is_inside_the_data_range(tmp_path, results):
    # 3 seeds: a percentile bootstrap would cover ~75%, so the cell gets the t interval, and says so
    r = build_report(results, ci="bootstrap")
    sgd = cell(r, "sgd")
    lo, hi = stats.t.interval(0.95, 2, loc=np.mean(SGD_FID), scale=stats.sem(SGD_FID))
    assert (sgd["fid_domain.ci_low"], sgd["fid_domain.ci_high"]) == pytest.approx((lo, hi))
    assert "fid_domain" in r.ci_fallback
    assert any("bootstrap needs 10+ seeds" in n and "fid_domain" in n for n in footnotes(r))
    # 12 seeds: a real bootstrap, inside the data range, seeded (the same every time)
    values = [20.0 + (7 * s) % 11 for s in range(12)]
    for s, v in enumerate(values):
        write_cell_run(tmp_path / "many", f"r{s}", {"lr_ratio": 1.0}, s, {"fid_domain": v})
    r = build_report(tmp_path / "many", ci="bootstrap")
    c = r.cells.iloc[0]
    assert min(values) <= c["fid_domain.ci_low"] < c["fid_domain.mean"] < c["fid_domain.ci_high"] <= max(values)
    used = r.frame.sort_values("path")["fid_domain"].to_numpy()  # the order the runs were read in
    assert (c["fid_domain.ci_low"], c["fid_domain.ci_high"]) == ci(used, "bootstrap")
    again = build_report(tmp_path / "many", ci="bootstrap").cells.iloc[0]  # seeded: the same every time
    assert (again["fid_domain.ci_low"], again["fid_domain.ci_high"]) == (c["fid_domain.ci_low"], c["fid_domain.ci_high"])
    assert not r.ci_fallback
    assert math.isnan(ci(np.array([1.0]), "t")[0])  # one seed: no interval


def test_final_and_best_from_history(results):
    r = build_report(results)
    adam = cell(r, "adam")
    assert adam["fid_domain.best.mean"] == pytest.approx(10.0)  # each seed's best is 2 below its final
    assert adam["fid_domain.mean"] == pytest.approx(12.0)
    assert "d_acc_real.best.mean" not in r.cells  # no known direction: no "best"


def test_best_values_are_files_only_never_shown_or_tested(results):
    """The best of ~5 evaluations on the split they are reported on is optimistic."""
    r = build_report(results)
    header, rows = display_table(r)
    assert not [h for h in header if "best" in h]
    assert not r.comparisons["column"].str.contains("best").any()
    assert any("best-of-run values" in n and "not shown" in n for n in footnotes(r))
    r = build_report(results, sort="fid_domain.best")  # asked for explicitly: ranked, and called optimistic
    assert any("optimistic" in n for n in footnotes(r))


def test_at_step_and_epoch(results):
    # adam_s3 diverged at step 25: at step 20 it was healthy and counts (fid 997), whatever came later
    r = build_report(results, at="step=20")
    assert r.shown["fid_domain"] == "fid_domain.at_step_20"
    at20 = [f - 2 for f in ADAM_FID] + [997.0]
    assert cell(r, "adam")["fid_domain.at_step_20.mean"] == pytest.approx(np.mean(at20))
    assert cell(r, "adam")["fid_domain.at_step_20.n"] == 4
    r = build_report(results, at="epoch=2")
    assert cell(r, "sgd")["fid_domain.at_epoch_2.mean"] == pytest.approx(np.mean(SGD_FID) - 2)
    assert cell(r, "adam")["fid_domain.at_epoch_2.n"] == 4  # epochs: 25 steps = 2.5 epochs > 2
    r = build_report(results, at="step=25")  # between logs: the latest value at or before; adam_s3 diverged at 25
    assert cell(r, "adam")["fid_domain.at_step_25.mean"] == pytest.approx(10.0)
    assert cell(r, "adam")["fid_domain.at_step_25.n"] == 3
    r = build_report(results, at="epoch=2.5")  # step 25 is epoch 2.5: where adam_s3 diverged, so not reached
    assert cell(r, "adam")["fid_domain.at_epoch_2.5.n"] == 3
    r = build_report(results, at="step=100")  # never reached: blank, not the last value
    assert math.isnan(cell(r, "adam")["fid_domain.at_step_100.mean"])
    with pytest.raises(ReportError, match="epoch=N or step=N"):
        build_report(results, at="iteration=3")


def test_ranking_uses_the_metric_direction(tmp_path):
    root = tmp_path / "r"
    for s, (f, i) in enumerate(zip(ADAM_FID, ADAM_IPS)):
        write_run(root, f"adam_s{s}", ADAM, s, fid=f, ips=i)
        write_run(root, f"sgd_s{s}", SGD, s, fid=f + 10, ips=i + 100)
    r = build_report(root, sort="fid_domain")
    assert list(r.cells["axis:optimizer"]) == ["adam", "sgd"] and list(r.cells["rank"]) == [1, 2]
    r = build_report(root, sort="train_img_per_s")  # higher is better
    assert list(r.cells["axis:optimizer"]) == ["sgd", "adam"]
    results = hand_made(tmp_path / "h")
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


def test_a_cell_whose_seeds_diverged_does_not_rank_first(tmp_path):
    """1 complete and 2 diverged seeds with a great FID vs 3 complete seeds with a worse one."""
    root = tmp_path / "r"
    write_run(root, "adam_s0", ADAM, 0, fid=5.0)
    for s in (1, 2):
        write_run(root, f"adam_s{s}", ADAM, s, status="diverged", fid=999.0)
    for s in range(3):
        write_run(root, f"sgd_s{s}", SGD, s, fid=20.0 + s)
    r = build_report(root, sort="fid_domain")
    assert list(r.cells["axis:optimizer"]) == ["sgd", "adam"]
    adam = cell(r, "adam")
    assert (adam["complete"], adam["outcomes"], adam["fid_domain.n"]) == (1, 3, 1)
    assert adam["success_rate"] == pytest.approx(1 / 3)
    header, rows = display_table(r)
    row = dict(zip(header, rows[1]))
    assert row["complete"] == "1/3" and row["fid_domain"].endswith("n=1/3")  # complete / total next to the mean


def test_success_rates_are_compared_with_fishers_exact_test(tmp_path):
    root = tmp_path / "r"
    for s in range(6):
        write_run(root, f"adam_s{s}", ADAM, s, fid=10.0 + s)
        write_run(root, f"sgd_s{s}", SGD, s, fid=12.0 + s, status="diverged" if s else "complete")
    r = build_report(root)
    row = r.comparisons[r.comparisons["metric"] == "success_rate"].iloc[0]
    assert row["test"] == "fisher" and (row["mean_a"], row["mean_b"]) == (1.0, pytest.approx(1 / 6))
    assert row["p"] == pytest.approx(stats.fisher_exact([[6, 0], [1, 5]])[1])
    assert row["better"] == "adam"  # p = 0.015, the only test with a p (sgd has one complete seed)


def test_pairwise_welch_and_mann_whitney_match_scipy(results):
    r = build_report(results)  # optimizer has two values: compared automatically
    row = r.comparisons[(r.comparisons["metric"] == "fid_domain")].iloc[0]
    a, b = np.array(ADAM_FID), np.array(SGD_FID)
    res = stats.ttest_ind(a, b, equal_var=False)
    assert (row["a"], row["b"], row["n_a"], row["n_b"]) == ("adam", "sgd", 3, 3)
    assert row["diff"] == pytest.approx(a.mean() - b.mean())
    assert row["p"] == pytest.approx(res.pvalue)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(tuple(res.confidence_interval(0.95)))
    assert row["better"] == "adam"  # lower fid, Holm-adjusted p < 0.05
    assert row["p_adj"] == pytest.approx(min(1.0, row["p"] * 2))  # the smallest of 3 tests (fisher p = 1, img/s smaller)
    r = build_report(results, test="mwu", compare_axes=["optimizer"])
    row = r.comparisons[(r.comparisons["metric"] == "fid_domain")].iloc[0]
    assert row["p"] == pytest.approx(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    assert row["p_min"] == pytest.approx(0.1) and row["better"] == ""  # 3 vs 3: Mann-Whitney cannot go below 0.1
    assert "cannot go below p = 0.1" in row["note"]
    with pytest.raises(ReportError, match="not an axis"):
        build_report(results, compare_axes=["loss"])


def test_comparisons_at_a_point_use_those_values(results):
    r = build_report(results, at="step=20")
    row = r.comparisons[(r.comparisons["metric"] == "fid_domain")].iloc[0]
    assert row["column"] == "fid_domain.at_step_20"
    adam = [f - 2 for f in ADAM_FID] + [997.0]  # the run that diverged at 25 had reached step 20
    assert (row["n_a"], row["runs_a"], row["n_b"], row["runs_b"]) == (4, 4, 3, 3)
    assert row["diff"] == pytest.approx(np.mean(adam) - (np.mean(SGD_FID) - 2))


def test_missing_metric_is_blank_with_a_note(results):
    r = build_report(results)
    assert "kid_domain" in r.metrics  # measured for adam only
    assert math.isnan(cell(r, "sgd")["kid_domain.mean"])
    assert r.missing() == ["kid_domain"]
    assert any("offline" in n for n in r.notes)


def test_mixed_protocols_refused_or_split(tmp_path):
    root = hand_made(tmp_path / "r")
    write_run(
        root,
        "adam_s9",
        ADAM,
        9,
        fid=11.0,
        protocol={"samples": 50000, "real_samples": 1000, "real_split": "test", "features": "domain classifier"},
    )
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


def test_no_spread_gets_an_exact_permutation_test(tmp_path):
    root = tmp_path / "r"
    for s in range(3):
        write_run(root, f"a{s}", ADAM, s, fid=10.0)
        write_run(root, f"b{s}", {"name": "sgd", "lr": 0.1}, s, fid=1.0)
    row = build_report(root).comparisons.iloc[0]
    assert row["diff"] == 9.0 and (row["ci_low"], row["ci_high"]) == (9.0, 9.0)
    # 10,10,10 vs 1,1,1: 2 of the 20 splits are as extreme (a t-test is undefined, a p of 0 would overclaim)
    assert row["test"] == "perm" and row["p"] == pytest.approx(0.1) and row["better"] == ""
    assert "no spread" in row["note"] and "cannot go below p = 0.1" in row["note"]
    p, p_min = permutation(np.array([1.0, 2.0, 3.0, 4.0]), np.array([5.0, 6.0, 7.0, 8.0]))
    assert p == pytest.approx(2 / 70) and p_min == pytest.approx(2 / 70)
    xa, xb = np.array([1.0, 5.0, 2.0, 9.0]), np.array([3.0, 4.0, 8.0, 0.5, 7.0])
    pooled, observed = np.concatenate([xa, xb]), abs(xa.mean() - xb.mean())
    import itertools

    splits = [abs(pooled[list(c)].mean() - np.delete(pooled, list(c)).mean()) for c in itertools.combinations(range(9), 4)]
    assert permutation(xa, xb)[0] == pytest.approx(np.mean(np.array(splits) >= observed - 1e-12))  # every split, counted


def test_two_seeds_each_give_no_verdict(tmp_path):
    """The quickstart's smoke suite: 2 vs 2 seeds, clearly different values, no "better"."""
    root = tmp_path / "r"
    for s, (a, b) in enumerate([(10.0, 20.0), (10.2, 20.3)]):
        write_run(root, f"a{s}", ADAM, s, fid=a)
        write_run(root, f"b{s}", SGD, s, fid=b)
    row = build_report(root).comparisons.iloc[0]
    assert row["p"] < 0.01  # Welch's t with 1-2 degrees of freedom is confident ...
    assert row["better"] == "" and "needs 3+ seeds per side" in row["note"]  # ... and gives no verdict
    for test in ("perm", "mwu"):
        row = build_report(root, test=test).comparisons.iloc[0]
        assert row["better"] == "" and row["p"] == pytest.approx(1 / 3) and "cannot go below" in row["note"]


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

    # so is a run whose memory layout differed (a speed setting, not part of the recipe)
    for s in range(4):
        _set_env(results / "hand" / f"adam_s{s}", executor="local", runs_per_device=1, threads=1)
    r = build_report(results, metrics=["fid_domain", "train_img_per_s"])
    assert cell(r, "adam")["train_img_per_s.mean"] == pytest.approx(np.mean(ADAM_IPS))  # one context again
    _set_env(results / "hand" / "adam_s1", speed={"channels_last": True, "tf32": "off", "optimizer_g": "fused"})
    r = build_report(results, metrics=["fid_domain", "train_img_per_s"])
    assert math.isnan(cell(r, "adam")["train_img_per_s.mean"])
    assert [n for n in r.notes if "cost metrics left blank" in n and "channels_last" in n]


# ---------------------------------------------------------------- multiple comparisons


def _null_frame(rng, levels=("0.25", "0.5", "1", "2", "4"), seeds=3):
    """One simulated suite: 5 cells x 3 seeds, every value from one distribution."""
    rows = []
    for level in levels:
        for s in range(seeds):
            rows.append(
                {
                    "status": "complete",
                    "protocol": "p",
                    "cost_context": "c",
                    "axis:lr_ratio": level,
                    "fid_domain": rng.normal(50, 10),
                    "precision_domain": rng.normal(0.5, 0.05),
                    "modes_covered": float(rng.integers(6, 11)),
                    "modes_total": 10.0,
                }
            )
    return pd.DataFrame(rows)


def test_null_suites_name_a_winner_in_at_most_about_5_percent_of_reports():
    """Every pair x every metric at 0.05 unadjusted names some "better" in most null reports;
    Holm over the report's whole family (pairwise and trend tests) keeps that near 5%."""
    rng = np.random.default_rng(12)
    metrics = ["fid_domain", "precision_domain", "modes_covered"]
    shown = {m: m for m in metrics}
    axes = ["lr_ratio"]
    reports, any_raw, any_adjusted = 200, 0, 0
    for _ in range(reports):
        frame = _null_frame(rng)
        pairs = compare(frame, axes, "lr_ratio", metrics, shown)
        trend = trends(frame, axes, "lr_ratio", metrics, shown)
        any_raw += bool((pairs["p"] < 0.05).any() or (trend["p"] < 0.05).any())
        pairs, trend, family = adjust(pairs, trend)
        assert family == len(pairs) + len(trend) - pairs["p"].isna().sum() - trend["p"].isna().sum()
        any_adjusted += bool((pairs["better"] != "").any() or (trend["better"] != "").any())
    assert any_raw / reports > 0.4  # what a report claimed before: a winner in about half of null suites
    assert any_adjusted / reports <= 0.07  # family-wise: about 5% at most (binomial noise on 200 reports)


def test_holm_matches_its_definition():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005, 3*0.01, 2*0.03, 1*0.04, running max, capped at 1
    assert list(holm(p)) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert list(holm(np.array([0.5, 0.9]))) == pytest.approx([1.0, 1.0])  # monotone: never below a smaller p's


def test_raw_and_adjusted_p_are_shown_and_verdicts_use_the_adjusted(tmp_path):
    root = tmp_path / "r"
    # fid: p = 0.029 alone, not once 4 metrics are tested together
    for s, (a, b) in enumerate([(10.0, 13.0), (11.0, 14.0), (12.0, 15.5)]):
        write_run(
            root,
            f"a{s}",
            ADAM,
            s,
            fid=a,
            extra={"precision_domain": 0.5, "recall_domain": 0.4 + s / 100, "modes_covered": 9.0 + s % 2, "modes_total": 10.0},
        )
        write_run(
            root,
            f"b{s}",
            SGD,
            s,
            fid=b,
            extra={
                "precision_domain": 0.51 - s / 100,
                "recall_domain": 0.41 + s / 90,
                "modes_covered": 9.0 + (s + 1) % 2,
                "modes_total": 10.0,
            },
        )
    r = build_report(root, metrics=["fid_domain", "precision_domain", "recall_domain", "modes_covered"])
    row = r.comparisons[r.comparisons["metric"] == "fid_domain"].iloc[0]
    assert row["p"] < 0.05 <= row["p_adj"] and row["better"] == ""
    assert "before the adjustment only" in row["note"]
    text = "\n".join(line for line in __import__("ganbench.report.formats", fromlist=["x"]).comparison_lines(r))
    assert f"p={row['p']:.3g}, Holm p={row['p_adj']:.3g}" in text and "Holm over all" in text


# ---------------------------------------------------------------- bounded metrics, per-metric n, seeds


def test_bounded_metrics_get_intervals_inside_their_range_and_seed_values(tmp_path):
    root = tmp_path / "r"
    for s, (modes, prec) in enumerate([(1.0, 0.05), (9.0, 0.6), (9.0, 0.62)]):
        write_run(
            root, f"a{s}", ADAM, s, fid=100.0 * (s + 1), extra={"modes_covered": modes, "modes_total": 10.0, "precision_domain": prec}
        )
    r = build_report(root, metrics=["modes_covered", "precision_domain", "fid_domain"])
    c = r.cells.iloc[0]
    raw = stats.t.interval(0.95, 2, loc=19 / 3, scale=stats.sem([1, 9, 9]))
    assert raw[0] < 0 and raw[1] > 10  # what the t interval says: [-5.1, 17.8] of 10 modes
    assert (c["modes_covered.ci_low"], c["modes_covered.ci_high"]) == (0.0, 10.0)
    assert (c["precision_domain.ci_low"], c["precision_domain.ci_high"]) == (0.0, 1.0)
    assert c["fid_domain.ci_low"] == 0.0  # FID is never negative
    assert set(r.clipped) == {"modes_covered", "precision_domain", "fid_domain"}
    assert any("clipped to the metric's range" in n and "modes_covered [0, modes_total]" in n for n in footnotes(r))
    header, rows = display_table(r)
    text = dict(zip(header, rows[0]))["modes_covered"]
    assert "[0, 10]" in text and "(1, 9, 9)" in text and text.endswith("n=3/3")  # fewer than 5 seeds: each one shown


def test_a_metric_missing_for_some_seeds_shows_its_own_n(tmp_path):
    root = tmp_path / "r"
    for s in range(3):
        extra = {"kid_domain": 0.1 * s} if s else {}
        write_run(root, f"a{s}", ADAM, s, fid=10.0 + s, extra=extra)
    r = build_report(root)
    c = r.cells.iloc[0]
    assert (c["fid_domain.n"], c["kid_domain.n"]) == (3, 2)
    row = dict(zip(*[x if i == 0 else x[0] for i, x in enumerate(display_table(r))]))
    assert row["fid_domain"].endswith("n=3/3") and row["kid_domain"].endswith("n=2/3")


# ---------------------------------------------------------------- trends along numeric axes


def _ratio_suite(root, fids):
    for level, values in fids.items():
        for s, f in enumerate(values):
            write_cell_run(
                root, f"r{level}_s{s}", {"lr_ratio": level}, s, {"fid_domain": f}, history={"step": [10], "epoch": [1.0], "fid_domain": [f]}
            )
    return root


def test_numeric_axes_with_three_values_get_a_spearman_trend(tmp_path):
    fids = {0.25: [43, 44, 45], 0.5: [45, 53, 66], 1.0: [70, 96, 109], 2.0: [102, 135, 552], 4.0: [110, 125, 553]}
    root = _ratio_suite(tmp_path / "r", fids)
    r = build_report(root)
    assert r.comparisons.empty  # five values: pairs only when asked (--compare lr_ratio)
    (row,) = r.trends.itertuples()
    x = [k for k, v in fids.items() for _ in v]
    y = [f for v in fids.values() for f in v]
    res = stats.spearmanr(x, y)
    assert row.rho == pytest.approx(res.statistic) and row.p == pytest.approx(res.pvalue)
    assert (row.n, row.levels, row.better) == (15, 5, "lower lr_ratio")  # FID rises with the ratio: lower is better
    r = build_report(root, compare_axes=["lr_ratio"])
    assert len(r.comparisons) == 10 and r.family == 11  # 10 pairs and the trend, adjusted together
    pair = r.comparisons[(r.comparisons["a"] == "0.25") & (r.comparisons["b"] == "0.5")].iloc[0]
    assert pair["better"] == ""
    assert r.trends.iloc[0]["better"] == "lower lr_ratio"
    assert any(
        line.startswith("lr_ratio trend: fid_domain ρ=+")
        for line in [s.strip() for s in __import__("ganbench.report.formats", fromlist=["x"]).trend_lines(r)]
    )


def test_small_trends_use_an_exact_permutation_p_and_names_are_not_trends(tmp_path):
    root = _ratio_suite(tmp_path / "r", {1.0: [10.0, 11.0], 2.0: [12.0, 13.0], 3.0: [14.0, 15.0]})
    (row,) = build_report(root).trends.itertuples()
    x, y = np.repeat([1.0, 2.0, 3.0], 2), np.arange(10.0, 16.0)
    rho = stats.spearmanr(x, y).statistic
    import itertools

    pairings = [stats.spearmanr(x, y[list(order)]).statistic for order in itertools.permutations(range(6))]  # all 720
    assert row.rho == pytest.approx(rho) and row.test == "spearman (exact permutation)"
    assert row.p == pytest.approx(np.mean(np.abs(pairings) >= abs(rho) - 1e-12)) and row.n == 6
    assert build_report(hand_made(tmp_path / "h")).trends.empty  # optimizer names: no order


# ---------------------------------------------------------------- feature spaces


def test_the_header_shows_a_short_classifier_hash_and_pools_only_equal_feature_spaces(tmp_path):
    root = tmp_path / "r"
    space = {**PROTOCOL, "classifier_accuracy": 0.96, "classifier_hash": "0123456789abcdef"}
    other = {**space, "classifier_hash": "fedcba9876543210"}
    for s in range(3):
        write_run(root, f"adam_s{s}", ADAM, s, fid=10.0 + s, protocol=space)
        write_run(root, f"sgd_s{s}", SGD, s, fid=20.0 + s, protocol=other)
    r = build_report(root)
    lines = "\n".join(fingerprint_lines(r))
    assert "classifier_hash=01234567," in lines and "classifier_hash=fedcba98," in lines and "0123456789" not in lines
    assert lines.index("classifier_hash") < lines.index("samples=")  # first, where a reader looks
    assert len(r.protocols) == 2 and r.comparisons.empty  # two feature spaces: kept apart, never tested
    write_run(root, "adam_s3", ADAM, 3, fid=11.0, protocol=other)  # one cell, two feature spaces
    with pytest.raises(ReportError, match="different protocols.*classifier_hash"):
        build_report(root)
    old = {**PROTOCOL, "classifier_accuracy": 0.96}  # before the hash was recorded
    write_run(tmp_path / "o", "a0", ADAM, 0, fid=1.0, protocol=old)
    assert "classifier_hash=not recorded" in "\n".join(fingerprint_lines(build_report(tmp_path / "o")))


def test_runs_from_before_g_mode_pool_with_eval_mode_runs(tmp_path):
    root = tmp_path / "r"
    write_run(root, "adam_s0", ADAM, 0, fid=10.0, protocol=PROTOCOL)  # recorded no g_mode: sampled in eval mode
    write_run(root, "adam_s1", ADAM, 1, fid=11.0, protocol={**PROTOCOL, "g_mode": "eval"})
    r = build_report(root)
    assert len(r.protocols) == 1 and next(iter(r.protocols.values()))["g_mode"] == "eval"
    write_run(root, "adam_s2", ADAM, 2, fid=12.0, protocol={**PROTOCOL, "g_mode": "train"})
    with pytest.raises(ReportError, match="differ in g_mode"):
        build_report(root)


def test_ranges_of_the_built_in_metric_plugins():
    from ganbench.report.aggregate import metric_range

    assert metric_range("tab_detection") == metric_range("cas") == metric_range("aug_acc_argmax") == (0.0, 1.0)
    assert metric_range("tab_ml_efficacy") == (-math.inf, 1.0)  # R^2 can be negative
    assert metric_range("aug_gain_uniform") == (-1.0, 1.0)
    assert metric_range("kid_domain") == metric_range("d_loss") == (-math.inf, math.inf)  # KID's estimate can be < 0
    assert metric_range("is_domain") == (1.0, math.inf) and metric_range("fid_domain.at_epoch_10") == (0.0, math.inf)


def test_directions_of_metric_plugin_keys_come_from_the_plugins(registry):
    from ganbench.report.aggregate import direction

    declared = registry.metric_directions()  # what build_report passes down
    assert direction("cas", declared) == "higher" and direction("aug_gain_argmax", declared) == "higher"
    assert direction("cas_real", declared) is None  # declared "none": no verdict either way
    assert direction("tab_pair_trends.mean", declared) == "higher"
    assert direction("cas") is None and direction("fid_domain") == "lower"  # without them: ganbench's own keys only


def test_a_numeric_axis_is_plotted_against_only_where_it_moves_on_its_own(tmp_path):
    import matplotlib.pyplot as plt

    from ganbench.report.plots import axis_plots

    def suite(root, cells):
        for i, cell in enumerate(cells):
            for s in range(2):
                write_cell_run(root, f"c{i}_s{s}", cell, s, {"fid_domain": 10.0 + i + s})
        return build_report(root)

    # n_disc 5 only ever with lsgan (as WGAN-GP's 5 critic steps): no line along n_disc to draw
    tied = suite(tmp_path / "tied", [{"loss": {"name": "vanilla"}, "n_disc": 1}, {"loss": {"name": "lsgan"}, "n_disc": 5}])
    assert [caption for caption, _ in axis_plots(tied)] == []
    crossed = [{"loss": {"name": loss}, "n_disc": n} for loss in ("vanilla", "lsgan") for n in (1, 5)]
    ((caption, fig),) = axis_plots(suite(tmp_path / "crossed", crossed))
    assert caption == "final metrics vs n_disc" and len(fig.axes[0].get_lines()) == 2  # one line per loss
    plt.close(fig)
