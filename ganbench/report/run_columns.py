"""The columns build_report adds to the per-run frame: `axis:<axis>` with a short label per
value and a `label` per run, `<metric>.best` and `<metric>.at_<unit>_<N>` (--at) values read
from the histories, and the list of the frame's value columns.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..keys import LOWER
from ..store import COMPLETE, DIVERGED
from .load import RUN_COLUMNS, ReportError, RunRecord, flatten, history_metrics, lookup
from .metric_traits import direction


@dataclass(frozen=True)
class At:
    """`--at epoch=10` / `--at step=5000`: values at the latest log point at or before N."""

    unit: str  # "epoch" or "step"
    value: float

    @classmethod
    def parse(cls, text: str) -> "At":
        m = re.fullmatch(r"\s*(epoch|step)s?\s*=\s*([0-9]+(?:\.[0-9]+)?)\s*", text or "")
        if not m:
            raise ReportError(f"--at {text!r}: expected epoch=N or step=N, e.g. --at epoch=10")
        return cls(m.group(1), float(m.group(2)))

    @property
    def suffix(self) -> str:
        return f"at_{self.unit}_{self.value:g}"


# ---------------------------------------------------------------- axes and labels


def find_axes(runs: list[RunRecord]) -> list[str]:
    """The matrix axes of the runs' cells, then any other config key that varies between cells."""
    axes: dict[str, None] = {}
    for r in runs:
        for k in r.record.get("cell") or {}:
            if k != "seed":
                axes[k] = None
    configs = {r.cell_key: flatten(json.loads(r.cell_key)) for r in runs}
    keys = sorted({k for c in configs.values() for k in c})
    for k in keys:
        if any(k == a or k.startswith(a + ".") for a in axes):
            continue
        if len({json.dumps(c.get(k), sort_keys=True) for c in configs.values()}) > 1:
            axes[k] = None
    return list(axes)


def axis_labels(values: list) -> dict[str, str]:
    """Short readable labels for the distinct values of one axis: {json(value): label}.

    A plugin/optimizer mapping is labelled by its name, plus the options that differ
    between values of the same name (adam lr=0.001 vs adam lr=0.0002).
    """
    distinct = {json.dumps(v, sort_keys=True): v for v in values}
    labels = {}
    for key, v in distinct.items():
        if not isinstance(v, dict):
            labels[key] = "" if v is None else (str(v) if not isinstance(v, float) else f"{v:g}")
            continue
        same_name = [o for o in distinct.values() if isinstance(o, dict) and o.get("name") == v.get("name")]
        varying = [k for k in v if k != "name" and len({json.dumps(o.get(k), sort_keys=True) for o in same_name}) > 1]
        parts = [str(v["name"])] if "name" in v else []
        parts += [f"{k}={_fmt_value(v[k])}" for k in (varying if "name" in v else v)]
        labels[key] = " ".join(parts)
    return labels


def _fmt_value(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "[" + ",".join(_fmt_value(x) for x in v) + "]"
    return str(v)


def label_runs(runs: list[RunRecord], frame: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """Add `axis:<axis>` columns (short labels) and a `label` joining them."""
    frame = frame.copy()
    for a in axes:
        vals = [lookup(r.record["config"], a) for r in runs]
        labels = axis_labels(vals)
        frame[f"axis:{a}"] = [labels[json.dumps(v, sort_keys=True)] for v in vals]
    frame["label"] = [", ".join(f"{a}={frame.at[i, f'axis:{a}']}" for a in axes) or "(one cell)" for i in frame.index]
    return frame


# ---------------------------------------------------------------- per run values


def run_values(runs: list[RunRecord], frame: pd.DataFrame, at: At | None, given: dict) -> tuple[pd.DataFrame, dict]:
    """Add `<m>.best` and `<m>.at_<unit>_<N>` columns from the histories.

    Returns the frame and {metric: value column shown for it} (the `--at` column when asked).
    """
    frame = frame.copy()
    hist_metrics = history_metrics(runs)
    shown = {m: m for m in frame.columns if m not in _non_metric(frame)}
    for m in hist_metrics:
        final, best, at_val = [], [], []
        for r in runs:
            h = r.history()
            col = pd.to_numeric(h[m], errors="coerce") if m in h else pd.Series(dtype=float)
            ok = col.dropna()
            # null at a complete run's final evaluation by definition (2-D mode_kl with no
            # high-quality sample): an earlier evaluation's value is not its final one
            null_final = r.status == COMPLETE and m in (r.record.get("metrics") or {}) and r.record["metrics"][m] is None
            final.append(float(ok.iloc[-1]) if len(ok) and not null_final else math.nan)
            d = direction(m, given)
            best.append(float(ok.min() if d == LOWER else ok.max()) if len(ok) and d else math.nan)
            if at:
                at_val.append(_value_at(h, col, at, r.status, r.record.get("diverged_at_step")))
        if m not in frame.columns:
            frame[m] = final  # a metric only logged in the history: its last value is final
        else:
            frame[m] = frame[m].where(frame[m].notna(), final)
        if direction(m, given):
            frame[f"{m}.best"] = best
        shown[m] = m
        if at:
            frame[f"{m}.{at.suffix}"] = at_val
            shown[m] = f"{m}.{at.suffix}"
    return frame, shown


def _value_at(h: pd.DataFrame, col: pd.Series, at: At, status: str = COMPLETE, diverged_at=None) -> float:
    """The latest value logged at or before `at`, for a run that reached it; NaN otherwise.

    A complete run reached every point up to its last log. A diverged run was healthy until
    the step its losses stopped being finite, so it reached every point before that (its
    values there count, however it ended); its last row, where divergence was seen, does not.
    """
    if at.unit not in h or not len(h):
        return math.nan
    pos = pd.to_numeric(h[at.unit], errors="coerce")
    reached = pos.max()
    if status == DIVERGED:
        steps = pd.to_numeric(h["step"], errors="coerce")
        if diverged_at is not None and np.isfinite(steps.max()) and steps.max() > 0:
            per_step = 1.0 if at.unit == "step" else float(pos.max() / steps.max())  # epochs per step
            reached = (float(diverged_at) - 1) * per_step
        else:
            reached = pos.iloc[:-1].max() if len(pos) > 1 else math.nan
    if not (reached >= at.value - 1e-6):
        return math.nan  # the run never got there (diverged before, or shorter)
    ok = col[(pos <= at.value + 1e-6) & col.notna()]
    return float(ok.iloc[-1]) if len(ok) else math.nan


def _non_metric(frame: pd.DataFrame) -> set:
    return set(RUN_COLUMNS) | {c for c in frame.columns if c.startswith("axis:")}


def metric_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in _non_metric(frame) and pd.api.types.is_numeric_dtype(frame[c])]
