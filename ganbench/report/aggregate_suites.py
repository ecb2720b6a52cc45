"""Aggregates across data sets (`ganbench report --aggregate`), in the spirit of rliable.

Agarwal et al. 2021, "Deep Reinforcement Learning at the Edge of the Statistical
Precipice": with few seeds per data set, rank recipes by robust aggregates with honest
intervals, computed by their `rliable` package (``rliable.library``, ``rliable.metrics``):

- a *recipe* is a cell's matrix values without its dataset (`loss=wgan-gp`), a *task* a
  dataset (name and options) under one protocol; several suites, or one with a dataset axis;
- scores are normalised per task between a documented worst value (0) and the reference
  row (1): ``(worst - x) / (worst - reference)`` for a lower-is-better metric such as
  fid_domain (``(x - worst) / (reference - worst)`` for a higher-is-better one), where the
  reference is a perfect sampler (held-out real data, ``report.reference``) and the worst
  uniform noise (images: uniform pixels; points and rows: uniform over the training data's
  bounding box), both scored now by the task's own evaluation. Scores are not clipped: a
  run worse than noise is below 0. A diverged run scores 0 (it produced nothing usable, and
  leaving it out would hide it); failed runs measured nothing and are left out;
- interquartile mean (IQM, ``metrics.aggregate_iqm``) per recipe with a 95% stratified
  bootstrap interval (runs resampled within each task, ``library.get_interval_estimates``);
- probability of improvement P(X > Y) for each ordered pair of recipes (Mann-Whitney's
  statistic per task, averaged over tasks; ``metrics.probability_of_improvement``), with
  its interval;
- performance profiles: the share of a recipe's runs with a normalised score above each
  tau (equivalently, below each task's FID at that tau), with a 95% band
  (``library.create_performance_profile``).

rliable needs a (runs x tasks) matrix per recipe: a recipe missing a task is left out, and
one with more seeds on some task keeps its lowest seeds up to the fewest it has anywhere;
notes say so.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..keys import FID_DOMAIN
from ..store import COMPLETE, DIVERGED
from .load import ReportError, protocol_id
from .metric_traits import direction
from .reference import measure, measure_noise

if TYPE_CHECKING:
    from ..plugins import Registry

REPS = 2_000  # bootstrap replications (rliable's default for profiles; its 50,000 for intervals is minutes here)
CI = 0.95
TAUS = np.linspace(-0.25, 1.25, 61)  # normalised score thresholds of the performance profile
SEED = 0


@dataclass
class Aggregate:
    metric: str
    tasks: list[str]  # task labels, in column order
    bounds: dict[str, tuple[float, float]]  # task -> (reference, worst) of the raw metric
    scores: dict[str, np.ndarray]  # recipe -> (runs, tasks) normalised scores
    iqm: pd.DataFrame = field(default_factory=pd.DataFrame)  # recipe, runs, iqm, ci_low, ci_high
    improvement: pd.DataFrame = field(default_factory=pd.DataFrame)  # x, y, p_improve, ci_low, ci_high
    profiles: dict = field(default_factory=dict)  # recipe -> (share, low, high) arrays over TAUS
    notes: list[str] = field(default_factory=list)


def recipe_key(run) -> str:
    """A run's matrix values without its dataset: what is compared across data sets."""
    cell = {k: v for k, v in (run.record.get("cell") or {}).items() if not str(k).startswith("dataset")}
    return ", ".join(f"{k}={v.get('name', v) if isinstance(v, dict) else v}" for k, v in cell.items()) or "(base)"


def task_key(run, protocol_id) -> tuple[str, str]:
    """(grouping key, label) of a run's task: its dataset config and protocol."""
    ds = run.config.get("dataset") or {}
    key = json.dumps([ds, protocol_id(run.protocol)], sort_keys=True, default=str)
    options = ",".join(f"{k}={v}" for k, v in ds.items() if k != "name")
    return key, f"{ds.get('name')}{f' ({options})' if options else ''}"


def _quiet():
    """rliable hands arch a RandomState, which arch reports as deprecated at every call."""
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("ignore", FutureWarning)
    return ctx


def normalise(x: float, reference: float, worst: float, lower_better: bool) -> float:
    """0 at `worst`, 1 at `reference`; linear, unclipped."""
    span = worst - reference
    return (worst - x) / span if lower_better else (x - worst) / (reference - worst)


def iqm_interval(matrix: np.ndarray, reps: int = REPS, seed: int = SEED) -> tuple[float, float, float]:
    """(IQM, low, high): rliable's IQM of a (runs, tasks) matrix with its 95% stratified bootstrap interval."""
    from rliable import library as rly
    from rliable import metrics

    ctx = _quiet()
    try:
        point, interval = rly.get_interval_estimates(
            {"x": matrix},
            lambda s: np.array([metrics.aggregate_iqm(s)]),
            reps=reps,
            confidence_interval_size=CI,
            random_state=np.random.RandomState(seed),
        )
    finally:
        ctx.__exit__(None, None, None)
    return float(point["x"][0]), float(interval["x"][0, 0]), float(interval["x"][1, 0])


