"""The executor's options, checked before anything is claimed, and the sbatch file they make."""

import pytest
from ganbench_submitit.options import parse, parse_time
from submitit.slurm.slurm import _make_sbatch_string

from ganbench.executors import ExecutorError, ExecutorOptions


def test_registers_the_slurm_executor(ganbench_registry):
    assert "slurm" in ganbench_registry.names("executor")


@pytest.mark.parametrize(
    "text, minutes",
    [(90, 90), ("90", 90), ("1:30:00", 90), ("2-00:00:00", 2880), ("1-12", 2160), ("4h", 240), ("90m", 90), ("0:30", 1), ("10:30", 11)],
)
def test_slurm_time_formats(text, minutes):
    assert parse_time(text) == minutes


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"partiton": "gpu"}, "unknown option --slurm-partiton .did you mean '--slurm-partition'"),
        ({"time": "soon"}, "--slurm-time soon"),
        ({"time": 0}, "more than zero"),
        ({"gpus_per_job": -1}, "--slurm-gpus-per-job"),
        ({"cluster": "pbs"}, "expected one of slurm, local"),
        ({"setup": {"a": 1}}, "--slurm-setup"),
        ({"additional": "x"}, "--slurm-additional"),
    ],
)
def test_bad_options_are_one_line_errors(extra, message):
    with pytest.raises(ExecutorError, match=message):
        parse(ExecutorOptions(extra=extra))


def test_options_make_the_sbatch_file_they_say(tmp_path):
    options = ExecutorOptions(
        devices=["cuda"],
        jobs=4,  # four runs share each GPU: 8 tasks in a job of 2 GPUs
        extra={
            "partition": "gpu",
            "time": "4:00:00",
            "gpus_per_job": 2,
            "cpus_per_run": 3,
            "mem_gb": 16,
            "account": "lab",
            "array_parallelism": 10,
            "setup": "module load cuda",
            "additional": {"mail-type": "END"},
        },
    )
    s = parse(options)
    assert (s.tasks_per_job, s.cluster, s.retries) == (8, "slurm", 1)
    text = _make_sbatch_string(command="python -m x", folder=tmp_path, map_count=20, **s.sbatch("ganbench-suite"))
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --time=240",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH --ntasks-per-node=8",
        "#SBATCH --cpus-per-task=3",
        "#SBATCH --mem=16384MB",
        "#SBATCH --account=lab",
        "#SBATCH --array=0-19%10",
        "#SBATCH --mail-type=END",
        "#SBATCH --job-name=ganbench-suite",
        "module load cuda",
    ):
        assert line in text, line


def test_gpus_default_to_the_devices_asked_for():
    assert parse(ExecutorOptions(devices=["cuda:0"])).gpus_per_job == 1
    assert parse(ExecutorOptions(devices=["cpu"], threads=1)).sbatch("x")["cpus_per_task"] == 1
    assert "gpus_per_node" not in parse(ExecutorOptions(devices=["cpu"])).sbatch("x")


def test_slurm_without_sbatch_says_so(ganbench_registry, monkeypatch):
    from ganbench.runner import make_executor

    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ExecutorError, match="no sbatch on this machine"):
        make_executor(ganbench_registry, "slurm", ExecutorOptions(registry=ganbench_registry))
