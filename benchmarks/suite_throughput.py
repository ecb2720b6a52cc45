"""Wall time of one suite cell of N seeds: one run after another vs. N runs at once.

Trains the same cell (the 28x28 mnist5k DCGAN, width 16, batch 64, final evaluation) twice
in one invocation, on the same device: with `--jobs 1` (the in-process executor, one run
after another) and with `--jobs N` (N worker processes at once), each into a fresh
results folder, and prints both wall times, their ratio and the aggregate img/s. The wall
time is the user's: worker start-up, data loading and evaluation included. The mode
classifier is trained once before either timing starts (both would load it from the cache).

    python benchmarks/suite_throughput.py                      # CPU: 2 seeds, 1 thread each
    python benchmarks/suite_throughput.py --device cuda --seeds 16 --steps 2000

Targets (docs/results/README.md): on this 2-core CPU, --jobs 2 <= 0.65x the wall of --jobs 1;
on an H100, 16 seeds in <= 2x the wall of 1 seed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rich.console import Console


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    ap.add_argument("--seeds", type=int, default=2, help="runs in the cell (= --jobs N)")
    ap.add_argument("--steps", type=int, default=300, help="generator steps per run")
    ap.add_argument("--width", type=int, default=16, help="DCGAN ngf = ndf")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--samples", type=int, default=2000, help="final evaluation samples (0: no evaluation)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run (CPU)")
    ap.add_argument("--single", action="store_true", help="also time one seed alone (the GPU target compares N seeds with 1)")
    args = ap.parse_args()

    import torch

    from ganbench.build import Builder, device_name, resolve_devices
    from ganbench.plugins import load_registry
    from ganbench.runner import run_suite, warm_caches
    from ganbench.suite import expand

    registry = load_registry(no_plugins=True)
    devices = resolve_devices(args.device)
    base = {
        "dataset": "mnist5k",
        "architecture": {"name": "dcgan", "ngf": args.width, "ndf": args.width},
        "batch_size": args.batch_size,
        "steps": args.steps,
        "log_every": f"{max(1, args.steps // 10)} steps",
        "grid_every": "none",
        "eval": {"every": f"{args.steps} steps", "samples": args.samples} if args.samples else {"every": "none"},
    }

    def suite(n):
        return expand({"name": "throughput", "base": base, "seeds": n}, registry)

    warm_caches(suite(1).runs, Builder(registry), devices[0], Console(stderr=True))
    quiet = Console(quiet=True)

    def timed(n, executor, jobs):
        with tempfile.TemporaryDirectory() as root:
            t0 = time.perf_counter()
            outcome = run_suite(suite(n), registry, Path(root), devices, console=quiet, executor=executor, jobs=jobs, threads=args.threads)
            wall = time.perf_counter() - t0
            assert outcome.counts == {"complete": n}, outcome.counts
            ips = [json.loads(p.read_text())["metrics"]["train_img_per_s"] for p in Path(root).glob("throughput/*/run.json")]
        return wall, sum(ips)

    print(
        f"device: {device_name(devices[0])} ({', '.join(map(str, devices))}); torch {torch.__version__}; "
        f"{args.seeds} seeds x {args.steps} steps, DCGAN width {args.width}, batch {args.batch_size}, "
        f"{args.samples} eval samples, {args.threads} thread(s) per run"
    )
    rows = []
    if args.single:
        rows.append(("1 seed alone", *timed(1, "local", 1)))
    serial = timed(args.seeds, "local", 1)
    rows.append((f"{args.seeds} seeds, --jobs 1", *serial))
    parallel = timed(args.seeds, "process", args.seeds)
    rows.append((f"{args.seeds} seeds, --jobs {args.seeds}", *parallel))
    for label, wall, ips in rows:
        print(f"{label:24s} wall {wall:8.1f} s   sum of per-run train img/s {ips:10.0f}")
    print(f"--jobs {args.seeds} / --jobs 1 wall: {parallel[0] / serial[0]:.2f}x")
    if args.single:
        print(f"{args.seeds} seeds at once / 1 seed alone wall: {parallel[0] / rows[0][1]:.2f}x")


if __name__ == "__main__":
    main()