def build(
    report,
    metric: str = FID_DOMAIN,
    bounds: dict[str, tuple[float, float]] | None = None,
    reps: int = REPS,
    registry: Registry | None = None,
) -> Aggregate:
    """The aggregate of a report's runs (``report.runs``); `bounds` {task label: (reference,
    worst)} skips measuring them (tests); else they are measured (report.reference) with
    `registry`, which is then required."""
    try:
        import rliable  # noqa: F401
    except ImportError:
        raise ReportError("--aggregate needs the rliable package: pip install 'ganbench[aggregate]'") from None
    how = direction(metric, report.directions)
    if how is None:
        raise ReportError(f"--aggregate {metric}: its direction is unknown (give --direction {metric}=lower|higher)")
    by_task: dict[str, dict] = {}
    labels: dict[str, str] = {}
    for r in report.runs:
        if r.status not in (COMPLETE, DIVERGED):
            continue
        key, label = task_key(r, protocol_id)
        labels[key] = label
        by_task.setdefault(key, {}).setdefault(recipe_key(r), []).append(r)
    if len(set(labels.values())) < len(labels):  # one dataset under several protocols: say which
        labels = {k: f"{v} [{json.loads(k)[1]}]" for k, v in labels.items()}
    notes: list[str] = []
    measured = dict(bounds or {})
    for key, recipes in by_task.items():
        if labels[key] not in measured:
            if registry is None:
                raise TypeError(f"aggregate_suites.build: measuring the bounds of {labels[key]} needs registry= (or give bounds=)")
            first = next(r for rs in recipes.values() for r in rs)
            measured[labels[key]] = _bounds(first.config, metric, registry)
    for key in list(by_task):  # a task whose evaluation has no such metric (2-D data and fid_domain)
        ref, worst = measured[labels[key]]
        if not (math.isfinite(ref) and math.isfinite(worst)) or ref == worst:
            notes.append(f"data set {labels[key]} left out: {metric} has no reference and worst value there ({ref:.4g}, {worst:.4g})")
            del by_task[key]
    tasks = [labels[k] for k in by_task]
    recipes = sorted({name for recipes in by_task.values() for name in recipes})
    scores: dict[str, np.ndarray] = {}
    for name in recipes:
        missing = [labels[k] for k, rs in by_task.items() if name not in rs]
        if missing:
            notes.append(f"recipe {name} left out: no runs on {', '.join(missing)}")
            continue
        columns = []
        for key in by_task:
            ref, worst = measured[labels[key]]
            runs = sorted(by_task[key][name], key=lambda r: r.record.get("seed", 0))
            col = []
            for r in runs:
                value = (r.record.get("metrics") or {}).get(metric)
                if r.status == DIVERGED or value is None or not math.isfinite(value):
                    col.append(0.0)  # diverged (or no final value): the worst score, never hidden
                else:
                    col.append(normalise(float(value), ref, worst, how == "lower"))
            columns.append(col)
        n = min(len(c) for c in columns)
        if any(len(c) > n for c in columns):
            notes.append(f"recipe {name}: {n} runs per task used (its lowest seeds), the fewest it has on any task")
        scores[name] = np.array([c[:n] for c in columns], dtype=float).T  # (runs, tasks)
    agg = Aggregate(metric, tasks, measured, scores, notes=notes)
    if scores:
        _estimate(agg, reps)
    return agg


def _bounds(config: dict, metric: str, registry: Registry) -> tuple[float, float]:
    ref = measure(config, registry)[0].get(metric, math.nan)
    worst = measure_noise(config, registry)[0].get(metric, math.nan)
    return float(ref), float(worst)


def _estimate(agg: Aggregate, reps: int) -> None:
    from rliable import library as rly
    from rliable import metrics

    rows = []
    for name, m in agg.scores.items():
        point, low, high = iqm_interval(m, reps)
        rows.append({"recipe": name, "runs_per_task": m.shape[0], "tasks": m.shape[1], "iqm": point, "ci_low": low, "ci_high": high})
    agg.iqm = pd.DataFrame(rows).sort_values("iqm", ascending=False, ignore_index=True)
    names = list(agg.scores)
    pairs = {f"{x}|{y}": [agg.scores[x], agg.scores[y]] for x in names for y in names if x != y}
    ctx = _quiet()
    try:
        if pairs:
            point, interval = rly.get_interval_estimates(
                pairs, metrics.probability_of_improvement, reps=reps, confidence_interval_size=CI, random_state=np.random.RandomState(SEED)
            )
            agg.improvement = pd.DataFrame(
                [
                    {
                        "x": k.split("|")[0],
                        "y": k.split("|")[1],
                        "p_improve": float(np.ravel(point[k])[0]),
                        "ci_low": float(np.ravel(interval[k])[0]),
                        "ci_high": float(np.ravel(interval[k])[1]),
                    }
                    for k in pairs
                ]
            )
        np.random.seed(SEED)  # create_performance_profile's bootstrap draws from numpy's global RNG
        share, bands = rly.create_performance_profile(agg.scores, TAUS, reps=reps, confidence_interval_size=CI)
    finally:
        ctx.__exit__(None, None, None)
    agg.profiles = {k: (share[k], bands[k][0], bands[k][1]) for k in share}


