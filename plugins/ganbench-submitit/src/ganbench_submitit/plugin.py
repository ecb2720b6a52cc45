"""The module ganbench loads (entry point `submitit` in the `ganbench` group).

It registers one executor, `slurm`; submitit and torch are imported only when a suite
runs with it, so `ganbench plugins` and `--dry-run` stay fast.
"""

from ganbench import hookimpl

from .options import KEYS  # names and help only: no submitit, no torch

GANBENCH_PLUGIN_API = ">=1,<2"


def slurm(options):
    from .executor import SlurmExecutor

    return SlurmExecutor(options)


# Its options (`--slurm-KEY VALUE` or `--executor-option KEY=VALUE`), declared to the
# scheduler without defaults (None: any type, unset unless given); options.parse checks them.
slurm.executor_options = {key: None for key in KEYS}  # type: ignore[attr-defined]


@hookimpl
def register_executors(register):
    register("slurm", slurm)
