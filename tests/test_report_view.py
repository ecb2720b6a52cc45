"""How the report is shown: a compact terminal view that fits its width, and the files' extras."""

import pytest
from click.testing import CliRunner
from report_fixtures import hand_made, write_cell_run
from rich.console import Console

from ganbench.cli import main
from ganbench.report import build_report
from ganbench.report.formats import mean_std, short_name, terminal


@pytest.fixture
def results(tmp_path):
    return hand_made(tmp_path / "results")


def report(*args):
    return CliRunner().invoke(main, ["report", *map(str, args)])


def wide(root):
    """Six metrics over three axes: more columns than 80 characters hold."""
    metrics = ["fid_domain", "kid_domain", "precision_domain", "recall_domain", "d_loss", "g_loss"]
    for lr in (1e-4, 2e-4):
        for loss in ("vanilla", "hinge"):
            for s in range(3):
                values = {m: (i + 1) * 1.2345 + s + lr * 1e3 for i, m in enumerate(metrics)}
                values["train_img_per_s"] = 12345.678 + s
                cell = {"optimizer": {"name": "adam", "lr": lr}, "loss": {"name": loss}}
                write_cell_run(root, f"{loss}_{lr}_s{s}", cell, s, values)
    return root, metrics + ["train_img_per_s"]


def test_mean_std_reads_at_three_significant_digits():
    assert mean_std(1.0, 3.7e-12) == "1.00 ± 0.00"
    assert mean_std(12.0, 2.0) == "12.0 ± 2.0"
    assert mean_std(12345.678, 1.0) == "12346 ± 1"
    assert mean_std(0.0123, 0.001) == "0.0123 ± 0.0010"
    assert mean_std(5.0, float("nan")) == "5.00" and mean_std(float("nan"), 1.0) == ""
    assert short_name("fid_domain") == "fidD" and short_name("d_loss") == "d_loss" and short_name("train_img_per_s") == "img/s"


@pytest.mark.parametrize("width", [80, 120])
def test_terminal_fits_its_width_with_every_metric_on_one_line_per_cell(tmp_path, width):
    root, metrics = wide(tmp_path / "results")
    rep = build_report(root, metrics=metrics)
    console = Console(width=width, record=True)
    terminal(rep, console)
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    for m in metrics:
        assert short_name(m) in text
    assert "fidD = fid_domain" in text  # the legend
    # each cell is one line in each folded table: a row per cell, carrying mean ± std
    rows = [line for line in lines if line.startswith(" adam lr=") and " vs " not in line]
    tables = len([line for line in lines if line.split()[:1] == ["optimizer"]])
    assert len(rows) == 4 * tables and all("±" in row for row in rows)
    assert tables >= (2 if width == 80 else 1)  # folded, not cut


def test_cli_width_is_honoured_when_piped(results, tmp_path):
    r = report(results, "--no-plots", "--width", "80")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert max(len(line) for line in lines if not line.startswith("wrote ")) <= 80
    assert "fidD" in r.output and "kidD" in r.output and "img/s" in r.output
    assert "12.0 ± 2.0" in r.output and "[7.03" not in r.output  # the CI only with --verbose
    adam = [line for line in lines if line.startswith(" adam ") and " vs " not in line]
    assert len(adam) == 1 and "3/4" in adam[0] and "12.0 ± 2.0" in adam[0]
    r = report(results, "--no-plots", "--width", "80", "--verbose", "--per-run")
    assert r.exit_code == 0 and "[7.03, 17]" in r.output and "10, 12, 14" in r.output and "3/4" in r.output
    assert max(len(line) for line in r.output.splitlines() if not line.startswith("wrote ")) <= 80
    assert [line.split()[:2] for line in r.output.splitlines() if line.startswith(" adam_s3")] == [["adam_s3", "diverged"]]
    root, _ = wide(tmp_path / "wide")
    r = report(root, "--no-plots")  # piped without --width: 100 columns
    assert r.exit_code == 0 and max(len(line) for line in r.output.splitlines() if not line.startswith("wrote ")) <= 100


def test_inception_note_once_and_short(results):
    r = report(results, "--no-plots", "--width", "80")
    assert " ".join(r.output.split()).count("Inception metrics absent") == 1