# ---------------------------------------------------------------- output


def intro(agg: Aggregate) -> str:
    bounds = "; ".join(
        f"{t}: reference {ref:.4g}, worst (uniform noise) {worst:.4g}" for t, (ref, worst) in agg.bounds.items() if t in agg.tasks
    )
    return (
        f"{agg.metric} normalised per data set to 0 = uniform noise, 1 = held-out real data ({bounds}); diverged runs score 0. "
        f"IQM with a {CI:.0%} stratified bootstrap interval ({REPS:,} replications), probability of improvement "
        "P(X > Y) averaged over data sets, performance profiles: rliable (Agarwal et al. 2021)."
    )


def iqm_rows(agg: Aggregate) -> tuple[list[str], list[list[str]]]:
    header = ["recipe", "runs per data set", "IQM", "95% CI"]
    rows = [
        [r["recipe"], str(r["runs_per_task"]), f"{r['iqm']:.3f}", f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]"] for _, r in agg.iqm.iterrows()
    ]
    return header, rows


def improvement_lines(agg: Aggregate) -> list[str]:
    out = []
    for _, r in agg.improvement.iterrows():
        clear = " (interval excludes 0.5)" if r["ci_low"] > 0.5 or r["ci_high"] < 0.5 else ""
        out.append(f"P({r['x']} > {r['y']}) = {r['p_improve']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]{clear}")
    return out


def markdown_lines(agg: Aggregate) -> list[str]:
    header, rows = iqm_rows(agg)
    out = ["", f"## Across data sets: {agg.metric} ({', '.join(agg.tasks)})", "", intro(agg), ""]
    out += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"] + ["| " + " | ".join(r) + " |" for r in rows]
    out += [""] + [f"- {line}" for line in improvement_lines(agg)] + [f"- note: {n}" for n in agg.notes]
    return out


def html_lines(agg: Aggregate, esc) -> list[str]:
    import base64

    header, rows = iqm_rows(agg)
    out = [f"<h2>Across data sets: {esc(agg.metric)} ({esc(', '.join(agg.tasks))})</h2>", f'<p class="note">{esc(intro(agg))}</p>']
    out.append(
        '<div class="scroll"><table id="aggregate"><thead><tr>' + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr></thead><tbody>"
    )
    out += ["<tr>" + "".join(f"<td>{esc(v)}</td>" for v in r) + "</tr>" for r in rows]
    out.append("</tbody></table></div>")
    out.append("<ul>" + "".join(f"<li>{esc(line)}</li>" for line in improvement_lines(agg) + [f"note: {n}" for n in agg.notes]) + "</ul>")
    for caption, png in figures(agg).items():
        data = base64.b64encode(png).decode()
        out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{esc(caption)}"><figcaption>{esc(caption)}</figcaption></figure>')
    return out


def figures(agg: Aggregate) -> dict[str, bytes]:
    """{caption: PNG}: the IQM intervals and the performance profiles."""
    from .plot_base import figure_png, new_figure  # matplotlib only when the figures are drawn

    if agg.iqm.empty:
        return {}
    fig = new_figure(9, 3.2 + 0.1 * len(agg.scores))
    a1, a2 = fig.subplots(1, 2)
    iqm = agg.iqm.iloc[::-1]
    a1.errorbar(iqm["iqm"], range(len(iqm)), xerr=[iqm["iqm"] - iqm["ci_low"], iqm["ci_high"] - iqm["iqm"]], fmt="o", capsize=3)
    a1.set_yticks(range(len(iqm)), iqm["recipe"], fontsize=7)
    a1.set_xlabel(f"IQM of normalised {agg.metric} (95% CI)", fontsize=8)
    for name, (share, low, high) in agg.profiles.items():
        (line,) = a2.plot(TAUS, share, label=name, lw=1.5)
        a2.fill_between(TAUS, low, high, color=line.get_color(), alpha=0.2, lw=0)
    a2.set_xlabel(f"normalised {agg.metric} τ (0 = noise, 1 = real data)", fontsize=8)
    a2.set_ylabel("share of runs with score > τ", fontsize=8)
    fig.legend(*a2.get_legend_handles_labels(), loc="outside right upper", fontsize=7)
    return {f"across data sets: IQM and performance profiles of {agg.metric}": figure_png(fig)}


def add_aggregate(report, metric: str = FID_DOMAIN, bounds=None, reps: int = REPS, registry: Registry | None = None) -> None:
    """Set report.aggregate (the page and the Markdown show it)."""
    report.aggregate = build(report, metric, bounds, reps, registry)
