"""The benchmark scripts' CPU paths run end to end on tiny sizes (benchmarks/gpu_check.sh
runs them on a GPU at their real sizes; `bash benchmarks/gpu_check.sh --device cpu` runs
the whole script here in about a minute)."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

import program_estimate  # noqa: E402
import suite_throughput  # noqa: E402


def test_gpu_check_is_a_valid_script():
    assert subprocess.run(["bash", "-n", str(REPO / "benchmarks" / "gpu_check.sh")]).returncode == 0


def test_suite_throughput_trains_a_packed_cell(tmp_path):
    table = tmp_path / "t.md"
    rows = suite_throughput.main(
        [
            "--device",
            "cpu",
            "--seeds",
            "2",
            "--steps",
            "4",
            "--samples",
            "0",
            "--modes",
            "sequential,packed",
            "--extrapolate",
            "4",
            "--markdown",
            str(table),
        ]
    )
    assert [r["pack"] for r in rows] == [1, 1, 2]
    assert rows[1]["wall_s"] == 2 * rows[0]["wall_s"]  # 4 seeds one after another: 2 measured x 2
    assert "| 2 seeds, pack 2 |" in table.read_text()


def test_program_estimate_probes_each_cell_and_sums_the_suite(tmp_path):
    out = program_estimate.main(["--device", "cpu", "--tiny", "--suites", "tabular", "--markdown", str(tmp_path / "e.md")])
    (row,) = out["rows"]
    assert row["runs"] == 9 and row["packs"] == 3 and row["minutes"] > 0
    assert "| tabular | 9 | 3 |" in (tmp_path / "e.md").read_text()