def test_markdown_and_html_say_what_was_trained(results, tmp_path):
    r = report(results, "--no-plots", "--format", "md")
    assert r.exit_code == 0, r.output
    md = r.output
    assert "## What was trained" in md
    assert "dataset ring8" in md and "steps 30" in md and "device test cpu" in md and "ganbench 0.1.0" in md
    assert "the matrix varies: optimizer (adam, sgd); seeds 0, 1, 2, 3" in md
    assert "base config (shared by all runs):" in md and "architecture.name=mlp" in md and "batch_size=64" in md
    base = md.split("base config (shared by all runs):")[1].splitlines()[0]
    assert "optimizer" not in base and "seed" not in base  # varied, not shared
    r = report(results, "--no-plots", "--format", "html")
    assert r.exit_code == 0 and "What was trained" in r.output and "dataset ring8" in r.output


def test_latex_cell_table(results, tmp_path):
    pytest.importorskip("jinja2")
    r = report(results, "--no-plots", "--format", "latex")
    assert r.exit_code == 0, r.output
    tex = r.output
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert "adam" in tex and "sgd" in tex and "optimizer" in tex
    assert "12.0 $\\pm$ 2.0" in tex and "fid\\_domain" in tex and "\\textdagger{}" in tex
    out = tmp_path / "cells.tex"
    assert report(results, "--no-plots", "-o", out).exit_code == 0 and "\\toprule" in out.read_text()


def test_several_suites_get_an_index_page(results):
    for s in range(2):  # a second suite, measured under its own protocol
        write_cell_run(results, f"ring_s{s}", {"loss": {"name": "hinge" if s else "vanilla"}}, s, {"fid_domain": 3.0 + s}, suite="ring")
    r = report(results, "--no-plots", "--width", "80")
    assert r.exit_code == 0, r.output
    index = results / "report" / "index.html"
    assert index.is_file() and f"wrote {index}" in r.output
    page = index.read_text()
    assert 'href="hand/report.html"' in page and 'href="ring/report.html"' in page
    for suite in ("hand", "ring"):
        assert (results / "report" / suite / "report.html").is_file()
    row = page.split('href="hand/report.html"')[1].split("</tr>")[0]
    assert "<td>8</td><td>2</td><td>6</td><td>1</td><td>1</td>" in row  # runs, cells, complete, diverged, failed


def test_metrics_the_suite_asks_for_come_first(results):
    import json

    for run in (results / "hand").glob("*/run.json"):
        record = json.loads(run.read_text())
        record["report"] = {"metrics": ["d_loss", "no_such_metric"], "compare": ["optimizer"]}
        run.write_text(json.dumps(record))
    rep = build_report(results)
    assert rep.metrics[0] == "d_loss" and "fid_domain" in rep.metrics and "no_such_metric" not in rep.metrics
    assert set(rep.comparisons["axis"]) == {"optimizer"}
    assert build_report(results, metrics=["fid_domain"]).metrics == ["fid_domain"]  # --metrics wins


def test_a_suites_report_block_and_description_reach_the_report(tmp_path, write_suite):
    from rich.console import Console

    from ganbench.plugins import load_registry
    from ganbench.report import build_report
    from ganbench.runner import run_suite
    from ganbench.suite import load_suite

    registry = load_registry()
    path = write_suite(description="Does it train?", report={"metrics": ["g_loss"], "compare": []}, seeds=2)
    run_suite(load_suite(path, registry), registry, tmp_path / "r", "cpu", console=Console(quiet=True))
    record = next((tmp_path / "r" / "tiny").glob("*/run.json")).read_text()
    assert '"description": "Does it train?"' in record and '"report"' in record
    rep = build_report(tmp_path / "r")
    assert rep.metrics[0] == "g_loss"


def test_a_reader_that_closes_stdout_ends_the_report_quietly_with_sigpipes_status(results):
    """`ganbench report results/ | head`: once the reader has gone, the report stops with
    the status a shell gives a program SIGPIPE ended (141), and says nothing on stderr."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganbench.cli", "report", str(results), "--no-plots", "--per-run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    proc.stdout.close()  # before the report writes its first line: every write finds no reader
    _, err = proc.communicate(timeout=120)
    said = [line for line in err.decode().splitlines() if not line.startswith("wrote ")]
    assert proc.returncode == 141 and said == [], (proc.returncode, said)
