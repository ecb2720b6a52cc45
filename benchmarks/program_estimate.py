"""The article-scale program's GPU time, estimated from measured packed throughput.

For every shipped suite at its articles' scale (`--profile none`), each cell (the seeds of
one matrix point, one pack under `pack: auto` on CUDA) is probed: the cell's own config
trained for a few steps as one pack, with a final evaluation on fewer samples. The probe's
step time and evaluation time then scale to the cell's full length: its steps, its D
pretraining steps (at half a step each: D alone), and its evaluations (their time taken as
proportional to their sample counts). Cells that cost the same per step (same data shape,
model, batch, loss, precision, freezing, seeds) share one probe. Packs are assumed to run
one after another (`--jobs 1`); several at once can only be faster.

Where a suite's data is not on the machine (Fashion-MNIST's Debian files), the probe trains
on mnist5k at the same image size (the same model cost per image) and the step counts use
Fashion-MNIST's 60,000 training images (or the suite's subset): a note says so.

    python benchmarks/program_estimate.py --device cuda --markdown gpu_check.md
    python benchmarks/program_estimate.py --device cpu --tiny      # the code path, on tiny sizes
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUITES = (
    "optimizers",
    "optimizers-bs16",
    "d-donor",
    "pretraining",
    "lr_ratio",
    "losses",
    "mode_collapse",
    "augmentation",
    "tabular",
    "precision",
)
FASHION_TRAIN = 60_000
FASHION_FILES = Path("/usr/share/datasets/fashion-mnist")


def _without_donors(node):
    """A suite with every `d_pretrain: {from_run: ...}` replaced by `none`: loading a donor's
    weights costs nothing measurable, and the article-scale donor may not exist yet."""
    if isinstance(node, dict):
        if isinstance(node.get("d_pretrain"), dict) and "from_run" in node["d_pretrain"]:
            node = {**node, "d_pretrain": "none"}
        return {k: _without_donors(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_without_donors(v) for v in node]
    return node


def _n_train(spec: dict, data_here: bool, builder) -> int:
    if spec["name"] == "fashion-mnist" and not data_here:
        return spec.get("subset") or FASHION_TRAIN
    return len(builder.data(spec).train)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--suites", default=",".join(SUITES))
    ap.add_argument("--probe-steps", type=int, default=100)
    ap.add_argument("--probe-samples", type=int, default=2000, help="final evaluation samples of a probe (scaled to the cell's)")
    ap.add_argument("--tiny", action="store_true", help="the code path on tiny sizes (CPU check): 3 probe steps, 100 samples, width 8")
    ap.add_argument("--markdown", help="append the estimate as a Markdown table to this file")
    args = ap.parse_args(argv)
    if args.tiny:
        args.probe_steps, args.probe_samples = 3, 100

    import torch
    from rich.console import Console

    from ganbench import yamlsafe
    from ganbench.build import Builder, device_name, resolve_devices
    from ganbench.plugins import load_registry
    from ganbench.runner import run_suite
    from ganbench.schedule import every, steps_per_epoch, total_steps
    from ganbench.suite import expand

    registry = load_registry(no_plugins=True)
    builder = Builder(registry)
    device = resolve_devices(args.device)[0]
    data_here = (FASHION_FILES / "train-images-idx3-ubyte.gz").is_file()
    quiet = Console(quiet=True)
    probes: dict[str, tuple[float, float, int]] = {}  # key -> (seconds per step, seconds per eval sample, seeds)
    rows, notes = [], []
    if not data_here:
        notes.append(
            f"Fashion-MNIST is not on this machine: probes train on mnist5k at the same image size; steps counted on {FASHION_TRAIN:,} images"
        )

    for name in args.suites.split(","):
        raw = _without_donors(yamlsafe.load((REPO / "suites" / f"{name}.yaml").read_text()))
        suite = expand(raw, registry, profile="none")
        if device.type == "cpu":  # fp16 needs CUDA: its cells are left out of a CPU check
            suite.runs = [r for r in suite.runs if r.config.get("precision") != "fp16"]
        cells: dict[str, list] = {}
        for run in suite.runs:
            cells.setdefault(json.dumps({k: v for k, v in run.config.items() if k != "seed"}, sort_keys=True, default=str), []).append(run)
        t0, seconds = time.perf_counter(), 0.0
        for runs in cells.values():
            cfg = runs[0].config
            n_train = _n_train(cfg["dataset"], data_here, builder)
            per_epoch = steps_per_epoch(n_train, cfg)
            steps = total_steps(n_train, cfg)
            ev = cfg["eval"]
            dname = cfg["dataset"]["name"]
            kind = "points" if dname in ("ring8", "grid25") else ("tabular" if dname in ("sklearn-table", "tabular-csv") else "image")
            final = ev["samples"] or {"image": 10_000, "points": 2_500}.get(kind, 2_000)
            curve = min(final, ev["curve_samples"] or {"image": 2_000, "points": 2_500}.get(kind, 2_000))
            n_evals = 0 if ev["every"] == "none" else math.ceil(steps / every(ev["every"], per_epoch))
            pre = cfg["d_pretrain"]
            pre_steps = pre.get("steps", 0) if isinstance(pre, dict) else 0
            key = json.dumps(
                [
                    cfg["dataset"],
                    cfg["architecture"],
                    cfg["batch_size"],
                    cfg["n_disc"],
                    cfg["loss"],
                    cfg["precision"],
                    cfg["freeze_d"],
                    len(runs),
                    bool(n_evals),
                ],
                sort_keys=True,
                default=str,
            )
            if key not in probes:
                probes[key] = _probe(cfg, runs, args, data_here, device, registry, quiet, run_suite, expand, n_evals > 0)
            step_s, eval_s_per_sample, _ = probes[key]
            evals_s = eval_s_per_sample * ((n_evals - 1) * curve + final) if n_evals else 0.0
            seconds += steps * step_s + pre_steps * step_s / 2 * len(runs) + evals_s  # D pretraining: each seed alone, before packing
        rows.append(
            {"suite": name, "runs": len(suite.runs), "packs": len(cells), "minutes": seconds / 60, "probe_s": time.perf_counter() - t0}
        )
        print(
            f"{name:16s} {len(suite.runs):4d} runs in {len(cells):3d} packs   est. {seconds / 60:6.1f} GPU-min (probed in {rows[-1]['probe_s']:.0f} s)"
        )
    total = sum(r["minutes"] for r in rows)
    header = (
        f"device: {device_name(device)}; torch {torch.__version__}; {args.probe_steps}-step probes, {args.probe_samples}-sample evaluations"
    )
    print(f"all: {sum(r['runs'] for r in rows)} runs, est. {total:.1f} GPU-minutes, packs one after another ({header})")
    for note in notes:
        print(f"note: {note}")
    if args.markdown:
        lines = ["| suite | runs | packs | est. GPU-min |", "|---|---|---|---|"]
        lines += [f"| {r['suite']} | {r['runs']} | {r['packs']} | {r['minutes']:.1f} |" for r in rows]
        lines.append(f"| all | {sum(r['runs'] for r in rows)} | {sum(r['packs'] for r in rows)} | **{total:.1f}** |")
        with open(args.markdown, "a") as f:
            f.write(f"\n**program_estimate** ({header})\n\n" + "\n".join(lines) + "\n" + "".join(f"\n{n}\n" for n in notes))
    return {"rows": rows, "total_minutes": total, "notes": notes}


def _probe(cfg, runs, args, data_here, device, registry, quiet, run_suite, expand, evaluated) -> tuple[float, float, int]:
    """(seconds per step of the pack, evaluation seconds per sample of one seed, seeds)."""
    layer = copy.deepcopy({k: v for k, v in cfg.items() if k != "seed"})
    if layer["dataset"]["name"] == "fashion-mnist" and not data_here:
        layer["dataset"] = {"name": "mnist5k", **{k: v for k, v in layer["dataset"].items() if k in ("image_size", "channels")}}
    if args.tiny and layer["architecture"]["name"] == "dcgan":
        layer["architecture"] = {**layer["architecture"], "ngf": 8, "ndf": 8}
    layer.pop("epochs", None)
    metrics = {} if args.tiny else layer["eval"].get("metrics", {})  # utility metrics (CAS, augmentation) are the probe's too
    layer.update(
        steps=args.probe_steps,
        d_pretrain="none",
        log_every=f"{args.probe_steps} steps",
        grid_every="none",
        checkpoint_every="none",
        keep_best="none",
        eval={"every": f"{args.probe_steps} steps", "samples": args.probe_samples, "metrics": metrics} if evaluated else {"every": "none"},
    )
    suite = expand({"name": "probe", "base": layer, "seeds": [r.seed for r in runs]}, registry)
    with tempfile.TemporaryDirectory() as root:
        outcome = run_suite(suite, registry, Path(root), [device], console=quiet)
        records = [json.loads(p.read_text()) for p in Path(root).glob("probe/*/run.json")]
    if outcome.counts.get("complete", 0) + outcome.counts.get("diverged", 0) != len(runs):
        errors = {r.get("error") for r in records if r.get("error")}
        raise RuntimeError(f"a probe of {cfg['dataset']['name']} / {cfg['architecture']['name']} failed: {errors}")
    m = records[0]["metrics"]
    step_s = cfg["batch_size"] * cfg["n_disc"] / m["train_img_per_s"]  # the pack's step: each seed's own img/s
    eval_s = sum((r["metrics"].get("eval_s") or 0.0) for r in records) / args.probe_samples if evaluated else 0.0
    return step_s, eval_s, len(runs)


if __name__ == "__main__":
    main()
