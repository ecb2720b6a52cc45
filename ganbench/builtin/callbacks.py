"""The built-in training callbacks, registered exactly as a third party's would be.

The factories import ganbench.callbacks (and so torch) only when a run makes one:
registering them, and validating a suite that names them, must not import torch.
"""

from __future__ import annotations

from ..hookspecs import hookimpl


def ema(decay: float = 0.999, start: int = 0):  # 0.999: StudioGAN's default
    from ..callbacks import EMA

    return EMA(decay, start)


def weight_clip(c: float = 0.01):  # 0.01: Arjovsky et al. 2017
    from ..callbacks import WeightClip

    return WeightClip(c)


@hookimpl
def register_callbacks(register):
    register("ema", ema)
    register("weight-clip", weight_clip)
