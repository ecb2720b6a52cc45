"""What pyproject.toml lets pip install: an existing PyTorch environment is kept, the one
CPU-only torch build no torchvision loads with is not, and .ci/floor tests the floor."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def requirement(name: str) -> Requirement:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (req,) = [Requirement(d) for d in deps if Requirement(d).name == name]
    return req


def test_existing_torch_environments_are_kept_and_the_broken_cpu_build_is_not():
    torch, torchvision = requirement("torch").specifier, requirement("torchvision").specifier
    for version in ("2.4.0", "2.4.1", "2.11.0", "2.13.0", "2.14.1", "2.11.0+cu130"):  # 2.11: the GPU machines' image
        assert torch.contains(version), version
    assert not torch.contains("2.13.0+cpu")  # offered from a local wheel folder; no torchvision loads with it
    assert not torch.contains("2.3.1")
    for version in ("0.19.0", "0.26.0", "0.29.1"):
        assert torchvision.contains(version), version


def test_the_floor_check_tests_the_declared_floor_with_files_that_exist():
    script = (ROOT / ".ci" / "floor").read_text()
    assert "floor torch" in script and "floor torchvision" in script  # read from pyproject.toml, not repeated
    tests = re.findall(r"tests/test_\w+\.py", script)
    assert tests and all((ROOT / t).is_file() for t in tests), tests
    assert "GANBENCH_CI_FLOOR" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert f"torch {min_version('torch')} or later" in readme and f"({min_version('torchvision')} or later)" in readme


def min_version(name: str) -> str:
    (spec,) = [s for s in requirement(name).specifier if s.operator == ">="]
    return spec.version
