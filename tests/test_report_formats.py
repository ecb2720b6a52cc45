"""Every output format, read back; bad input gives one line and exit 2."""

import json
import re

import pandas as pd
import pytest
from click.testing import CliRunner
from report_fixtures import ADAM, hand_made, write_run

from ganbench.cli import main


@pytest.fixture
def results(tmp_path):
    return hand_made(tmp_path / "results")


def report(*args):
    result = CliRunner().invoke(main, ["report", *map(str, args)])
    return result


def test_terminal_table(results):
    r = report(results, "--no-plots", "--per-run")
    assert r.exit_code == 0, r.output
    out = r.output
    assert "adam" in out and "sgd" in out and "12.0 ± 2.0" in out
    assert "Student t" in out
    assert "†" in out  # kid_domain blank for sgd, with its footnote
    assert "adam_s3" in out  # --per-run lists the diverged run too


def test_terminal_leads_with_the_answer(results):
    """The table, then one line per verdict that survives Holm, one for those that do not, and
    the protocol as its hash; the whole protocol and every test only with --verbose."""
    out = report(results, "--no-plots", "--width", "80").output
    lines = out.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith(" adam "))
    won = lines.index("adam beats sgd on fid_domain: −12 [−19.4, −4.59], Holm p = 0.027")
    faster = lines.index("sgd beats adam on train_img_per_s: +100 [77.3, 123], Holm p = 7.7e-04")  # the winner's side
    none = next(i for i, line in enumerate(lines) if line.startswith("no verdict for success rate (adam vs sgd)"))
    protocol = next(i for i, line in enumerate(lines) if line.startswith("protocol 3fa7e6c6 (every run) · 8 runs in 2 cells"))
    assert row < won < faster < none < protocol
    assert "samples=1000" not in out and "adam vs sgd: fid_domain" not in out and "pairwise (" not in out
    verbose = report(results, "--no-plots", "--width", "80", "--verbose").output
    assert "samples=1000" in verbose and "torch=2.15.0" in verbose and "adam vs sgd: fid_domain" in verbose
    for text in (out, verbose):  # wrapped at words, never inside "Holm p=..." or an interval
        lines = [line.rstrip() for line in text.splitlines() if not line.startswith("wrote ")]
        assert not any(line.endswith(("Holm", "Holm p=", "Holm p =", "p =", "≥")) or re.search(r"\[[^\]]*$", line) for line in lines), text


def test_csv_round_trip(results, tmp_path):
    out = tmp_path / "out" / "cells.csv"
    out.parent.mkdir()
    r = report(results, "--output", out)
    assert r.exit_code == 0, r.output
    cells = pd.read_csv(out)
    runs = pd.read_csv(tmp_path / "out" / "cells.runs.csv")
    comps = pd.read_csv(tmp_path / "out" / "cells.comparisons.csv")
    assert len(cells) == 2 and len(runs) == 8 and len(comps) >= 1
    adam = cells[cells["axis:optimizer"] == "adam"].iloc[0]
    assert adam["fid_domain.mean"] == pytest.approx(12.0) and adam["diverged"] == 1 and adam["fid_domain.n"] == 3
    assert pd.isna(cells[cells["axis:optimizer"] == "sgd"].iloc[0]["kid_domain.mean"])  # blank, not 0
    assert set(runs["status"]) == {"complete", "diverged", "failed"}
    assert {"id", "suite", "seed", "cell", "protocol", "fid_domain", "fid_domain.best", "axis:optimizer"} <= set(runs.columns)
    # stdout: the per-cell table, or per run with --per-run
    assert len(pd.read_csv(__import__("io").StringIO(report(results, "--format", "csv").output))) == 2
    assert len(pd.read_csv(__import__("io").StringIO(report(results, "--format", "csv", "--per-run").output))) == 8


