"""`ganbench eval`: score generators without training them.

``rescore_run`` re-scores a finished run from its saved G with today's evaluator and the
run's own evaluation noise, so a run scored under the protocol it was trained with gets
exactly its final metrics back; scored under another protocol (more samples, Inception
weights that were missing then), its new numbers replace the old ones in run.json and
the old ones are kept under ``earlier`` with their protocol: never overwritten silently.

``score_images`` scores a folder of images (from any framework) against a dataset's real
split with the same metrics, so ganbench can compare generators it did not train.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from . import keys
from .build import Builder, stored_config
from .config import ConfigError
from .metrics import make_evaluator
from .speed import ieee_fp32
from .store import FINISHED, G_WEIGHTS, RUN_FILE, WeightsError, fit_weights, load_weights, now, write_json


class RescoreError(Exception):
    """A run or folder that cannot be scored; the message is one line."""


def eval_options(cfg: dict, samples: int | None, inception: str | None, weights: str | None) -> dict:
    """The run's config with the evaluation options the command line overrides."""
    ev = dict(cfg["eval"])
    if samples is not None:
        ev["samples"] = samples
    if inception is not None:
        ev["inception"] = "on" if inception == "require" else inception
    if weights is not None:
        ev["inception_weights"] = weights
        ev["inception"] = "on" if inception is None else ev["inception"]
    return {**cfg, "eval": ev}


def rescore_run(run_dir: Path, builder: Builder, device: torch.device, samples=None, inception=None, weights=None) -> dict:
    """Score run_dir's G again and update its run.json; returns {changed, metrics, earlier}."""
    run_dir = Path(run_dir)
    try:
        record = json.loads((run_dir / RUN_FILE).read_text())
        cfg = record["config"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RescoreError(f"{run_dir}: not a readable run folder ({type(e).__name__})") from None
    if record.get("status") not in FINISHED:
        raise RescoreError(f"{run_dir}: a {record.get('status')} run has no generator to score")
    if not (run_dir / G_WEIGHTS).exists():
        raise RescoreError(f"{run_dir}: no {G_WEIGHTS} (weights are not committed); re-create it with `ganbench run SUITE --rerun`")
    try:
        cfg = eval_options(stored_config(cfg, builder.registry), samples, inception, weights)
    except ConfigError as e:
        raise RescoreError(f"{run_dir / RUN_FILE}: its config is not valid ({e})") from None
    try:
        data = builder.data(cfg["dataset"])
        with torch.random.fork_rng(devices=[]):
            G = builder.models(cfg, data).generator
        weights = run_dir / str(record.get("generator_file", G_WEIGHTS))  # e.g. G_ema.pt: the scored G
        fit_weights(G, load_weights(weights), weights)
        with ieee_fp32():  # as in training runs: scores never in TF32 (docs/metrics.md, Speed settings)
            evaluator = make_evaluator(cfg, data, device, builder.registry)
            scores = evaluator(G.to(device), evaluator.total_steps)  # the last step: the final protocol
    except WeightsError as e:
        raise RescoreError(str(e)) from None
    except Exception as e:
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise RescoreError(f"{run_dir}: cannot score: {type(e).__name__}: {text}"[:400]) from None
    # The sample metrics: the built-in families' keys and those the run's metric plugins declare.
    sample_keys = set(keys.SAMPLE_KEYS) | evaluator.result_keys()
    new = {k: (float(v) if math.isfinite(float(v)) else None) for k, v in scores.items() if k in sample_keys}
    old = {k: v for k, v in record["metrics"].items() if k in sample_keys}
    protocol = dict(evaluator.protocol)
    changed = protocol != record.get("protocol") or new != old
    if protocol != record.get("protocol"):
        record.setdefault("earlier", []).append(
            {"protocol": record.get("protocol"), "metrics": old, "notes": record.get("notes", []), "until": now()}
        )
        record["metrics"] = {k: v for k, v in record["metrics"].items() if k not in sample_keys}
        record["protocol"], record["notes"] = protocol, list(evaluator.notes)
    record["metrics"].update(new)
    # A metric that failed in training and is measured now is no longer missing; one that
    # fails now is recorded so (the others' new numbers are kept).
    failed = {name: why for name, why in (record.get("metric_failures") or {}).items() if name not in evaluator.metrics}
    failed.update(evaluator.failed)
    if failed:
        record["metric_failures"] = failed
    else:
        record.pop("metric_failures", None)
    record["rescored"] = now()
    write_json(run_dir / RUN_FILE, record)
    return {"changed": changed, "metrics": new, "before": old, "failed": dict(evaluator.failed)}


def load_images(folder: Path, shape: tuple[int, ...]) -> torch.Tensor:
    """Every image under `folder` as uint8 (N, C, H, W), resized and centre-cropped to `shape`."""
    from PIL import Image
    from torchvision.transforms import functional as TF

    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".webp"))
    if not files:
        raise RescoreError(f"{folder}: no images (.png, .jpg, .jpeg, .bmp, .webp) found")
    c, h, w = shape
    out = []
    for f in files:
        try:
            with Image.open(f) as im:
                img = TF.pil_to_tensor(im.convert("L" if c == 1 else "RGB"))  # (C, H', W') uint8
        except OSError as e:
            raise RescoreError(f"{f}: not a readable image ({e})") from None
        img = TF.center_crop(TF.resize(img, min(h, w), antialias=True), [h, w])
        out.append(img)
    return torch.stack(out)


def score_images(folder: Path, dataset: dict, builder: Builder, device: torch.device, registry, inception=None, weights=None) -> dict:
    """The metrics of a folder of images against `dataset`'s real split (its final protocol)."""
    from .config import resolve

    cfg = resolve([("--dataset", {"dataset": dataset, "architecture": "mlp", "eval": {"every": "1 step"}})], registry)
    data = builder.data(cfg["dataset"])
    if data.kind != "image":
        raise RescoreError(f"dataset {dataset['name']} is not images")
    x = load_images(folder, tuple(data.train.shape[1:]))
    cfg = eval_options(cfg, len(x), inception, weights)
    with ieee_fp32():  # as in training runs: scores never in TF32
        evaluator = make_evaluator(cfg, data, device, registry)
        with torch.random.fork_rng(devices=[]):
            scores = evaluator.score(x)
    return {"metrics": {k: float(v) for k, v in scores.items()}, "protocol": evaluator.protocol, "notes": evaluator.notes, "images": len(x)}
