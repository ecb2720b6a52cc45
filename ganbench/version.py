"""ganbench's version and the plugin contract's: a leaf module, so that whatever records
or checks a version imports this, never the package (whose ``__init__`` re-exports the API)."""

__version__ = "0.1.0"

# The version of the plugin contract (hookspecs + the objects in ganbench.contracts).
# Bumped on breaking changes, so plugins can declare which one they were written for.
PLUGIN_API_VERSION = 1
