"""The built-in metric plugins, registered exactly as a third party's would be.

They are off unless a run enables them: ``eval: {metrics: {tabular-quality: {}}}``.
"""

from __future__ import annotations

from ..hookspecs import hookimpl
from ..metrics.tabular import TabularQuality
from ..metrics.utility import CAS, Augmentation


@hookimpl
def register_metrics(register):
    register("tabular-quality", TabularQuality)
    register("cas", CAS)
    register("augmentation", Augmentation)
