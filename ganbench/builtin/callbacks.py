"""The built-in training callbacks, registered exactly as a third party's would be."""

from __future__ import annotations

from ..callbacks import EMA, WeightClip
from ..hookspecs import hookimpl


@hookimpl
def register_callbacks(register):
    register("ema", EMA)
    register("weight-clip", WeightClip)
