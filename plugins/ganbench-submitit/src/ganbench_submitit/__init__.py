"""ganbench-submitit: `ganbench run --executor slurm`, SLURM through submitit (a ganbench plugin)."""

__version__ = "0.1.0"
