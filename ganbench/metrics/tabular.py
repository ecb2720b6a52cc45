"""Tabular quality through SDMetrics (https://docs.sdv.dev/sdmetrics): the ``tabular-quality``
metric plugin.

Real rows are the dataset's held-out test split (training rows when it has none);
synthetic rows are the generator's samples. Both are in the dataset's standardized units:
every score below is invariant to a per-column affine map, except the class codes of a
classification target, which are mapped back to codes (rounded, clipped) first.

- ``tab_column_shapes``: mean over columns of SDMetrics' KSComplement (numerical: 1 - the
  Kolmogorov-Smirnov statistic) or TVComplement (a classification target: 1 - total
  variation distance). 1 = identical marginals.
- ``tab_pair_trends``: mean over pairs of numerical columns of CorrelationSimilarity
  (Pearson): 1 - |r_real - r_synthetic| / 2.
- ``tab_detection``: SDMetrics' LogisticDetection: 1 - (2 * max(AUC, 0.5) - 1) of a
  cross-validated logistic regression telling real rows from synthetic; 1 = chance.
- ``tab_ml_efficacy``: train on synthetic rows, test on the real test rows, for the
  table's target (``info["target"]``): BinaryLogisticRegression (F1), or
  MulticlassDecisionTreeClassifier (macro F1), or LinearRegression (R^2).
  ``tab_ml_efficacy_real`` is the same model trained on the real training rows: the
  ceiling to read it against.
"""

from __future__ import annotations

import itertools
import warnings
from typing import TYPE_CHECKING

from .plugin import Context, Metric

if TYPE_CHECKING:  # annotations only: registering the metric must not import torch
    import torch

MODEL_SEED = 0  # NumPy's global seed for SDMetrics' models (recorded in the protocol)


def _sdmetrics():
    try:
        import sdmetrics
    except ImportError as e:  # an optional dependency: pip install 'ganbench[tabular]'
        raise ImportError("the tabular-quality metric needs SDMetrics: pip install 'ganbench[tabular]' (or sdmetrics)") from e
    return sdmetrics


