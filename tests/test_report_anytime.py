"""Anytime curves (metrics against G updates, images, seconds, FLOPs) and time to threshold."""

from __future__ import annotations

import json
import math

import pytest
from report_fixtures import write_cell_run

from ganbench.report import build_report
from ganbench.report.anytime import anytime_figures, compare_reach, curve_bands
from ganbench.report.formats import markdown

# two cells x 3 seeds; fid_domain at steps 10, 20, 30; n_disc 1, batch 64 (report_fixtures.BASE)
FID = {
    "fast": [[30, 8, 6], [30, 9, 7], [30, 10, 8]],
    "slow": [[40, 30, 12], [40, 32, 20], [40, 35, 30]],
}
TRAIN_S = [1.0, 2.0, 3.0]
PER_STEP = 1_000


def _runs(root):
    for loss, seeds in FID.items():
        for s, fids in enumerate(seeds):
            d = write_cell_run(
                root,
                f"{loss}_s{s}",
                {"loss": {"name": loss}},
                s,
                {"fid_domain": fids[-1]},
                history={"step": [10, 20, 30], "train_s": [t * (s + 1) for t in TRAIN_S], "fid_domain": fids},
            )
            record = json.loads((d / "run.json").read_text())
            record["flops"] = {"per_step": PER_STEP}
            (d / "run.json").write_text(json.dumps(record))
    return root


def test_curves_average_seeds_at_each_step_on_every_work_axis(tmp_path):
    rep = build_report(_runs(tmp_path))
    fast = [r for r in rep.runs if r.id.startswith("fast")]
    b = curve_bands(fast, "fid_domain").set_index("step")
    assert list(b.index) == [10, 20, 30]
    assert b.loc[20, "mean"] == pytest.approx(9.0) and b.loc[20, "std"] == pytest.approx(1.0)
    assert b.loc[20, "images"] == 20 * 64 and b.loc[20, "flops"] == 20 * PER_STEP
    assert b.loc[20, "train_s"] == pytest.approx(2.0 * (1 + 2 + 3) / 3)  # the seeds' mean training time at that step
    (caption, fig), *_ = list(anytime_figures(rep))
    assert caption.startswith("anytime: fid_domain")
    assert [ax.get_xlabel() for ax in fig.axes] == ["G updates", "images seen by D", "training seconds", "FLOPs"]


def test_time_to_threshold_counts_runs_that_never_reach_it_as_censored(tmp_path):
    rep = build_report(_runs(tmp_path), threshold=15)
    t = rep.time_to_threshold.set_index("label")
    fast, slow = t.loc["loss=fast"], t.loc["loss=slow"]
    assert (fast["reached"], fast["runs"], fast["steps.mean"]) == (3, 3, 20)  # all at step 20
    assert (slow["reached"], slow["steps.mean"]) == (1, 30)  # one seed at step 30, two never: not averaged in
    assert math.isnan(slow["steps.std"])
    assert fast["seconds.mean"] == pytest.approx(2.0 * (1 + 2 + 3) / 3) and fast["flops.mean"] == 20 * PER_STEP
    c = rep.threshold_comparisons.iloc[0]
    assert c["median_steps_b"] == math.inf or c["median_steps_a"] == math.inf  # censored ranked last
    assert "Time to fid_domain ≤ 15" in markdown(rep)
    assert build_report(tmp_path).time_to_threshold is None  # no --threshold and no eval.fid_threshold


def test_the_threshold_comparison_is_a_family_of_its_own():
    """Six seeds reaching at step 10 vs six never reaching: Mann-Whitney's exact p for
    complete separation, 2 / C(12, 6) = 0.00216, Holm-adjusted over the three pairs."""
    out = compare_reach({"a": ("A", [10.0] * 6), "b": ("B", [math.inf] * 6), "c": ("C", [10.0] * 5 + [math.inf])})
    ab = out[(out["a"] == "A") & (out["b"] == "B")].iloc[0]
    assert ab["p"] == pytest.approx(2 / math.comb(12, 6), rel=1e-6)
    assert ab["p_adj"] == pytest.approx(3 * ab["p"]) and ab["sooner"] == "A"
    ac = out[(out["a"] == "A") & (out["b"] == "C")].iloc[0]
    assert ac["sooner"] == ""  # one censored seed of six: not more than seed noise
