"""The module ganbench loads (entry point `submitit` in the `ganbench` group).

It registers one executor, `slurm`; submitit and torch are imported only when a suite
runs with it, so `ganbench plugins` and `--dry-run` stay fast.
"""

from ganbench import hookimpl

GANBENCH_PLUGIN_API = ">=1,<2"


def slurm(options):
    from .executor import SlurmExecutor

    return SlurmExecutor(options)


@hookimpl
def register_executors(register):
    register("slurm", slurm)
