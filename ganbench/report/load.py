"""Reading run folders back: one row per run, its history, and what makes runs comparable.

A *cell* is every config value except the seed: runs that differ only in their seed are
repeats of one measurement. The *protocol* is how the metrics were measured (sample
counts, feature space, versions); runs measured differently are never averaged together.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..config import identity
from ..store import COMPLETE, DIVERGED, FAILED, HISTORY_FILE, RUN_FILE, DamagedRun, read_run
from ..suggest import first_line

STATUSES = (COMPLETE, DIVERGED, FAILED)
# Columns of the per-run table that are not metrics (documented in docs/report.md).
RUN_COLUMNS = (
    "suite",
    "id",
    "status",
    "seed",
    "cell",
    "protocol",
    "cost_context",
    "diverged_at_step",
    "error",
    "params_g",
    "params_d",
    "path",
)
# History columns that describe the row rather than measure the model.
HISTORY_INDEX = ("step", "epoch", "wall_s", "train_s", "lr_g", "lr_d", "grid")
# Versions that belong to the protocol: a metric library or harness change can move scores.
PROTOCOL_ENV = ("ganbench", "torch", "torch_fidelity")
# Recorded beside the protocol by early runs but not part of it: how long the classifier
# took to train says nothing about how the numbers were measured.
NOT_PROTOCOL = ("classifier_train_s",)
# Protocol keys recorded only from some version on, with what runs measured before did:
# a run that predates the key measured that way, so it still pools with newer runs.
PROTOCOL_ADDED = {"g_mode": "eval"}  # eval.g_mode: G was always sampled in eval mode before


class ReportError(Exception):
    """A results folder that cannot be reported on; the message is one line."""


@dataclass
class RunRecord:
    path: Path
    record: dict
    cell_key: str  # JSON of the config without its seed
    protocol: dict  # flat: the run's `protocol` plus the versions in PROTOCOL_ENV
    _history: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.record["id"]

    @property
    def status(self) -> str:
        return self.record["status"]

    @property
    def config(self) -> dict:
        return self.record.get("config") or {}

    def history(self) -> pd.DataFrame:
        """history.csv (empty frame when the run has none, e.g. a failed run)."""
        if self._history is None:
            p = self.path / HISTORY_FILE
            if not p.exists():
                self._history = pd.DataFrame({"step": []})
            else:
                try:
                    h = pd.read_csv(p)
                except (ValueError, OSError, pd.errors.ParserError) as e:
                    raise ReportError(f"{p}: not a readable history ({type(e).__name__}: {first_line(e)})") from None
                if "step" not in h.columns:
                    raise ReportError(f"{p}: not a ganbench history (no `step` column)")
                self._history = h
        return self._history


def find_runs(root: str | Path, damaged: list | None = None) -> list[RunRecord]:
    """Every readable run below `root` (``store.read_run``); the reasons of damaged ones are
    appended to `damaged`. ReportError when there is no readable run at all."""
    damaged = damaged if damaged is not None else []
    root = Path(root)
    if not root.exists():
        raise ReportError(f"{root}: no such results folder")
    if not root.is_dir():
        raise ReportError(f"{root}: not a folder (give the results folder, e.g. results/)")
    runs = []
    for path in sorted(root.rglob(RUN_FILE)):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue  # a run still being written, or one being replaced
        try:
            runs.append(_read(path))
        except ReportError as e:  # one damaged run is listed as such, never a dead end
            damaged.append(str(e))
    if not runs:
        if damaged:
            raise ReportError(f"{root}: no readable runs; {len(damaged)} damaged: {damaged[0]}")
        raise ReportError(f"{root}: no runs found (no {RUN_FILE} below it; run `ganbench run SUITE --results {root}` first)")
    seen: dict[tuple, Path] = {}
    for r in runs:
        key = (r.record["suite"], r.id)
        if key in seen:
            raise ReportError(f"run {r.id} of suite {key[0]} appears twice: {seen[key].parent} and {r.path}")
        seen[key] = r.path
    return runs


def _read(path: Path) -> RunRecord:
    try:
        rec = read_run(path.parent)
    except DamagedRun as e:
        raise ReportError(str(e)) from None
    # The cell: what defines the measurement, as in the run id (checkpointing is not part of it).
    cfg = {k: v for k, v in identity(rec["config"]).items() if k != "seed"}
    env = rec.get("env") or {}
    protocol = {k: v for k, v in (rec.get("protocol") or {}).items() if k not in NOT_PROTOCOL}
    if protocol:  # a measured run (a run that failed early recorded none)
        protocol = {**PROTOCOL_ADDED, **protocol}
    for k in PROTOCOL_ENV:
        if env.get(k) is not None:
            # A local build tag (+cu132, +cpu) changes no number a metric computes.
            protocol[k] = str(env[k]).split("+")[0]
    return RunRecord(path.parent, rec, json.dumps(cfg, sort_keys=True), protocol)


def protocol_id(protocol: dict) -> str:
    return hashlib.sha256(json.dumps(protocol, sort_keys=True, default=str).encode()).hexdigest()[:8]


def adopt_failed_protocols(runs: list[RunRecord]) -> None:
    """A failed run measured nothing, so whatever protocol it recorded (often none, when it
    failed before evaluation was set up) must not make the folder look mixed: it takes the
    protocol of the measured runs of its cell, or of all measured runs, when that is unique."""
    measured = [r for r in runs if r.status != FAILED]
    known = {protocol_id(r.protocol) for r in measured}
    for r in runs:
        if r.status != FAILED or protocol_id(r.protocol) in known:
            continue
        same_cell = {protocol_id(m.protocol): m.protocol for m in measured if m.cell_key == r.cell_key}
        everywhere = {protocol_id(m.protocol): m.protocol for m in measured}
        for candidates in (same_cell, everywhere):
            if len(candidates) == 1:
                r.protocol = dict(next(iter(candidates.values())))
                break


def check_protocols(runs: list[RunRecord]) -> dict[str, dict]:
    """{protocol id: protocol}; ReportError when one cell's runs were measured in several ways.

    Different cells (other datasets, other suites) may well be measured differently: they
    are kept apart and labelled with their protocol. Seeds of one cell measured under
    different protocols would be averaged into a meaningless number, so that is refused.
    """
    protocols = {protocol_id(r.protocol): r.protocol for r in runs}
    by_cell: dict[str, dict[str, RunRecord]] = {}
    for r in runs:
        by_cell.setdefault(r.cell_key, {}).setdefault(protocol_id(r.protocol), r)
    mixed = [examples for examples in by_cell.values() if len(examples) > 1]
    if mixed:
        examples = mixed[0]
        found = [ex.protocol for ex in examples.values()]
        keys = sorted({k for p in found for k in p})
        differ = [k for k in keys if len({json.dumps(p.get(k), default=str) for p in found}) > 1]
        detail = "; ".join(
            f"{ex.id}: " + ", ".join(f"{k}={ex.protocol.get(k, '-')}" for k in differ[:3]) for ex in list(examples.values())[:3]
        )
        seeds = [k for k in differ if all(ex.protocol.get(k) == ex.record.get("seed") for ex in examples.values())]
        why = (
            f" ({', '.join(seeds)} holds each run's own seed: a metric's protocol names how it measures, the same for every seed)"
            if seeds
            else ""
        )
        raise ReportError(
            f"runs of one cell were measured under {len(examples)} different protocols (differ in {', '.join(differ)}: {detail}){why}; "
            "their numbers are not comparable: report each set separately, or pass --split-protocols to keep them apart in one report"
        )
    return protocols


def runs_frame(runs: list[RunRecord]) -> pd.DataFrame:
    """One row per run: RUN_COLUMNS, then one column per metric of run.json (final values)."""
    rows = []
    for r in runs:
        rec = r.record
        row = {
            "suite": rec["suite"],
            "id": r.id,
            "status": r.status,
            "seed": rec.get("seed", rec["config"].get("seed")),
            "cell": r.cell_key,
            "protocol": protocol_id(r.protocol),
            "cost_context": cost_context(rec.get("env") or {}),
            "diverged_at_step": rec.get("diverged_at_step"),
            "error": rec.get("error"),
            "params_g": rec.get("params_g"),
            "params_d": rec.get("params_d"),
            "path": str(r.path),
        }
        for k, v in rec["metrics"].items():
            row[k] = math.nan if v is None else float(v)
        rows.append(row)
    return pd.DataFrame(rows)


def cost_context(env: dict) -> str:
    """What a run's cost metrics depend on: the device, how many runs shared it, the threads,
    the memory layout, TF32 and how many seeds were packed with it.

    Runs from before executors recorded this trained alone in one process (`local`).
    """
    device = env.get("device_name") or env.get("device") or "?"
    sharing = f"{env.get('executor', 'local')} x{env.get('runs_per_device', 1)}"
    threads = f"{env['threads']} threads" if env.get("threads") else "threads ?"
    # The run-wide speed settings (ganbench.speed) change throughput, not the recipe. Which
    # optimizer kernel ran is left out: it follows the optimizer a cell compares (RMSprop
    # has no fused kernel), so it is part of what the comparison measures.
    speed = env.get("speed") or {}
    layout = ", channels_last" if speed.get("channels_last") else ""
    tf32 = f", tf32 {speed['tf32']}" if speed.get("tf32") not in (None, "off") else ""
    packed = f", packed x{speed['pack']}" if (speed.get("pack") or 1) > 1 else ""  # seeds trained as one model
    return f"{device}, {sharing}, {threads}{layout}{tf32}{packed}"


def history_metrics(runs: list[RunRecord]) -> list[str]:
    """Numeric history columns that measure something (losses, accuracies, eval metrics)."""
    names: dict[str, None] = {}
    for r in runs:
        h = r.history()
        for c in h.columns:
            if c not in HISTORY_INDEX and pd.api.types.is_numeric_dtype(h[c]):
                names[c] = None
    return list(names)


def flatten(d: dict, prefix: str = "") -> dict:
    """{"optimizer": {"lr": 1}} -> {"optimizer.lr": 1}; lists stay values."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def lookup(config: dict, dotted: str):
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
