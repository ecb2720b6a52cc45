"""The torch code of the built-in augments (``ganbench.builtin.augments``).

Every transform is per sample (its own random parameters), differentiable w.r.t. the
images, and draws from torch's global generator on the images' device (the run's stream).
Images are (B, C, H, W) in [-1, 1].
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from ..augment import Augment


def _rand(x: torch.Tensor, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, device=x.device, dtype=x.dtype)


# ---------------------------------------------------------------- DiffAugment


def brightness(x):  # x + U(-0.5, 0.5)
    return x + (_rand(x, len(x), 1, 1, 1) - 0.5)


def saturation(x):  # around each pixel's channel mean, x U(0, 2)
    mean = x.mean(1, keepdim=True)
    return (x - mean) * (_rand(x, len(x), 1, 1, 1) * 2) + mean


def contrast(x):  # around each image's mean, x U(0.5, 1.5)
    mean = x.mean((1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, len(x), 1, 1, 1) + 0.5) + mean


def translate(x, ratio: float):
    """Shift each image by whole pixels, up to ratio x its side in each direction; zeros enter."""
    b, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (b, 1, 1), device=x.device)
    dx = torch.randint(-sx, sx + 1, (b, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device)[None, :, None] - dy  # (B, H, 1): the source row of each target row
    cols = torch.arange(w, device=x.device)[None, None, :] - dx  # (B, 1, W)
    inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).unsqueeze(1)  # (B, 1, H, W)
    flat = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).reshape(b, 1, h * w).expand(-1, x.shape[1], -1)
    moved = x.reshape(b, x.shape[1], h * w).gather(2, flat).reshape_as(x)
    return moved * inside


def cutout(x, ratio: float):
    """Zero a square of ratio x the image side at a random centre (clipped at the borders)."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    erased = (rows - cy + ch // 2 >= 0) & (rows - cy + ch // 2 < ch) & (cols - cx + cw // 2 >= 0) & (cols - cx + cw // 2 < cw)
    return x * (~erased).unsqueeze(1).to(x.dtype)


class DiffAugment(Augment):
    packable = False

    def __init__(self, policy: list[str], translation: float, cutout: float):
        self.policy, self.translation, self.cutout = policy, translation, cutout

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"diffaugment transforms images (B, C, H, W), not {tuple(x.shape)}")
        for part in self.policy:
            if part == "color":
                x = contrast(saturation(brightness(x)))
            elif part == "translation":
                x = translate(x, self.translation)
            else:
                x = cutout(x, self.cutout)
        return x


# ---------------------------------------------------------------- ADA


def _affine(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """ADA's geometric transforms, each with probability p per sample, as one (B, 2, 3)
    affine map sampled once with reflection padding (bilinear: differentiable)."""
    b = len(x)
    one = torch.ones(b, device=x.device, dtype=x.dtype)
    zero = torch.zeros_like(one)

    def on(values, neutral):  # apply with probability p
        return torch.where(_rand(x, b) < p, values, neutral)

    flip = on(torch.where(_rand(x, b) < 0.5, -one, one), one)  # x-flip
    quarter = on(torch.randint(0, 4, (b,), device=x.device).to(x.dtype), zero) * (math.pi / 2)  # 90-degree rotations
    shift = torch.stack([on(torch.round((_rand(x, b) * 2 - 1) * 0.125 * x.shape[-1]) * 2 / x.shape[-1], zero) for _ in range(2)], 1)
    iso = on(torch.exp2(torch.randn(b, device=x.device, dtype=x.dtype) * 0.2), one)  # lognormal, std 0.2 * ln 2
    angle = on((_rand(x, b) * 2 - 1) * math.pi, zero)
    aniso = on(torch.exp2(torch.randn(b, device=x.device, dtype=x.dtype) * 0.2), one)
    frac = torch.stack([on(torch.randn(b, device=x.device, dtype=x.dtype) * 0.125 * 2, zero) for _ in range(2)], 1)
    theta = quarter + angle
    cos, sin = theta.cos(), theta.sin()
    sx, sy = flip * iso * aniso, iso / aniso
    mat = torch.stack(
        [torch.stack([cos * sx, -sin * sy, shift[:, 0] + frac[:, 0]], 1), torch.stack([sin * sx, cos * sy, shift[:, 1] + frac[:, 1]], 1)], 1
    )
    grid = F.affine_grid(mat, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _color(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    b = len(x)

    def on(values, neutral):
        return torch.where(_rand(x, b) < p, values, neutral).view(b, 1, 1, 1)

    x = x + on(torch.randn(b, device=x.device, dtype=x.dtype) * 0.2, torch.zeros(b, device=x.device, dtype=x.dtype))
    mean = x.mean((1, 2, 3), keepdim=True)
    x = (x - mean) * on(
        torch.exp2(torch.randn(b, device=x.device, dtype=x.dtype) * 0.5), torch.ones(b, device=x.device, dtype=x.dtype)
    ) + mean
    if x.shape[1] > 1:  # saturation: around each pixel's channel mean
        luma = x.mean(1, keepdim=True)
        x = (x - luma) * on(
            torch.exp2(torch.randn(b, device=x.device, dtype=x.dtype)), torch.ones(b, device=x.device, dtype=x.dtype)
        ) + luma
    return x


class ADA(Augment):
    packable = False

    def __init__(self, target: float, interval: int, speed_img: int, p: float, max_p: float):
        self.target, self.interval, self.speed_img, self.max_p = target, interval, speed_img, max_p
        self.p = torch.tensor(float(p))
        self.sign_sum, self.seen, self.updates = torch.zeros(()), torch.zeros(()), 0
        self.rt = torch.tensor(float("nan"))

    def to(self, device):
        self.p, self.sign_sum, self.seen, self.rt = (t.to(device) for t in (self.p, self.sign_sum, self.seen, self.rt))
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"ada transforms images (B, C, H, W), not {tuple(x.shape)}")
        p = self.p.to(x.dtype)
        return _color(_affine(x, p), p)

    @torch.no_grad()
    def observe(self, real_scores: torch.Tensor) -> None:
        self.sign_sum += real_scores.float().sign().sum()
        self.seen += real_scores.numel()
        self.updates += 1
        if self.updates % self.interval == 0:  # on the device: no host sync
            self.rt = self.sign_sum / self.seen
            self.p = (self.p + torch.sign(self.rt - self.target) * self.seen / self.speed_img).clamp(0.0, self.max_p)
            self.sign_sum.zero_()
            self.seen.zero_()

    def log(self) -> dict[str, float]:
        return {"ada_p": float(self.p), "ada_rt": float(self.rt)}

    def state_dict(self) -> dict:
        return {"p": self.p, "sign_sum": self.sign_sum, "seen": self.seen, "updates": self.updates, "rt": self.rt}

    def load_state_dict(self, state: dict) -> None:
        device = self.p.device
        self.p, self.sign_sum, self.seen, self.rt = (state[k].to(device) for k in ("p", "sign_sum", "seen", "rt"))
        self.updates = state["updates"]
