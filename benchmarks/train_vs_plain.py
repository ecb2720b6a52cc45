"""ganbench's training loop vs. a plain hand-written PyTorch loop of the same model.

Both train the same DCGAN (built by ganbench's `dcgan` plugin, so the weights and layers
are identical) on the same in-memory data, in the same process and on the same device;
the plain loop is the PyTorch DCGAN tutorial's: one D update on real and fake, then one
G update reusing that fake batch. Prints steady-state images/s of each and their ratio.

The plain loop runs with the speed settings ganbench's run resolved to (channels_last,
the fused/foreach/for-loop optimizer, the TF32 flags; printed), so the ratio measures the
loop itself, not a setting either loop could use.

    python benchmarks/train_vs_plain.py                       # 28x28 mnist5k, CPU or GPU
    python benchmarks/train_vs_plain.py --image-size 64 --channels 3 --width 64 --steps 300
    python benchmarks/train_vs_plain.py --device cuda --batch-size 128 512 1024 --precision fp32 bf16
    python benchmarks/train_vs_plain.py --fused-optimizers false --channels-last true --tf32 on   # speed settings
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ganbench.build import Builder, device_name, resolve_device, seed_everything
from ganbench.config import resolve
from ganbench.engine import train
from ganbench.optimizers import impl_kwargs
from ganbench.plugins import load_registry
from ganbench.speed import to_channels_last


def plain_loop(G, D, x: torch.Tensor, steps: int, warmup: int, bs: int, z_dim: int, device, speed: dict) -> float:
    """The DCGAN tutorial's loop; returns steady-state images/s (warm-up steps excluded).

    speed: ganbench's resolved speed settings (TrainResult.speed), applied here too."""
    fmt = torch.channels_last if speed["channels_last"] else torch.contiguous_format
    if speed["channels_last"]:
        to_channels_last(G, D)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), **impl_kwargs(speed["optimizer_d"]))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), **impl_kwargs(speed["optimizer_g"]))
    n = len(x) // bs
    perm = torch.randperm(len(x), device=device)
    t0 = None
    for step in range(steps):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        i = step % n
        real = x[perm[i * bs : (i + 1) * bs]].float().div(127.5).sub(1).contiguous(memory_format=fmt)  # (B, C, H, W) in [-1, 1]
        fake = G(torch.randn(bs, z_dim, device=device))
        # D: real -> 1, fake -> 0 (fake detached: G gets no gradient from D's update)
        real_s, fake_s = D(real), D(fake.detach())
        d_loss = F.binary_cross_entropy_with_logits(real_s, torch.ones_like(real_s)) + F.binary_cross_entropy_with_logits(
            fake_s, torch.zeros_like(fake_s)
        )
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        # G: the same fake batch, scored by the updated D, labelled real
        out = D(fake)
        g_loss = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return bs * (steps - warmup) / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="mnist5k")
    ap.add_argument("--image-size", type=int, default=28)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--width", type=int, default=32, help="ngf = ndf")
    ap.add_argument("--batch-size", type=int, nargs="+", default=[64], help="one or more (a sweep)")
    ap.add_argument(
        "--precision",
        nargs="+",
        default=["fp32"],
        choices=["fp32", "bf16", "fp16"],
        help="ganbench's precision setting(s) to sweep; the plain loop is always fp32",
    )
    ap.add_argument("--z-dim", type=int, default=100)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--warmup", type=int, default=20, help="steps excluded from the timing (both loops)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each loop, interleaved; the best of each is reported")
    ap.add_argument("--channels-last", default="auto", choices=["auto", "true", "false"])
    ap.add_argument("--fused-optimizers", default="auto", choices=["auto", "true", "false"])
    ap.add_argument("--tf32", default="off", choices=["off", "conv", "on"])
    ap.add_argument("--g-step-fresh-fake", action="store_true", help="ganbench draws a fresh fake batch for G's update (the old default)")
    ap.add_argument("--cuda-graphs", default="false", choices=["auto", "true", "false"], help="ganbench's step replayed from a CUDA graph")
    ap.add_argument("--markdown", help="append the figures as a Markdown table to this file")
    args = ap.parse_args()
    as_setting = {"auto": "auto", "true": True, "false": False}

    device = resolve_device(args.device)
    registry = load_registry()
    builder = Builder(registry)
    print(f"device: {device_name(device)} ({device}); torch {torch.__version__}")

    def config(bs: int, precision: str) -> dict:
        layer = {
            "dataset": {"name": args.dataset, "image_size": args.image_size, "channels": args.channels},
            "architecture": {"name": "dcgan", "ngf": args.width, "ndf": args.width},
            "loss": "vanilla",
            "optimizer": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]},
            "batch_size": bs,
            "z_dim": args.z_dim,
            "steps": args.steps,
            "precision": precision,
            "g_step_fresh_fake": args.g_step_fresh_fake,
            "channels_last": as_setting[args.channels_last],
            "fused_optimizers": as_setting[args.fused_optimizers],
            "tf32": args.tf32,
            "cuda_graphs": as_setting[args.cuda_graphs],
            "log_every": f"{args.warmup} steps",
            "grid_every": "none",
            "eval": {"every": "none"},
        }
        return resolve([("benchmark", layer)], registry)

    # Each loop is timed twice: its steady-state wall clock (warm-up excluded) and, on the
    # CPU, the process's CPU time over all its steps (warm-up included in both loops), which
    # other processes sharing the cores barely disturb: one thread computes, no waiting.
    def ours(cfg: dict) -> tuple[float, float, dict]:
        data = builder.data(cfg["dataset"])
        seed_everything(0)
        models = builder.models(cfg, data)
        with tempfile.TemporaryDirectory() as tmp:
            cpu0 = time.process_time()
            result = train(cfg, data, models, builder.loss(cfg), device, Path(tmp))
            cpu_s = time.process_time() - cpu0
        return result.metrics["train_img_per_s"], cfg["batch_size"] * args.steps / cpu_s, result.speed

    def plain(cfg: dict, speed: dict) -> tuple[float, float]:
        data = builder.data(cfg["dataset"])
        seed_everything(0)
        fresh = builder.models(cfg, data)
        G, D = fresh.generator.to(device).train(), fresh.discriminator.to(device).train()
        cpu0 = time.process_time()
        wall = plain_loop(G, D, data.train.to(device), args.steps, args.warmup, cfg["batch_size"], args.z_dim, device, speed)
        return wall, cfg["batch_size"] * args.steps / (time.process_time() - cpu0)

    rows, speed = [], {}
    for bs in args.batch_size:
        plain_best = [0.0, 0.0]  # wall, CPU
        for k, precision in enumerate(args.precision):
            cfg, best = config(bs, precision), [0.0, 0.0]
            for r in range(args.repeat):
                # The plain fp32 loop once per batch size, alternating which loop goes first:
                # the best of N of each is the least disturbed by whatever else shares the machine.
                first_plain = k == 0 and r % 2 == 1
                if first_plain:
                    plain_best = list(map(max, plain_best, plain(cfg, speed)))
                wall, cpu, speed = ours(cfg)
                best = list(map(max, best, (wall, cpu)))
                if k == 0 and not first_plain:
                    plain_best = list(map(max, plain_best, plain(cfg, speed)))
            rows.append((bs, precision, best, plain_best))
    models = builder.models(cfg, builder.data(cfg["dataset"]))
    params = sum(p.numel() for p in models.generator.parameters()), sum(p.numel() for p in models.discriminator.parameters())
    print(
        f"model: dcgan {args.image_size}x{args.image_size}x{args.channels}, width {args.width}, "
        f"G {params[0]:,} / D {params[1]:,} parameters; {args.steps} steps, first {args.warmup} excluded; "
        f"best of {args.repeat} runs of each loop, interleaved"
    )
    print(
        f"speed settings (both loops): channels_last {speed['channels_last']}, optimizers G {speed['optimizer_g']} / "
        f"D {speed['optimizer_d']}, tf32 {speed['tf32']} (matmul {speed['tf32_matmul']}, cuDNN {speed['tf32_cudnn']})"
    )
    cpu = device.type == "cpu"
    head = f"{'batch':>6} {'precision':>9} {'ganbench img/s':>15} {'plain fp32 img/s':>17} {'ratio':>6}"
    print(head + (f" {'ganbench img/cpu-s':>19} {'plain img/cpu-s':>16} {'ratio':>6}" if cpu else ""))
    table = ["| batch | precision | ganbench img/s | plain fp32 img/s | ratio | x fp32 at this batch |", "|---|---|---|---|---|---|"]
    fp32 = {bs: wall for bs, precision, (wall, _), _ in rows if precision == "fp32"}
    for bs, precision, (wall, cpu_rate), (plain_wall, plain_cpu) in rows:
        line = f"{bs:>6} {precision:>9} {wall:>15.1f} {plain_wall:>17.1f} {wall / plain_wall:>6.3f}"
        print(line + (f" {cpu_rate:>19.1f} {plain_cpu:>16.1f} {cpu_rate / plain_cpu:>6.3f}" if cpu else ""))
        vs_fp32 = f"{wall / fp32[bs]:.2f}" if bs in fp32 else "-"
        table.append(f"| {bs} | {precision} | {wall:.0f} | {plain_wall:.0f} | {wall / plain_wall:.3f} | {vs_fp32} |")
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(
                f"\n**train_vs_plain** ({device_name(device)}, torch {torch.__version__}; dcgan {args.image_size}x{args.image_size}, "
                f"width {args.width}, {args.steps} steps, best of {args.repeat}; channels_last {speed['channels_last']}, "
                f"optimizers {speed['optimizer_g']}, cuda_graphs {speed.get('cuda_graphs')})\n\n" + "\n".join(table) + "\n"
            )


if __name__ == "__main__":
    main()
