"""Moved to ``ganbench.keys`` (result keys sit below everything that reads them)."""

from ..keys import *  # noqa: F403
from ..keys import direction  # noqa: F401
