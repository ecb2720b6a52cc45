"""One family per report: every p-value of a report is adjusted together (Holm), and a
verdict ("a better", "lower lr_ratio better") rests on the adjusted p only, a known
direction, and a row whose test could give one.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..keys import LOWER
from .metric_traits import direction

ALPHA = 0.05  # family-wise error rate of a report's verdicts
ADJUST = "holm"  # Holm's step-down adjustment over every p-value of the report
SUCCESS = "success_rate"  # the metric name of the success-rate rows (complete / (complete + diverged))


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control under any dependence)."""
    p = np.asarray(p, float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


def adjust(comparisons: pd.DataFrame, trend_rows: pd.DataFrame, given: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Holm-adjust every finite p of the report together; set `p_adj`, `better` and `note`.

    Returns (comparisons, trends, family size).
    """
    comparisons, trend_rows = comparisons.copy(), trend_rows.copy()
    ps = np.concatenate([comparisons["p"].to_numpy(float), trend_rows["p"].to_numpy(float)])
    finite = np.isfinite(ps)
    adjusted = np.full(len(ps), math.nan)
    adjusted[finite] = holm(ps[finite])
    comparisons["p_adj"] = adjusted[: len(comparisons)]
    trend_rows["p_adj"] = adjusted[len(comparisons) :]
    for frame, kind in ((comparisons, "pair"), (trend_rows, "trend")):
        better, notes = [], []
        for _, r in frame.iterrows():
            d = direction(r["metric"], given) if r["metric"] != SUCCESS else "higher"
            winner, note = _verdict(r, d, kind)
            better.append(winner)
            notes.append("; ".join(n for n in (r["note"], note) if n))
        frame["better"], frame["note"] = better, notes
    return comparisons, trend_rows, int(finite.sum())


def _verdict(r, d: str | None, kind: str) -> tuple[str, str]:
    significant = np.isfinite(r["p_adj"]) and r["p_adj"] < ALPHA
    if not significant:
        before = np.isfinite(r["p"]) and r["p"] < ALPHA
        return "", "p < 0.05 before the adjustment only" if before else ""
    if r["note"].startswith("no verdict"):
        return "", ""
    if not d:
        return "", "no known direction (--direction METRIC=lower|higher)"
    if kind == "pair":
        if r["diff"] == 0:
            return "", ""
        return (r["a"] if (r["diff"] < 0) == (d == LOWER) else r["b"]), ""
    up = r["rho"] > 0  # the metric grows with the axis
    return (f"higher {r['axis']}" if up != (d == LOWER) else f"lower {r['axis']}"), ""
