"""Walking a 2-D plane of a trained generator's latent space.

Two latent coordinates sweep a 10x10 grid from -span to +span while every other
coordinate stays at one fixed random draw: smooth change across the grid means G learnt
a continuous map; a grid of near-identical samples shows mode collapse.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch

from ..store import G_WEIGHTS, RUN_FILE, WeightsError, fit_weights, load_weights
from .load import ReportError

STEPS = 10  # a 10x10 grid, as in the seed article's latent-space experiment
SPAN = 2.5  # +-2.5 standard deviations covers ~99% of N(0, 1) along each axis


class LoadedRun:
    """A run's generator rebuilt from its config through the plugin registry, and its data."""

    def __init__(self, run_dir: str | Path, builder=None):
        from ..build import Builder, stored_config
        from ..config import ConfigError
        from ..plugins import PluginError, load_registry

        self.dir = Path(run_dir)
        try:
            self.record = json.loads((self.dir / RUN_FILE).read_text())
            self.config = self.record["config"]
            z_dim = int(self.config["z_dim"])
        except FileNotFoundError:
            raise ReportError(f"{self.dir}: not a run folder (no {RUN_FILE})") from None
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ReportError(f"{self.dir / RUN_FILE}: corrupt run.json ({type(e).__name__}: {e})") from None
        weights = self.dir / str(self.record.get("generator_file", G_WEIGHTS))  # e.g. G_ema.pt: the scored G
        if not weights.exists():
            raise ReportError(f"{self.dir}: no G.pt (a {self.record.get('status', '?')} run keeps no generator)")
        builder = builder or Builder(load_registry())
        try:
            self.config = stored_config(self.config, builder.registry)
        except ConfigError as e:
            raise ReportError(f"{self.dir / RUN_FILE}: its config is not valid ({e})") from None
        try:
            self.data = builder.data(self.config["dataset"])
            models = builder.models(self.config, self.data)
        except PluginError as e:
            raise ReportError(f"{self.dir}: cannot rebuild the generator: {e}") from None
        except Exception as e:  # a plugin's own failure (missing data offline...)
            raise ReportError(f"{self.dir}: cannot rebuild the generator: {type(e).__name__}: {e}") from None
        self.G = models.generator
        try:
            fit_weights(self.G, load_weights(weights), weights)
        except WeightsError as e:
            raise ReportError(str(e)) from None
        self.G.eval()
        # Sampled as the run's metrics were (eval.g_mode; runs from before it: eval mode).
        self.g_mode = (self.config.get("eval") or {}).get("g_mode", "eval")
        self.z_dim = z_dim

    def sample(self, z: torch.Tensor) -> torch.Tensor:
        from ..sampling import sample

        return sample(self.G, z, self.g_mode)  # (B, Z) -> (B, *shape)


def latent_plane(
    z_dim: int, axes: tuple[int, int] | None = None, seed: int = 0, span: float = SPAN, steps: int = STEPS
) -> tuple[torch.Tensor, tuple[int, int]]:
    """(steps*steps, Z) latents: row i sets axes[0] to v_i, column j sets axes[1] to v_j."""
    gen = torch.Generator().manual_seed(seed)
    if axes is None:
        if z_dim < 2:
            raise ReportError(f"z_dim {z_dim}: a plane needs at least 2 latent dimensions")
        axes = tuple(int(a) for a in torch.randperm(z_dim, generator=gen)[:2])
    a, b = axes
    if not (0 <= a < z_dim and 0 <= b < z_dim) or a == b:
        raise ReportError(f"--axes {a},{b}: need two different latent indices in 0..{z_dim - 1}")
    base = torch.randn(z_dim, generator=gen)  # (Z,) the fixed rest of the latent
    values = torch.linspace(-span, span, steps)
    z = base.repeat(steps * steps, 1)  # (steps*steps, Z)
    z[:, a] = values.repeat_interleave(steps)
    z[:, b] = values.repeat(steps)
    return z, (a, b)


def traverse_png(run: LoadedRun, axes=None, seed: int = 0, span: float = SPAN, steps: int = STEPS) -> tuple[bytes, tuple]:
    """PNG bytes of the traversal: an image grid, or for 2-D points the plane's mesh."""
    z, axes = latent_plane(run.z_dim, axes, seed, span, steps)
    x = run.sample(z)
    kind = run.data.kind
    if kind == "image" and x.dim() == 4:
        from torchvision.utils import save_image

        buf = io.BytesIO()
        save_image(x, buf, format="png", nrow=steps, normalize=True, value_range=(-1, 1), padding=2)
        return buf.getvalue(), axes
    if kind == "points" and x.dim() == 2 and x.shape[1] == 2:
        return _mesh_png(run, x.reshape(steps, steps, 2).numpy(), axes, span), axes
    raise ReportError(f"{run.dir}: a traversal needs image or 2-D point data, not {kind} of shape {tuple(x.shape[1:])}")


def _mesh_png(run: LoadedRun, grid: np.ndarray, axes, span: float) -> bytes:
    from .plot_base import figure_png, plt  # matplotlib: only for 2-D point data

    fig, ax = plt.subplots(figsize=(5, 5))
    _modes(ax, run.data)
    for i in range(grid.shape[0]):  # lines of constant z[a] and of constant z[b]
        ax.plot(grid[i, :, 0], grid[i, :, 1], color="tab:blue", lw=0.8)
        ax.plot(grid[:, i, 0], grid[:, i, 1], color="tab:orange", lw=0.8)
    ax.scatter(grid[..., 0].ravel(), grid[..., 1].ravel(), s=6, color="black", zorder=3)
    ax.set_title(f"latent plane z[{axes[0]}] (blue rows), z[{axes[1]}] (orange), ±{span:g}", fontsize=9)
    ax.set_aspect("equal", adjustable="datalim")
    return figure_png(fig)


def _modes(ax, data) -> None:
    if data.modes is not None:
        m = data.modes.numpy()
        ax.scatter(m[:, 0], m[:, 1], marker="x", s=60, color="red", label="true modes", zorder=4)


def parse_axes(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        a, b = (int(p) for p in text.split(","))
    except ValueError:
        raise ReportError(f"--axes {text!r}: expected two latent indices, e.g. --axes 0,7") from None
    return a, b
