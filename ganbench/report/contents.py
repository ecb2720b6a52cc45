"""The Report: what one report holds (the per-run and per-cell frames, the tests, the options
they were made with) and every view (terminal, files, page, plots) reads. build_report
(report.assemble) makes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .compare import TREND_COLUMNS
from .load import RunRecord
from .multiple_testing import ADJUST, ALPHA
from .run_columns import At
from .search import COLUMNS as SEARCH_COLUMNS
from .search import SCORE_COLUMNS


@dataclass
class Report:
    root: Path
    runs: list[RunRecord]
    protocols: dict[str, dict]  # protocol id -> fingerprint
    axes: list[str]
    frame: pd.DataFrame  # one row per run (docs/report.md lists the columns)
    cells: pd.DataFrame  # one row per cell
    shown: dict[str, str]  # metric -> the value column the tables show for it (final or --at)
    metrics: list[str]  # the headline metrics of the tables
    comparisons: pd.DataFrame
    ci_method: str = "t"
    test: str = "welch"
    at: At | None = None
    sort: tuple[str, str] | None = None  # (value column, lower|higher)
    directions: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # the runs' own notes, deduplicated
    trends: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(TREND_COLUMNS)))
    family: int = 0  # p-values adjusted together (Holm) in this report
    clipped: list[str] = field(default_factory=list)  # value columns whose interval met the metric's range
    ci_fallback: list[str] = field(default_factory=list)  # value columns given a t interval for lack of seeds
    adjust: str = ADJUST
    alpha: float = ALPHA
    threshold: float | None = None  # fid_domain for the time-to-threshold view (report.anytime)
    time_to_threshold: pd.DataFrame | None = None
    threshold_comparisons: pd.DataFrame | None = None
    aggregate: Any = None  # report.aggregate_suites.Aggregate, with --aggregate
    search: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(SEARCH_COLUMNS)))  # report.search
    search_scores: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(SCORE_COLUMNS)))
    ranges: dict = field(default_factory=dict)  # {key: (low, high)} metric plugins declare (Registry.metric_ranges)

    def best_column(self, metric: str) -> str | None:
        """`<metric>.best`: optimistic (the best of a run's evaluations on the test split), files only."""
        c = f"{metric}.best"
        return c if c in self.frame.columns else None

    def trained_cells(self) -> pd.DataFrame:
        """The cells of runs: report.cells without the reference rows (--reference)."""
        if "reference" not in self.cells:
            return self.cells
        return self.cells[~self.cells["reference"].fillna(False).astype(bool)]

    def missing(self) -> list[str]:
        """Headline metrics left blank for some cell with complete runs."""
        out = []
        for m in self.metrics:
            col = f"{self.shown[m]}.mean"
            cells = self.trained_cells()
            if col not in cells or cells.loc[cells["complete"] > 0, col].isna().any():
                out.append(m)
        return out
