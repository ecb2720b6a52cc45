"""Pins of the training engine's numbers: one digest per configuration.

Each configuration trains a tiny run on the CPU with one thread, exactly as a worker does
(evaluator built before seeding, models from the run's seed, callbacks from the config),
and is digested: the history and final metrics without their timing columns, the status,
the records callbacks add, and every tensor of G's and D's state (and G_ema's). The digests
in ``engine_pins.json`` were recorded with the training loop as it stood before it was
split into units (commit 1a1c521), so the test that compares them (test_engine_pins.py)
says that the engine still computes bitwise what it computed then.

Floating-point results on the CPU depend on torch's version and the CPU's instruction
set, so the file records the environment it was made in; the test compares only in that
environment and, elsewhere, checks the digests are at least reproducible run to run.

    python tests/engine_pins.py            # record engine_pins.json (one thread, ~1 min)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import platform
import shutil
import sys
import tempfile
from pathlib import Path

import torch

PINS_FILE = Path(__file__).with_name("engine_pins.json")
TIMING = {"train_img_per_s", "train_s", "wall_s", "d_pretrain_s", "d_step_ms", "g_step_ms", "peak_mem_mb", "eval_s", "time_to_fid_domain_s"}

LOSSES = ("vanilla", "lsgan", "wgan", "wgan-gp", "hinge")
FREEZE = ("none", "trunk", "all")
N_DISC = (1, 2)
PRETRAIN = {"none": "none", "steps": {"steps": 2}, "from_run": "DONOR", "classifier": {"classifier": True, "steps": 2}}

# 64 tiny 16x16 images (48 for training: 3 batches of 16), a 4-wide DCGAN: 5 steps cross an
# epoch boundary at n_disc 1 and 2, so lr_decay, the data reshuffle and the epoch-end
# scheduler step are all exercised.
BASE = {
    "architecture": {"name": "dcgan", "ngf": 4, "ndf": 4},
    "batch_size": 16,
    "z_dim": 8,
    "steps": 5,
    "lr_decay": 0.9,
    "optimizer": {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.999]},
    "log_every": "2 steps",
    "grid_every": "none",
    "eval": {"every": "none"},
}


def configs() -> dict[str, dict]:
    """name -> run-config layer (over BASE). The cross product of every built-in loss,
    freeze_d, n_disc and d_pretrain kind, then single settings worth pinning on their own."""
    out: dict[str, dict] = {}
    for loss, freeze, n_disc, pre in itertools.product(LOSSES, FREEZE, N_DISC, PRETRAIN):
        out[f"{loss}-freeze_{freeze}-ndisc{n_disc}-pre_{pre}"] = {
            "loss": loss,
            "freeze_d": freeze,
            "n_disc": n_disc,
            "d_pretrain": PRETRAIN[pre],
        }
    out["vanilla-ema"] = {"callbacks": [{"name": "ema", "decay": 0.9}]}
    out["wgan-gp-ema-start"] = {"loss": "wgan-gp", "callbacks": [{"name": "ema", "decay": 0.8, "start": 2}]}
    out["vanilla-fresh-fake"] = {"g_step_fresh_fake": True}
    out["hinge-bf16"] = {"loss": "hinge", "precision": "bf16"}
    out["lsgan-sgd"] = {"loss": "lsgan", "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9}}
    out["vanilla-eval-ema-best"] = {
        "callbacks": [{"name": "ema", "decay": 0.9}],
        "steps": 6,
        "grid_every": "3 steps",
        "eval": {"every": "3 steps", "samples": 200, "curve_samples": 100},
        "keep_best": "fid_domain",
    }
    out["mlp-ring8-eval"] = {
        "dataset": {"name": "ring8", "n_train": 256, "n_test": 200},
        "architecture": {"name": "mlp", "g_hidden": [16, 16], "d_hidden": [16]},
        "steps": 12,
        "log_every": "3 steps",
        "eval": {"every": "6 steps", "samples": 200},
    }
    return out


RESUMED = ("vanilla-eval-ema-best", "wgan-gp-freeze_trunk-ndisc2-pre_classifier")  # also pinned resumed from a checkpoint


def environment() -> dict:
    flags = ""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        pass
    isa = sorted({f for f in flags.split() if f.startswith(("avx", "amx", "fma", "sse4"))})
    return {"torch": torch.__version__, "machine": platform.machine(), "isa": isa, "threads": 1}


def registry_and_data():
    from ganbench.plugins import Entry
    from ganbench.testing import SMOKE_DATASET, make_registry, tiny_data

    registry = make_registry()
    data = tiny_data("image", n=64, shape=(1, 16, 16))
    registry.entries["dataset"][SMOKE_DATASET] = Entry(SMOKE_DATASET, "dataset", lambda: data, "tests", "tests", "")
    return registry, SMOKE_DATASET


def train_one(layer: dict, out_dir: Path, donor: Path | None = None, stop_at: int | None = None, resume: bool = False):
    """Train one pinned configuration into out_dir; (TrainResult, models, callbacks, cfg).

    stop_at: raise KeyboardInterrupt after that step (a run killed after a checkpoint)."""
    from ganbench import metrics
    from ganbench.build import Builder, seed_everything
    from ganbench.callbacks import make_callbacks
    from ganbench.config import resolve
    from ganbench.engine import train

    registry, name = registry_and_data()
    layer = {"dataset": name, **BASE, **layer}
    if layer.get("d_pretrain") == "DONOR":
        layer["d_pretrain"] = {"from_run": str(donor)}
    cfg = resolve([("pins", layer)], registry)
    builder = Builder(registry)
    data = builder.data(cfg["dataset"])
    evaluator = metrics.make_evaluator(cfg, data, torch.device("cpu"), registry) if cfg["eval"]["every"] != "none" else None
    seed_everything(cfg["seed"])
    models = builder.models(cfg, data)
    loss = builder.loss(cfg)
    callbacks = make_callbacks(cfg.get("callbacks", []), registry)

    def on_step(step, total, row):
        if stop_at is not None and step == stop_at:
            raise KeyboardInterrupt

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "grids").mkdir(exist_ok=True)
    result = train(
        cfg,
        data,
        models,
        loss,
        torch.device("cpu"),
        out_dir,
        on_step,
        evaluator,
        donor=Path(donor) if donor else None,
        resume=resume,
        callbacks=callbacks,
    )
    return result, models, callbacks, cfg


def _tensor_digest(h, state: dict) -> None:
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")


def _clean(value):
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def digest(result, models, callbacks, out_dir: Path) -> str:
    h = hashlib.sha256()
    history = [{k: _clean(v) for k, v in row.items() if k not in TIMING} for row in result.history]
    metrics = {k: _clean(v) for k, v in result.metrics.items() if k not in TIMING}
    best = dict(result.best or {})
    summary = {
        "status": result.status,
        "diverged_at_step": result.diverged_at_step,
        "history": history,
        "metrics": metrics,
        "best": best,
        "record": result.record,
    }
    h.update(json.dumps(summary, sort_keys=True, default=repr).encode())
    _tensor_digest(h, models.generator.state_dict())
    _tensor_digest(h, models.discriminator.state_dict())
    ema = out_dir / "G_ema.pt"
    if ema.is_file():
        _tensor_digest(h, torch.load(ema, weights_only=True))
    best_file = out_dir / "best.pt"
    if best_file.is_file():
        _tensor_digest(h, torch.load(best_file, weights_only=True)["G"])
    return h.hexdigest()


def donor_run(root: Path, layer: dict) -> Path:
    """A finished run's folder with a D.pt (d_pretrain.from_run's donor), of the loss's D
    (WGAN-GP's critic has layer norm)."""
    from ganbench.store import D_WEIGHTS, save_weights

    loss = layer.get("loss", "vanilla")
    donor = root / f"donor-{loss}"
    if not (donor / D_WEIGHTS).is_file():
        result, models, _, _ = train_one({"loss": loss, "seed": 7}, donor)
        save_weights(models.discriminator.state_dict(), donor / D_WEIGHTS)
    return donor


def pin(name: str, layer: dict, root: Path) -> str:
    out = root / name
    result, models, callbacks, _ = train_one(layer, out, donor_run(root, layer))
    return digest(result, models, callbacks, out)


def pin_resumed(name: str, layer: dict, root: Path) -> str:
    """Killed after its checkpoint at step 2, then resumed: the digest of the whole run."""
    out = root / f"{name}-resumed"
    layer = {**layer, "checkpoint_every": "2 steps"}
    try:
        train_one(layer, out, donor_run(root, layer), stop_at=3)
    except KeyboardInterrupt:
        pass
    for leftover in ("G_ema.pt",):
        (out / leftover).unlink(missing_ok=True)
    result, models, callbacks, _ = train_one(layer, out, donor_run(root, layer), resume=True)
    return digest(result, models, callbacks, out)


def record() -> dict:
    torch.set_num_threads(1)
    pins: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, layer in configs().items():
            pins[name] = pin(name, layer, root)
        for name in RESUMED:
            pins[f"{name}@resumed"] = pin_resumed(name, configs()[name], root)
        shutil.rmtree(root, ignore_errors=True)
    return {"environment": environment(), "recorded_at": "1a1c521", "pins": pins}


if __name__ == "__main__":
    import os

    os.environ.setdefault("GANBENCH_CACHE", tempfile.mkdtemp(prefix="ganbench-pins-cache-"))
    os.environ["GANBENCH_PLUGINS"] = ""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    out = record()
    PINS_FILE.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"{len(out['pins'])} pins written to {PINS_FILE}")
