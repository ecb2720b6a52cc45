"""The plugin packages' own tests (plugins/*/tests: the example ganbench-sngan and the SLURM
executor ganbench-submitit) run with the project's.

They run as a plugin author runs them — pytest in the package's folder, ganbench's test kit
(the `ganbench_*` fixtures, a pytest11 entry point) loaded automatically — with the
package importable from its `src/` folder through PYTHONPATH: nothing is pip-installed
into the running interpreter.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"ganbench-sngan": None, "ganbench-submitit": "submitit"}  # name -> what it needs besides ganbench


@pytest.mark.parametrize("name", PACKAGES)
def test_the_plugin_packages_own_tests_pass(tmp_path, name):
    if PACKAGES[name]:
        pytest.importorskip(PACKAGES[name], reason=f"{name} needs {PACKAGES[name]} (the `test` extra installs it)")
    PACKAGE = REPO / "plugins" / name
    tests = sorted((PACKAGE / "tests").glob("test_*.py"))
    assert tests, "the example package has tests"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        # the package from its source folder, and this checkout's ganbench (and test kit)
        "PYTHONPATH": os.pathsep.join([str(PACKAGE / "src"), str(REPO)]),
    }
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "t"), str(PACKAGE / "tests")],
        cwd=PACKAGE,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr
    assert out.returncode == 0, out.stdout[-12000:] + out.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    defined = sum(len(re.findall(r"^def test_", p.read_text(), re.M)) for p in tests)
    assert passed >= defined and "skipped" not in summary and "error" not in summary, summary  # every test ran
