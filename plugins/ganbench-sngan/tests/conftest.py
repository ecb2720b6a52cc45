import ganbench_sngan.plugin
import pytest


# ganbench's pytest plugin (installed with ganbench) builds ganbench_registry and
# ganbench_smoke from the built-ins plus the modules this fixture returns.
@pytest.fixture
def ganbench_plugins():
    return [ganbench_sngan.plugin]
