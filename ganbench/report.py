"""Reading a results folder back: one row per run, then one per matrix cell."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from rich.table import Table

from .store import RUN_FILE


class ReportError(Exception):
    """A results folder that cannot be reported on."""


def load_runs(root: str | Path) -> pd.DataFrame:
    """One row per run.json below `root`: id, suite, status, seed, cell, metrics.*"""
    root = Path(root)
    if not root.is_dir():
        raise ReportError(f"{root}: no such results folder")
    rows = []
    for path in sorted(root.rglob(RUN_FILE)):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue  # a run still being written
        try:
            rec = json.loads(path.read_text())
            row = {"suite": rec["suite"], "id": rec["id"], "status": rec["status"], "seed": rec["seed"]}
            row["cell"] = json.dumps(rec.get("cell", {}), sort_keys=True)
        except (ValueError, KeyError, TypeError) as e:
            raise ReportError(f"{path}: not a valid run.json ({type(e).__name__}: {e})") from None
        row.update({f"metrics.{k}": v for k, v in (rec.get("metrics") or {}).items()})
        rows.append(row)
    if not rows:
        raise ReportError(f"{root}: no runs found (no {RUN_FILE} below it)")
    return pd.DataFrame(rows)


def summarize(root: str | Path, metric_names=("train_img_per_s", "d_loss", "g_loss", "d_acc_real", "d_acc_fake")) -> Table:
    runs = load_runs(root)
    table = Table(title=f"{root}: {len(runs)} runs")
    for col in ("suite", "cell", "runs", "complete", "diverged", "failed", *metric_names):
        table.add_column(col)
    for (suite, cell), group in runs.groupby(["suite", "cell"], sort=True):
        counts = group["status"].value_counts()
        cells = []
        for m in metric_names:
            values = group.loc[group["status"] == "complete", f"metrics.{m}"] if f"metrics.{m}" in group else pd.Series(dtype=float)
            values = values.dropna()
            cells.append(f"{values.mean():.3g} ± {values.std(ddof=1) if len(values) > 1 else 0:.2g}" if len(values) else "")
        label = ", ".join(f"{k}={v if not isinstance(v, dict) else v.get('name', v)}" for k, v in json.loads(cell).items())
        table.add_row(suite, label or "-", str(len(group)), *(str(counts.get(s, 0)) for s in ("complete", "diverged", "failed")), *cells)
    return table
