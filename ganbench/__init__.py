"""ganbench: a plugin-based benchmarking harness for generative adversarial networks.

The Python API is ``ganbench.api`` (run suites, load results as pandas frames, reports,
generators and samples); its functions are also here, imported on first use so that
``import ganbench`` stays light: ``ganbench.run_suite(...)``, ``ganbench.load_results(...)``.
``report`` is the exception: ``ganbench.report`` is the report package, so use
``ganbench.api.report``.
"""

from .hookspecs import hookimpl  # noqa: F401  (plugins write `from ganbench import hookimpl`)
from .version import PLUGIN_API_VERSION, __version__  # noqa: F401

# The Python API, re-exported lazily (ganbench.api imports torch only inside its functions).
_API = (
    "run_suite",
    "load_suite",
    "load_results",
    "render",
    "write_report",
    "load_generator",
    "sample",
    "plugin_registry",
    "Outcome",
    "Results",
)


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