class TabularQuality(Metric):
    """SDMetrics' quality scores of generated rows against real held-out rows."""

    directions = {
        "tab_column_shapes": "higher",
        "tab_pair_trends": "higher",
        "tab_detection": "higher",
        "tab_ml_efficacy": "higher",
        "tab_ml_efficacy_real": "none",  # a property of the dataset: the ceiling of tab_ml_efficacy
    }
    kinds = ("tabular",)

    def __init__(self, max_rows: int = 5000, detection: bool = True, ml_efficacy: bool = True, curve: bool = False):
        """max_rows: synthetic rows scored (the first ones); detection / ml_efficacy: turn
        those parts off (they fit models); curve: also score intermediate evaluations."""
        if max_rows < 10:
            raise ValueError(f"tabular-quality: max_rows must be >= 10, got {max_rows}")
        self.max_rows, self.detection, self.ml_efficacy = max_rows, detection, ml_efficacy
        self.final_only = not curve

    # ------------------------------------------------------------ set-up

    def _real(self, ctx: Context) -> tuple[torch.Tensor, str]:

        data = ctx.data
        return (data.test, "test") if data.test is not None and len(data.test) >= 2 else (data.train, "train")

    def _task(self, ctx: Context) -> tuple[str | None, str | None]:
        info = ctx.data.info or {}
        target, task = info.get("target"), info.get("task")
        columns = self._columns(ctx, ctx.data.train.shape[1])
        if target not in columns:
            return None, None
        if task not in ("classification", "regression"):
            task = "classification" if ctx.data.num_classes else "regression"
        return target, task

    @staticmethod
    def _columns(ctx: Context, width: int) -> list[str]:
        columns = list((ctx.data.info or {}).get("columns") or [])
        return [str(c) for c in columns] if len(columns) == width else [f"c{i}" for i in range(width)]

    def protocol(self, ctx: Context) -> dict:
        real, split = self._real(ctx)
        target, task = self._task(ctx)
        out = {
            "sdmetrics": _sdmetrics().__version__,
            "real_split": split,
            "real_rows": len(real),
            "synthetic_rows": min(self.max_rows, ctx.samples),
            "pair_coefficient": "Pearson",
            "detection": "LogisticDetection" if self.detection else "off",
            "model_seed": MODEL_SEED,
        }
        if self.ml_efficacy and target is not None:
            out.update(target=target, ml_model=self._efficacy_metric(ctx, task).__name__)
        elif self.ml_efficacy:
            ctx.notes.append("tabular-quality: no ML efficacy, the dataset names no target column (info['target'])")
        return out

    def _efficacy_metric(self, ctx: Context, task: str):
        from sdmetrics.single_table import BinaryLogisticRegression, LinearRegression, MulticlassDecisionTreeClassifier

        if task == "regression":
            return LinearRegression
        return BinaryLogisticRegression if (ctx.data.num_classes or 0) <= 2 else MulticlassDecisionTreeClassifier

    # ------------------------------------------------------------ scoring

    def _frame(self, x: torch.Tensor, ctx: Context, target: str | None, task: str | None):
        import numpy as np
        import pandas as pd
        import torch

        columns = self._columns(ctx, x.shape[1])
        x = torch.nan_to_num(x.double(), nan=0.0, posinf=1e6, neginf=-1e6).numpy()
        df = pd.DataFrame(x, columns=columns)
        if task == "classification":
            info = ctx.data.info
            i = columns.index(target)
            codes = x[:, i] * info["std"][i] + info["mean"][i]  # standardized -> class code
            k = ctx.data.num_classes or int(np.nanmax(codes)) + 1
            df[target] = np.clip(np.rint(codes), 0, k - 1).astype(int).astype(str)  # categorical
        return df

    def __call__(self, samples: torch.Tensor, ctx: Context) -> dict[str, float]:
        import numpy as np

        _sdmetrics()
        target, task = self._task(ctx)
        real, _ = self._real(ctx)
        real_df = self._frame(real, ctx, target, task)
        synth_df = self._frame(samples[: self.max_rows], ctx, target, task)
        categorical = {target} if task == "classification" else set()
        numeric = [c for c in real_df.columns if c not in categorical]
        out = {}
        # SDMetrics' models and detection folds draw from NumPy's global RNG: seed it (a decision
        # tree otherwise scores differently each time) and restore it after. The seed is fixed,
        # not the run's: every run's rows are scored by the same models, and the real-on-real
        # ceiling is one number per dataset.
        state = np.random.get_state()
        np.random.seed(MODEL_SEED)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._scores(out, real_df, synth_df, categorical, numeric, target, task, ctx)
        finally:
            np.random.set_state(state)
        return out

    def _scores(self, out, real_df, synth_df, categorical, numeric, target, task, ctx) -> None:
        import numpy as np
        from sdmetrics.column_pairs import CorrelationSimilarity
        from sdmetrics.single_column import KSComplement, TVComplement
        from sdmetrics.single_table import LogisticDetection

        metadata = {"columns": {c: {"sdtype": "categorical" if c in categorical else "numerical"} for c in real_df.columns}}
        shapes = [
            TVComplement.compute(real_df[c], synth_df[c]) if c in categorical else KSComplement.compute(real_df[c], synth_df[c])
            for c in real_df.columns
        ]
        out["tab_column_shapes"] = float(np.mean(shapes))
        pairs = [
            CorrelationSimilarity.compute(real_df[[a, b]], synth_df[[a, b]], coefficient="Pearson")
            for a, b in itertools.combinations(numeric, 2)
        ]
        pairs = [p for p in pairs if np.isfinite(p)]  # a constant column has no correlation
        if pairs:
            out["tab_pair_trends"] = float(np.mean(pairs))
        if self.detection:
            out["tab_detection"] = float(LogisticDetection.compute(real_df, synth_df, metadata))
        if self.ml_efficacy and target is not None:
            metric = self._efficacy_metric(ctx, task)
            out["tab_ml_efficacy"] = _efficacy(metric, real_df, synth_df, metadata, target, MODEL_SEED)
            train_df = self._frame(ctx.data.train, ctx, target, task)
            out["tab_ml_efficacy_real"] = _efficacy(metric, real_df, train_df, metadata, target, MODEL_SEED)


def _efficacy(metric, test_df, train_df, metadata, target, seed: int) -> float:
    """metric.compute(test=real, train=train_df), its model seeded alike every time (the
    decision tree breaks ties at random). When the training rows hold one class only,
    SDMetrics predicts that class for every row, which the score reflects."""
    import numpy as np

    np.random.seed(seed)
    value = metric.compute(test_df, train_df, metadata=metadata, target=target)
    return float(value)
