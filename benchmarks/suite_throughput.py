"""Wall time of one suite cell of N seeds, trained four ways on one device.

The cell is the 28x28 mnist5k DCGAN (width 16, batch 64, a final evaluation). Each mode
trains it into a fresh results folder through `ganbench.runner.run_suite`, so the wall time
is the user's: worker start-up, data loading and evaluation included. The mode classifier
is trained once before any timing starts (every mode loads it from the cache).

- `sequential`: one run after another in this process (`--jobs 1`, `pack: none`);
- `jobs`: N worker processes at once (`--jobs N`, `pack: none`);
- `packed`: the N seeds as one stacked model in this process (`pack: N`, ganbench.engine.packed);
- `packed-jobs`: J worker processes of N/J packed seeds each (`--jobs J`, `pack: N/J`).

    python benchmarks/suite_throughput.py                                   # CPU: 2 seeds, 1 thread each
    python benchmarks/suite_throughput.py --device cuda --seeds 16 --steps 2000 --single
    python benchmarks/suite_throughput.py --markdown out.md ...             # also a Markdown table

Targets (docs/results/README.md): on an H100/H200, 16 seeds packed in <= 1.5x the wall of
one seed alone (2.4x with 16 processes when first measured); on the CPU, `pack: auto`
(which does not pack there) never slower than before.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rich.console import Console

MODES = ("sequential", "jobs", "packed", "packed-jobs")


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    ap.add_argument("--seeds", type=int, default=2, help="runs in the cell")
    ap.add_argument("--steps", type=int, default=300, help="generator steps per run")
    ap.add_argument("--width", type=int, default=16, help="DCGAN ngf = ndf")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--samples", type=int, default=2000, help="final evaluation samples (0: no evaluation)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run (CPU)")
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    ap.add_argument("--pack-jobs", type=int, default=4, help="J of packed-jobs (worker processes)")
    ap.add_argument("--single", action="store_true", help="also time one seed alone (the GPU target compares N seeds with 1)")
    ap.add_argument("--markdown", help="append the figures as a Markdown table to this file")
    ap.add_argument(
        "--extrapolate",
        type=int,
        help="sequential: also give the wall of this many seeds (the measured wall x M/N: runs one after another add up)",
    )
    args = ap.parse_args(argv)

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

    def suite(n, pack):
        return expand({"name": "throughput", "base": {**base, "pack": pack}, "seeds": n}, registry)

    warm_caches(suite(1, "none").runs, Builder(registry), devices[0], Console(stderr=True))
    quiet = Console(quiet=True)

    def timed(n, executor, jobs, pack):
        with tempfile.TemporaryDirectory() as root:
            t0 = time.perf_counter()
            outcome = run_suite(
                suite(n, pack), registry, Path(root), devices, console=quiet, executor=executor, jobs=jobs, threads=args.threads
            )
            wall = time.perf_counter() - t0
            assert outcome.counts == {"complete": n}, outcome.counts
            records = [json.loads(p.read_text()) for p in Path(root).glob("throughput/*/run.json")]
        packed = {r["env"]["speed"].get("pack", 1) for r in records}
        images = sum(r["metrics"]["steps"] for r in records) * args.batch_size  # D's real batches (n_disc 1)
        return wall, images / wall, max(packed)

    n, j = args.seeds, max(1, min(args.pack_jobs, args.seeds))
    plans = {
        "sequential": (f"{n} seeds, --jobs 1", "local", 1, "none"),
        "jobs": (f"{n} seeds, --jobs {n}", "process", n, "none"),
        "packed": (f"{n} seeds, pack {n}", "local", 1, n),
        "packed-jobs": (f"{n} seeds, --jobs {j} x pack {-(-n // j)}", "process", j, -(-n // j)),
    }
    header = (
        f"device: {device_name(devices[0])} ({', '.join(map(str, devices))}); torch {torch.__version__}; "
        f"{n} seeds x {args.steps} steps, DCGAN width {args.width}, batch {args.batch_size}, "
        f"{args.samples} eval samples, {args.threads} thread(s) per run"
    )
    print(header)
    rows = []
    if args.single:
        rows.append({"mode": "1 seed alone", **dict(zip(("wall_s", "img_per_s", "pack"), timed(1, "local", 1, "none")))})
    for mode in args.modes.split(","):
        label, executor, jobs, pack = plans[mode.strip()]
        wall, ips, packed = timed(n, executor, jobs, pack)
        rows.append({"mode": label, "wall_s": wall, "img_per_s": ips, "pack": packed})
        if mode.strip() == "sequential" and args.extrapolate:
            m = args.extrapolate
            rows.append(
                {"mode": f"{m} seeds one after another ({n} measured x {m / n:g})", "wall_s": wall * m / n, "img_per_s": ips, "pack": 1}
            )
    alone = rows[0]["wall_s"] if args.single else None
    lines = ["| mode | wall (s) | x one seed's wall | images trained / wall s | seeds per model |", "|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['wall_s'] / alone:.2f}" if alone else "-"
        print(
            f"{r['mode']:30s} wall {r['wall_s']:8.1f} s   {ratio:>6s}x one seed   images/wall s {r['img_per_s']:8.0f}   packed x{r['pack']}"
        )
        lines.append(f"| {r['mode']} | {r['wall_s']:.1f} | {ratio} | {r['img_per_s']:.0f} | {r['pack']} |")
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(f"\n**suite_throughput**: {header}\n\n" + "\n".join(lines) + "\n")
    return rows


if __name__ == "__main__":
    main()
