"""One run's configuration: the defaults, how layers merge, and validation.

A run's config is built from layers, later ones winning: DEFAULTS, then the loss's own
defaults (WGAN-GP wants 5 critic steps), then the suite's ``base``, its matrix cell and
the command line's ``--set``. Every value is checked before anything runs; an error
names the key and, where it knows it, the layer the value came from.
"""

from .defaults import (  # noqa: F401
    ADDED_DEFAULTS,
    DEFAULTS,
    EVAL_DEFAULTS,
    MAX_EVAL_SAMPLES,
    MAX_SEED,
    MIN_EVAL_SAMPLES,
    NOT_IN_RUN_ID,
    identity,
)
from .errors import ConfigError, one_line, shown  # noqa: F401
from .merge import expand_dotted, merge, resolve  # noqa: F401
from .validate import BUDGET_KINDS, validate, validate_budget_spec, validate_eval  # noqa: F401
from .values import parse_interval  # noqa: F401
