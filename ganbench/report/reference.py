"""`ganbench report --reference`: what a perfect sampler scores, as a row of every table.

A perfect sampler draws from the data distribution itself, so the reference row is real
data held out from the evaluator's real side, scored by the same evaluator (same sample
count, real side, classifier and metrics) as the runs of each dataset and evaluation
setting in the report. It is the floor a reader should read every number against: FID of
two real samples is not 0 at these sample counts, a perfect sampler of a dataset whose
classes are unbalanced has mode_kl > 0 against uniform, and real Fashion-MNIST is only
about half `confident`.

Held-out real data per data kind:
- images: training images when the real side is the test split (the default), else the
  test split (or the training images outside the real side when there is none);
- 2-D points: the test split (the metrics compare with the known centres);
- tables: training rows (the tabular-quality plugin compares with the test split).

The row is measured now, under the current code: when the runs' protocol differs (an
older classifier, say), the report says in which fields.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pandas as pd

from ..store import COMPLETE, DIVERGED, FAILED
from .load import PROTOCOL_ENV

if TYPE_CHECKING:
    from ..plugins import Registry

LABEL = "reference (held-out real data)"
DRAW_SEED = 12_345  # which held-out samples: fixed, so the row is the same at every report


def held_out(evaluator):
    """(samples in the data's native format, one line saying what they are)."""
    import torch

    data, n = evaluator.data, evaluator.samples
    labels = None
    if data.kind == "image":
        if evaluator.protocol.get("real_split") == "test":
            pool, labels, what = data.train, data.train_labels, "training images"
        elif data.test is not None:
            pool, labels, what = data.test, data.test_labels, "test images"
        else:  # the real side is a random subset of training images: take the others
            used = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(0))[: evaluator.protocol["real_samples"]]
            keep = torch.ones(len(data.train), dtype=torch.bool)
            keep[used] = False
            pool, what = data.train[keep], "training images outside the real side"
            labels = data.train_labels[keep] if data.train_labels is not None else None
    elif data.kind == "points":
        pool, what = (data.test, "test points") if data.test is not None else (data.train, "training points")
    else:
        pool, what = data.train, "training rows"
    gen = torch.Generator().manual_seed(DRAW_SEED)
    if n <= len(pool):
        idx, how = torch.randperm(len(pool), generator=gen)[:n], "without"
    else:
        idx, how = torch.randint(len(pool), (n,), generator=gen), "with"
    if evaluator.context.conditional and labels is not None:  # a perfect conditional sampler: each image is of the class it stands for
        evaluator.context.labels = labels[idx]
    return pool[idx], f"{n} {what} drawn {how} replacement"


def uniform_noise(evaluator):
    """(samples, what they are) of the worst sampler the aggregates normalise against: uniform
    pixels for images; uniform over the training data's bounding box for points and rows."""
    import torch

    data, n = evaluator.data, evaluator.samples
    gen = torch.Generator().manual_seed(DRAW_SEED + 1)
    shape = tuple(data.train.shape[1:])
    if data.kind == "image":
        return torch.randint(0, 256, (n, *shape), generator=gen, dtype=torch.uint8), f"{n} images of uniform noise"
    lo, hi = data.train.min(0).values, data.train.max(0).values
    return lo + (hi - lo) * torch.rand(n, *shape, generator=gen), f"{n} uniform samples over the training data's bounding box"


def measure_noise(config: dict, registry: Registry):
    """measure() of uniform noise (uniform_noise) instead of held-out real data."""
    return measure(config, registry, uniform_noise)


def measure(config: dict, registry: Registry, draw=held_out):
    """(metrics, protocol, what was drawn, notes) of a perfect sampler under a run's config,
    its data and evaluation built by `registry` (the plugins the caller runs with)."""
    import torch

    from ..build import Builder
    from ..metrics import make_evaluator

    builder = Builder(registry)
    data = builder.data(config["dataset"])
    evaluator = make_evaluator(config, data, torch.device("cpu"), registry)
    x, what = draw(evaluator)
    with torch.random.fork_rng(devices=[]):
        values = evaluator.score(x, final=True)
    return values, evaluator.protocol, what, evaluator.notes


def _protocol_now(protocol: dict) -> dict:
    import torch
    import torch_fidelity

    from ..version import __version__

    versions = {"ganbench": __version__, "torch": torch.__version__, "torch_fidelity": torch_fidelity.__version__}
    return {**protocol, **{k: str(versions[k]).split("+")[0] for k in PROTOCOL_ENV}}


def reference_rows(report, registry: Registry) -> tuple[pd.DataFrame, list[str]]:
    """One reference row per dataset and evaluation setting of the report's measured runs
    (columns as report.cells, `reference` True), and notes for the report."""
    groups: dict[str, list] = {}
    for r in report.runs:
        if r.status in (COMPLETE, DIVERGED) and r.config.get("eval", {}).get("every") != "none":
            key = json.dumps([r.config.get("dataset"), r.config.get("eval")], sort_keys=True, default=str)
            groups.setdefault(key, []).append(r)
    rows, notes = [], []
    for members in groups.values():
        values, protocol, what, _ = measure(members[0].config, registry)
        ids = {r.id for r in members}
        cells = report.frame.loc[report.frame["id"].isin(ids), "cell"].unique()
        mine = report.cells[report.cells["cell"].isin(cells)]
        row: dict = {"cell": "reference", "label": LABEL, "reference": True, "suite": ",".join(sorted(mine["suite"].unique()))}
        for a in report.axes:  # an axis all these cells share keeps its value (dataset=ring8)
            col = f"axis:{a}"
            if col in mine:
                shared = mine[col].unique()
                row[col] = shared[0] if len(shared) == 1 else "reference"
        row.update({"protocol": "current", "runs": 1, COMPLETE: 1, DIVERGED: 0, FAILED: 0, "outcomes": 1, "seeds": ""})
        for key, value in values.items():
            for col in {key, report.shown.get(key, key)}:
                row.update({f"{col}.mean": value, f"{col}.n": 1})
        rows.append(row)
        differ = sorted(k for k in set(protocol) | set(members[0].protocol) if _protocol_now(protocol).get(k) != members[0].protocol.get(k))
        dataset = members[0].config["dataset"]["name"]
        text = f"reference row ({dataset}): a perfect sampler, {what}, scored now by the same evaluation"
        if differ:
            text += f"; the runs were measured under another protocol (differs in {', '.join(differ[:6])}): read them against it with care"
        notes.append(text)
    return pd.DataFrame(rows), notes


def add_reference(report, registry: Registry) -> None:
    """Append the reference rows to report.cells (the tables show them last) and their notes."""
    rows, notes = reference_rows(report, registry)
    if rows.empty:
        report.notes.append("reference row: no measured run with an evaluation to take its protocol from")
        return
    cells = report.cells.assign(reference=False)
    report.cells = pd.concat([cells, rows], ignore_index=True)
    report.notes.extend(notes)
