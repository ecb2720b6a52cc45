"""`python -m ganbench.cli`: the same command as `ganbench` (the tests run it this way)."""

from . import main

main()
