"""An executor plugin's own options: `--<executor>-<key> VALUE` on the command line, or
`executor_options=` in the API, reach its ExecutorOptions.extra; anything else is exit 2."""

from __future__ import annotations

import sys
import types

import pytest
import yaml
from click.testing import CliRunner
from conftest import TINY_BASE

from ganbench import api, hookimpl
from ganbench.cli import main
from ganbench.executors.local import LocalExecutor
from ganbench.testing import make_registry


def suite_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "base": dict(TINY_BASE)}))
    return path


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], env={"COLUMNS": "200"})


def test_executor_options_are_read_wherever_they_stand(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(api, "run_suite", lambda *a, **kw: seen.update(kw) or sys.exit(0))
    path = suite_file(tmp_path)
    # VALUE right before SUITE is the option's, not the suite file
    out = invoke("run", "--executor", "ray", "--ray-partition", "gpu", path, "--ray-time=4:00:00", "--ray-gpus-per-job", "2")
    assert out.exit_code == 2 and "built-in executor ray takes no options" in out.output  # built-ins take none
    out = invoke("run", "--executor", "x", "--x-partition", "gpu", path, "--x-time=4:00:00", "--x-gpus-per-job", "2", "--devices", "cpu")
    assert out.exit_code == 0, out.output
    assert seen["executor_options"] == {"partition": "gpu", "time": "4:00:00", "gpus_per_job": 2}  # values are YAML


@pytest.mark.parametrize(
    "args, message",
    [
        (["--slurm-partition", "gpu"], "no such option: --slurm-partition (executor options need --executor NAME)"),
        (["--executor", "slurm", "--ray-partition", "gpu"], "no such option: --ray-partition (executor options are --slurm-KEY)"),
        (["--executor", "slurm", "--slurm-partition"], "--slurm-partition needs a value"),
        (["--dry-rn"], "no such option: --dry-rn"),
    ],
)
def test_misplaced_executor_options_are_bad_input(tmp_path, args, message):
    out = invoke("run", suite_file(tmp_path), "--dry-run", *args)
    assert out.exit_code == 2 and message in out.output, out.output


def test_the_api_hands_executor_options_to_the_executor(tmp_path):
    seen = []

    class Recording(LocalExecutor):
        name = "recording"
        executor_options = {"queue": None}  # declared: the scheduler refuses undeclared options

        def __init__(self, options):
            super().__init__(options)
            seen.append(dict(options.extra))

    module = types.ModuleType("recording_executor")
    module.register_executors = hookimpl(lambda register: register("recording", Recording))
    registry = make_registry(module)
    out = api.run_suite(
        {"name": "s", "base": TINY_BASE},
        tmp_path,
        devices="cpu",
        executor="recording",
        executor_options={"queue": "a"},
        registry=registry,
        quiet=True,
    )
    assert out.counts == {"complete": 1} and seen == [{"queue": "a"}]
