"""The built-in metric plugins, registered exactly as a third party's would be.

The families ganbench always measures (``metrics.plugin.BUILTIN_FAMILIES``: mode coverage,
domain and Inception fidelity, 2-D mixture coverage) are on in every run they apply to;
the others are off unless a run enables them: ``eval: {metrics: {tabular-quality: {}}}``.
"""

from __future__ import annotations

from ..hookspecs import hookimpl
from ..metrics.conditional import ClassAccuracy, IntraFID
from ..metrics.families import DomainFidelity, InceptionFidelity, MixtureCoverage, ModeCoverage
from ..metrics.tabular import TabularQuality
from ..metrics.utility import CAS, Augmentation


@hookimpl
def register_metrics(register):
    register("mode-coverage", ModeCoverage)
    register("domain-fidelity", DomainFidelity)
    register("inception-fidelity", InceptionFidelity)
    register("mixture-coverage", MixtureCoverage)
    register("tabular-quality", TabularQuality)
    register("cas", CAS)
    register("augmentation", Augmentation)
    register("class-accuracy", ClassAccuracy)
    register("intra-fid", IntraFID)
