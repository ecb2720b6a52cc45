"""Hand-made run folders with known numbers, for the report tests."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

ADAM = {"name": "adam", "lr": 0.0002, "betas": [0.5, 0.999]}
SGD = {"name": "sgd", "lr": 0.01, "momentum": 0.9}
BASE = {
    "dataset": {"name": "ring8"},
    "architecture": {"name": "mlp"},
    "loss": {"name": "vanilla"},
    "z_dim": 2,
    "batch_size": 64,
    "steps": 30,
}
ENV = {"ganbench": "0.1.0", "torch": "2.15.0+cpu", "torch_fidelity": "0.4.0", "device_name": "test cpu"}
PROTOCOL = {"samples": 1000, "real_samples": 1000, "real_split": "test", "features": "domain classifier"}

# Final fid_domain of the complete runs; the history reaches its best (2 lower) at step 20.
ADAM_FID, SGD_FID = [10.0, 12.0, 14.0], [20.0, 25.0, 27.0]
ADAM_IPS, SGD_IPS = [100.0, 110.0, 120.0], [200.0, 210.0, 220.0]


def write_run(
    root: Path,
    run_id: str,
    optimizer: dict,
    seed: int,
    status: str = "complete",
    fid: float | None = None,
    ips: float | None = None,
    protocol: dict | None = None,
    extra: dict | None = None,
    suite: str = "hand",
    notes=None,
) -> Path:
    d = root / suite / run_id
    d.mkdir(parents=True)
    metrics = {}
    if fid is not None:
        metrics["fid_domain"] = fid
    if ips is not None:
        metrics["train_img_per_s"] = ips
    metrics.update(extra or {})
    record = {
        "id": run_id,
        "suite": suite,
        "status": status,
        "seed": seed,
        "cell": {"optimizer": optimizer},
        "config": {**BASE, "optimizer": optimizer, "seed": seed},
        "metrics": metrics,
        "params_g": 10,
        "params_d": 10,
        "started": "",
        "finished": "",
        "env": ENV,
        "protocol": protocol if protocol is not None else PROTOCOL,
    }
    if notes:
        record["notes"] = notes
    if status == "diverged":
        record["diverged_at_step"] = 25
    if status == "failed":
        record["error"] = "RuntimeError: boom"
    (d / "run.json").write_text(json.dumps(record))
    if fid is not None:
        # steps 10, 20, 30 = epochs 1, 2, 3; fid_domain 30 -> fid-2 (best) -> fid (final)
        pd.DataFrame(
            {
                "step": [10, 20, 30],
                "epoch": [1.0, 2.0, 3.0],
                "wall_s": [1.0 + seed, 2.0 + seed, 3.0 + seed],
                "d_loss": [1.0, 0.9, 0.8],
                "g_loss": [0.7, 0.8, 0.9],
                "d_acc_real": [0.5, 0.6, 0.7],
                "d_acc_fake": [0.4, 0.5, 0.6],
                "fid_domain": [30.0, fid - 2, fid],
            }
        ).to_csv(d / "history.csv", index=False)
    return d


def hand_made(root: Path) -> Path:
    """adam: 3 complete + 1 diverged; sgd: 3 complete + 1 failed."""
    for s, (f, i) in enumerate(zip(ADAM_FID, ADAM_IPS)):
        write_run(
            root,
            f"adam_s{s}",
            ADAM,
            s,
            fid=f,
            ips=i,
            extra={"kid_domain": 0.01 * (s + 1)},
            notes=["Inception metrics absent: weights not available offline"],
        )
    write_run(root, "adam_s3", ADAM, 3, status="diverged", fid=999.0, ips=1.0)
    for s, (f, i) in enumerate(zip(SGD_FID, SGD_IPS)):
        write_run(root, f"sgd_s{s}", SGD, s, fid=f, ips=i)
    write_run(root, "sgd_s3", SGD, 3, status="failed")
    return root


def write_cell_run(
    root: Path,
    run_id: str,
    cell: dict,
    seed: int,
    metrics: dict,
    status: str = "complete",
    protocol: dict | None = None,
    suite: str = "hand",
    history: dict | None = None,
    diverged_at_step: int | None = None,
) -> Path:
    """A run of the cell `cell` (matrix values over BASE) with the given final metrics and history columns."""
    d = root / suite / run_id
    d.mkdir(parents=True)
    record = {
        "id": run_id,
        "suite": suite,
        "status": status,
        "seed": seed,
        "cell": cell,
        "config": {**BASE, "optimizer": ADAM, **cell, "seed": seed},
        "metrics": metrics,
        "params_g": 10,
        "params_d": 10,
        "env": ENV,
        "protocol": protocol if protocol is not None else PROTOCOL,
    }
    if status == "diverged":
        record["diverged_at_step"] = diverged_at_step
    (d / "run.json").write_text(json.dumps(record))
    if status != "failed":  # a finished run has a history (store.read_run)
        pd.DataFrame(history or {"step": [10], "epoch": [1.0]}).to_csv(d / "history.csv", index=False)
    return d