def test_json_round_trip(results, tmp_path):
    out = tmp_path / "r.json"
    assert report(results, "-o", out, "--sort", "fid_domain", "--at", "step=20").exit_code == 0
    doc = json.loads(out.read_text())
    assert doc["ci"] == {"level": 0.95, "method": "t", "clipped": ["fid_domain.at_step_20"], "t_instead_of_bootstrap": []}
    assert doc["adjust"] == {"method": "holm", "family": len([c for c in doc["comparisons"] if c["p"] is not None]), "alpha": 0.05}
    assert {"p", "p_adj", "p_min", "runs_a", "runs_b", "note"} <= set(doc["comparisons"][0]) and doc["trends"] == []
    assert doc["at"] == {"unit": "step", "value": 20.0}
    # every run reached step 20 (adam_s3 diverged later, at 25, with fid 997 at step 20): ranked by mean
    assert [c["axis:optimizer"] for c in doc["cells"]] == ["sgd", "adam"]
    assert doc["cells"][1]["fid_domain.at_step_20.mean"] == pytest.approx((8 + 10 + 12 + 997) / 4)
    assert doc["cells"][1]["fid_domain.at_step_20.n"] == 4
    assert doc["cells"][0]["kid_domain.mean"] is None  # JSON null, never NaN or 0
    assert len(doc["runs"]) == 8 and [c["test"] for c in doc["comparisons"]] == ["fisher", "welch", "welch"]


def test_markdown_table_shape(results, tmp_path):
    out = tmp_path / "r.md"
    assert report(results, "-o", out, "--no-traverse").exit_code == 0
    text = out.read_text()
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 2  # header, separator, one row per cell
    assert len({line.count(" | ") for line in table if not line.startswith("|---")}) == 1
    assert set(table[1].strip("|").split("|")) == {"---"}
    images = [line for line in text.splitlines() if line.startswith("![")]
    assert images, "plots are referenced from the Markdown"
    for line in images:
        assert (tmp_path / line.split("](")[1].rstrip(")")).stat().st_size > 1000


def test_folder_output_writes_every_format(results, tmp_path):
    out = tmp_path / "all"
    r = report(results, "-o", out, "--no-traverse")
    assert r.exit_code == 0, r.output
    names = {p.name for p in out.iterdir()}
    assert {"report.md", "report.html", "report.json", "cells.csv", "runs.csv", "report_files"} <= names
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3 and "http://" not in html and "https://" not in html
    assert "fid_domain vs step and wall time" in html and "D accuracy on real and on fake" in html
    assert "<th>Holm p</th>" in html and "Holm over all 3 tests" in html and "(10, 12, 14) n=3/4" in html


@pytest.mark.parametrize(
    "setup, args, message",
    [
        (lambda p: None, [], "no such results folder"),
        (lambda p: p.mkdir(), [], "no runs found"),
        (lambda p: (p / "s" / "r").mkdir(parents=True) or (p / "s" / "r" / "run.json").write_text("{not json"), [], "corrupt run.json"),
        (lambda p: (p / "s" / "r").mkdir(parents=True) or (p / "s" / "r" / "run.json").write_text('{"id": "r"}'), [], "corrupt run.json"),
        (lambda p: hand_made(p) and write_run(p, "x", ADAM, 7, fid=1.0, protocol={"samples": 5}), [], "different protocols"),
        (lambda p: (p / "s" / "r").mkdir(parents=True) or (p / "s" / "r" / "run.json").mkdir(), [], "not a regular file"),
        (hand_made, ["--at", "when=3"], "expected epoch=N or step=N"),
        (hand_made, ["--compare", "nope"], "not an axis"),
        (hand_made, ["--sort", "d_loss"], "unknown direction"),
        (hand_made, ["--metrics", "fid_domain,bogus"], "no metric 'bogus'"),
        (hand_made, ["-o", "x.csv", "--format", "md"], "the suffix says csv"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, setup, args, message):
    root = tmp_path / "results"
    setup(root)
    r = report(root, "--no-plots", *args)
    assert r.exit_code == 2, r.output
    assert isinstance(r.exception, SystemExit)  # not a crash
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "history.csv").write_text("loss,acc\n1,2\n"), "no `step` column"),
        (lambda d: (d / "history.csv").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe"), "not a text file"),
        (lambda d: (d / "history.csv").write_text(""), "no `step` column"),
        (lambda d: (d / "run.json").write_text('{"status": "complete"}'), "`id` missing"),
        (
            lambda d: (d / "run.json").write_text((d / "run.json").read_text().replace('"fid_domain": 10.0', '"fid_domain": "10"')),
            "`metrics` must map",
        ),
        (
            lambda d: (d / "run.json").write_text((d / "run.json").read_text().replace('"complete"', '"running"')),
            "unknown status 'running'",
        ),
    ],
)
def test_a_damaged_run_is_listed_as_damaged_not_a_dead_end(results, damage, message):
    damage(results / "hand" / "adam_s0")
    r = report(results, "--no-plots", "--format", "md")
    assert r.exit_code == 0, r.output
    assert "damaged run left out" in r.output and "adam_s0" in r.output and message in r.output
    assert "adam_s1" in r.output or "adam" in r.output  # the other runs are reported


