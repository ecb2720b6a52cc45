"""ganbench: a plugin-based benchmarking harness for generative adversarial networks."""

__version__ = "0.1.0"

# The version of the plugin contract (hookspecs + the objects in ganbench.contracts).
# Bumped on breaking changes, so plugins can declare which one they were written for.
PLUGIN_API_VERSION = 1

from .hookspecs import hookimpl  # noqa: E402  (plugins write `from ganbench import hookimpl`)
