"""`ganbench status`: what is training and what has finished, from the files alone.

A run in progress lives in its hidden temporary folder (``.<run id>.tmp-<token>``) and
streams ``history.csv`` there; its claim (``ganbench.claims``) says whether its process is
alive. So this works from any machine that sees the results folder, while the runs train.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import saved_step
from .claims import ClaimBook
from .progress import HEADLINES
from .store import HISTORY_FILE, RUN_FILE


@dataclass
class RunStatus:
    suite: str
    run_id: str
    state: str  # running | killed | complete | diverged | failed
    step: int | None
    d_loss: float | None
    g_loss: float | None
    headline: str  # "fid_domain 41.2" or ""
    last_write_s: float | None  # seconds since the run last wrote anything
    note: str = ""


def suite_folders(root: Path) -> list[Path]:
    """`root` itself when it is one suite's folder, else the suite folders below it."""
    if any(root.glob(f"*/{RUN_FILE}")) or any(root.glob(".*.tmp-*")) or (root / ".claims").is_dir():
        return [root]
    return sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))


def collect(root: str | Path) -> list[RunStatus]:
    root = Path(root)
    out: list[RunStatus] = []
    for folder in suite_folders(root):
        live = ClaimBook(folder).live_tokens() if (folder / ".claims").is_dir() else set()
        for tmp in sorted(folder.glob(".*.tmp-*")):
            run_id, _, token = tmp.name[1:].rpartition(".tmp-")
            running = token in live
            step = saved_step(tmp)
            note = "" if running else (f"killed; resumes from step {step}" if step is not None else "killed; left over")
            out.append(_status(folder.name, run_id, "running" if running else "killed", tmp, None, note))
        for run_dir in sorted(p for p in folder.iterdir() if not p.name.startswith(".") and (p / RUN_FILE).is_file()):
            try:
                record = json.loads((run_dir / RUN_FILE).read_text())
            except (OSError, ValueError):
                continue
            if isinstance(record, dict):
                out.append(_status(folder.name, run_dir.name, str(record.get("status")), run_dir, record, str(record.get("error") or "")))
    return out


def _status(suite: str, run_id: str, state: str, folder: Path, record: dict | None, note: str) -> RunStatus:
    last = _last_row(folder / HISTORY_FILE)
    metrics = (record or {}).get("metrics") or {}
    source = {**last, **{k: v for k, v in metrics.items() if v is not None}}
    headline = next((f"{k} {source[k]:.4g}" for k in HEADLINES if isinstance(source.get(k), (int, float))), "")
    return RunStatus(
        suite, run_id, state, _int(last.get("step")), _float(last.get("d_loss")), _float(last.get("g_loss")), headline, _age(folder), note
    )


def _last_row(path: Path) -> dict:
    """The last row of a history.csv, read without pandas (fast, and tolerant of a run
    rewriting it right now: the file is replaced atomically, never half-written)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    if len(lines) < 2:
        return {}
    return {k: _parse(v) for k, v in zip(lines[0].split(","), lines[-1].split(","))}


def _age(folder: Path) -> float | None:
    """Seconds since anything in folder was written; files a running run replaces (a
    temporary file renamed over history.csv) may vanish between listing and stat."""
    times = []
    try:
        paths = [folder, *folder.rglob("*")]
    except OSError:
        return None
    for p in paths:
        try:
            times.append(p.stat().st_mtime)
        except OSError:
            continue
    return max(0.0, time.time() - max(times)) if times else None


def _parse(v: str):
    try:
        return float(v)
    except ValueError:
        return v


def _int(v):
    return int(v) if isinstance(v, float) else None


def _float(v):
    return v if isinstance(v, float) else None


def ago(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"
