"""ganbench's version and the plugin contract's, and how a run reads its libraries':
a leaf module, so that whatever records or checks a version imports this, never the
package (whose ``__init__`` re-exports the API)."""

__version__ = "0.1.0"

# The version of the plugin contract (hookspecs + the objects in ganbench.contracts).
# Bumped on breaking changes, so plugins can declare which one they were written for.
PLUGIN_API_VERSION = 1


def package_version(package: str) -> str:
    """A package's ``__version__`` (build label included: torchvision's ``0.29.1+cu130``),
    read from its ``version.py`` without importing it: torchvision and torch-fidelity
    import torch._dynamo (~1.5 s a process), which a run that writes no grid and scores
    nothing has no use for. Else the imported module's, else the installed metadata's."""
    import contextlib
    import importlib.metadata
    import importlib.util
    import re
    import sys
    from pathlib import Path

    if package in sys.modules:
        return str(getattr(sys.modules[package], "__version__", "unknown"))
    spec = importlib.util.find_spec(package)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        with contextlib.suppress(OSError):
            found = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", (Path(folder) / "version.py").read_text(), re.M)
            if found:
                return found[1]
    try:
        return importlib.metadata.version(package.replace("_", "-"))
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
