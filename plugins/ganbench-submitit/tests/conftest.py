import os
from pathlib import Path

import ganbench_submitit.plugin
import gate_plugin
import pytest

HERE = Path(__file__).resolve().parent

# The jobs are processes of their own (submitit's local executor): they import the plugin
# modules by name, so this folder goes on their path; their liveness checks run fast.
os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])])
os.environ["GANBENCH_SLURM_HEARTBEAT_S"] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def ganbench_plugins():
    return [ganbench_submitit.plugin, gate_plugin]
