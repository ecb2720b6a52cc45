"""ganbench's training loop vs. a plain hand-written PyTorch loop of the same model.

Both train the same DCGAN (built by ganbench's `dcgan` plugin, so the weights and layers
are identical) on the same in-memory data, in the same process and on the same device;
the plain loop is the PyTorch DCGAN tutorial's: one D update on real and fake, then one
G update reusing that fake batch. Prints steady-state images/s of each and their ratio.

    python benchmarks/train_vs_plain.py                       # 28x28 mnist5k, CPU or GPU
    python benchmarks/train_vs_plain.py --image-size 64 --channels 3 --width 64 --steps 300
    python benchmarks/train_vs_plain.py --device cuda --batch-size 128 512 1024 --precision fp32 bf16
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
from ganbench.plugins import load_registry
from ganbench.train import train


def plain_loop(G, D, x: torch.Tensor, steps: int, warmup: int, bs: int, z_dim: int, device) -> float:
    """The DCGAN tutorial's loop; returns steady-state images/s (warm-up steps excluded)."""
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    n = len(x) // bs
    perm = torch.randperm(len(x), device=device)
    t0 = None
    for step in range(steps):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        i = step % n
        real = x[perm[i * bs : (i + 1) * bs]].float().div(127.5).sub(1)  # (B, C, H, W) in [-1, 1]
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
    args = ap.parse_args()

    device = resolve_device(args.device)
    registry = load_registry()
    builder = Builder(registry)
    print(f"device: {device_name(device)} ({device}); torch {torch.__version__}")
    rows = []
    for bs in args.batch_size:
        plain = None
        for precision in args.precision:
            layers = [
                (
                    "benchmark",
                    {
                        "dataset": {"name": args.dataset, "image_size": args.image_size, "channels": args.channels},
                        "architecture": {"name": "dcgan", "ngf": args.width, "ndf": args.width},
                        "loss": "vanilla",
                        "optimizer": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]},
                        "batch_size": bs,
                        "z_dim": args.z_dim,
                        "steps": args.steps,
                        "precision": precision,
                        "log_every": f"{args.warmup} steps",
                        "grid_every": "none",
                        "eval": {"every": "none"},
                    },
                )
            ]
            cfg = resolve(layers, registry)
            data = builder.data(cfg["dataset"])
            seed_everything(0)
            models = builder.models(cfg, data)
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "grids").mkdir()
                result = train(cfg, data, models, builder.loss(cfg), device, Path(tmp))
            ours = result.metrics["train_img_per_s"]
            if plain is None:  # the tutorial's fp32 loop, once per batch size
                seed_everything(0)
                fresh = builder.models(cfg, data)
                G, D = fresh.generator.to(device).train(), fresh.discriminator.to(device).train()
                plain = plain_loop(G, D, data.train.to(device), args.steps, args.warmup, bs, args.z_dim, device)
                params = sum(p.numel() for p in G.parameters()), sum(p.numel() for p in D.parameters())
            rows.append((bs, precision, ours, plain))
    print(
        f"model: dcgan {args.image_size}x{args.image_size}x{args.channels}, width {args.width}, "
        f"G {params[0]:,} / D {params[1]:,} parameters; {args.steps} steps, first {args.warmup} excluded"
    )
    print(f"{'batch':>6} {'precision':>9} {'ganbench img/s':>15} {'plain fp32 img/s':>17} {'ratio':>6}")
    for bs, precision, ours, plain in rows:
        print(f"{bs:>6} {precision:>9} {ours:>15.1f} {plain:>17.1f} {ours / plain:>6.3f}")


if __name__ == "__main__":
    main()