def test_cli_direction_split_protocols_and_bootstrap(results):
    r = report(results, "--no-plots", "--direction", "d_loss=lower", "--sort", "d_loss", "--ci", "bootstrap", "--test", "mwu")
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())  # rich wraps lines at the terminal width
    assert "ranked first by the share" in text and "(lower is better)" in text
    assert "bootstrap needs 10+ seeds" in text and "cannot go below p = 0.1" in text and "bootstrap" in r.output
    verbose = report(results, "--no-plots", "--direction", "d_loss=lower", "--test", "mwu", "--verbose")
    assert "Mann-Whitney" in verbose.output  # the pairwise list names its test
    write_run(results, "adam_s9", ADAM, 9, fid=11.0, protocol={"samples": 50000})
    r = report(results, "--no-plots", "--split-protocols", "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert len(doc["protocols"]) == 2 and "protocol" in doc["axes"] and len(doc["cells"]) == 3
    assert report(results, "--no-plots", "--direction", "d_loss=up").exit_code == 2


def test_a_root_of_several_suites_gets_a_report_per_suite(results):
    from report_fixtures import write_run

    for s in range(2):  # a second suite, measured under its own protocol
        write_run(results, f"ring_s{s}", {"name": "adam", "lr": 1e-3}, s, fid=3.0 + s, suite="ring", protocol={"samples": 2500, "modes": 8})
    r = report(results, "--no-plots")
    assert r.exit_code == 0, r.output
    assert r.output.count("ganbench report:") == 2  # one table per suite
    for suite in ("hand", "ring"):
        assert (results / "report" / suite / "report.md").is_file()
        assert (results / "report" / suite / "cells.csv").is_file()


def test_markdown_and_html_put_the_question_first_and_the_answer_under_the_table(results):
    for path in results.glob("hand/*/run.json"):  # the suite's description, as ganbench run records it
        record = json.loads(path.read_text())
        path.write_text(json.dumps({**record, "description": "Does Adam train a ring of 8 Gaussians better than SGD?"}))
    verdict = "adam beats sgd on fid_domain: −12 [−19.4, −4.59], Holm p = 0.027"
    md = report(results, "--no-plots", "--format", "md").output
    order = [md.index(x) for x in ("**Does Adam train", "| optimizer", verdict, "protocol 3fa7e6c6 (every run)", "## What was trained")]
    assert order == sorted(order), md
    page = report(results, "--no-plots", "--format", "html").output
    order = [
        page.index(x)
        for x in (
            '<p class="question">Does Adam train',
            '<table id="cells">',
            '<ul class="answer">',
            verdict,
            "What was trained",
            "Pairwise",
        )
    ]
    assert order == sorted(order)
    doc = json.loads(report(results, "--no-plots", "--format", "json").output)
    assert doc["answer"][0] == verdict and doc["search"] == {"curves": [], "scores": []}
