"""A suite's profiles (the same suite at another scale, e.g. `cpu`) and `--profile`: which one
a command uses, and why (auto: cpu on the CPU, the suite as written on a GPU)."""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from ..config import DEFAULTS, ConfigError, expand_dotted, shown
from ..suggest import did_you_mean

AUTO, NONE, CPU = "auto", "none", "cpu"  # --profile auto picks `cpu` on the CPU; none: the suite as written

PROFILE_KEYS = ("base", "matrix", "exclude", "include", "seeds", "search")  # base merges; the others replace the suite's

OnCpu = bool | Callable[[], bool] | None  # for --profile auto: do the runs train on the CPU? None: cuda_visible()

NAME = re.compile(r"[A-Za-z0-9_-]+")  # fullmatch: `$` would let a trailing newline through

# Bounds on what a suite may ask for, checked before any work (README, "Suites").
MAX_NAME = 100  # the results folder's name, well under any file system's 255


def parse_profiles(value) -> dict[str, dict]:
    """The suite's `profiles`, checked for shape: {name: {base: {...}, matrix: ..., ...}}.

    Every profile's base is checked for unknown top-level keys (a typo in the profile a
    run does not use is still a typo); values are validated where the profile is applied.
    """
    if value is None:
        return {}
    if not isinstance(value, dict) or not value:
        raise ConfigError("profiles", f"must be a mapping of profile name -> {{base: {{...}}}}, got {shown(value)}")
    out: dict[str, dict] = {}
    for name, patch in value.items():
        where = f"profiles.{name}"
        if not isinstance(name, str) or not NAME.fullmatch(name) or len(name) > MAX_NAME:
            raise ConfigError(where, "a profile's name must be letters, digits, '-' or '_' only")
        if name in (AUTO, NONE):
            raise ConfigError(where, f"{name!r} is reserved: --profile {name} means {'choose by device' if name == AUTO else 'no profile'}")
        if not isinstance(patch, dict) or not patch:
            raise ConfigError(where, f"must be a mapping with any of {', '.join(PROFILE_KEYS)}, got {shown(patch)}")
        for key in patch:
            if key not in PROFILE_KEYS:
                hint = " (run settings go under `base`)" if key in DEFAULTS or key == "steps" else ""
                raise ConfigError(
                    f"{where}.{key}", f"unknown profile key{did_you_mean(key, PROFILE_KEYS)}{hint}; known: {', '.join(PROFILE_KEYS)}"
                )
        base = patch.get("base", {})
        if not isinstance(base, dict):
            raise ConfigError(f"{where}.base", "must be a mapping of run settings")
        known = [*sorted(DEFAULTS), "steps"]
        for key in expand_dotted(base):
            if key not in known:
                raise ConfigError(f"{where}.base.{key}", f"unknown key{did_you_mean(key, known)}; known keys: {', '.join(known)}")
        out[name] = patch
    return out


def choose_profile(requested: str, profiles: list[str], on_cpu: OnCpu = None) -> tuple[str | None, str, bool | None]:
    """(the profile to apply, how it was chosen, what `auto` was told about the device).

    requested: a profile's name; ``none``: the suite as written; ``auto``: ``cpu`` when the
    suite has one and the runs train on the CPU (`on_cpu`: a bool, a function asked only
    then, or None for cuda_visible()'s torch-free guess), else ``none``. The profile is
    None for a suite that declares no profiles (and is asked for none).
    """
    if requested in (AUTO, NONE) and not profiles:
        return None, "", None
    if requested == NONE:
        return NONE, "--profile none", None
    if requested == AUTO:
        if CPU not in profiles:
            return NONE, "--profile auto: the suite has no cpu profile", None
        cpu = (not cuda_visible()) if on_cpu is None else (on_cpu() if callable(on_cpu) else bool(on_cpu))
        return (CPU if cpu else NONE), f"--profile auto: the runs train on {'the CPU' if cpu else 'a GPU'}", cpu
    if requested in profiles:
        return requested, f"--profile {requested}", None
    if not profiles:
        raise ConfigError(f"--profile {requested}", "the suite declares no profiles (auto and none are always accepted)")
    raise ConfigError(
        f"--profile {requested}",
        f"unknown profile{did_you_mean(str(requested), profiles)}; the suite's profiles: {', '.join(profiles)} (and auto, none)",
    )


def cuda_visible() -> bool:
    """A torch-free guess at whether torch will see a GPU (for --profile auto in --dry-run,
    which must not import torch): a CUDA or ROCm driver's device files, unless
    CUDA_VISIBLE_DEVICES hides every device. `ganbench run` asks torch itself."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", os.environ.get("HIP_VISIBLE_DEVICES"))
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    try:
        if sys.platform.startswith("linux"):
            gpus = Path("/proc/driver/nvidia/gpus")
            return (gpus.is_dir() and any(gpus.iterdir())) or any(Path("/dev").glob("nvidia[0-9]*")) or Path("/dev/kfd").exists()
        if sys.platform == "win32":
            return shutil.which("nvidia-smi") is not None
    except OSError:
        return False
    return False  # macOS: ganbench's `auto` device never picks MPS
