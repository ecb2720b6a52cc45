"""The built-in loggers, registered exactly as a third party's would be."""

from __future__ import annotations

from ..hookspecs import hookimpl
from ..loggers import CsvLogger, TensorBoardLogger
from ..trackers import MlflowLogger, WandbLogger  # their libraries are imported when a run makes one


@hookimpl
def register_loggers(register):
    register("csv", CsvLogger)
    register("tensorboard", TensorBoardLogger)
    register("wandb", WandbLogger)
    register("mlflow", MlflowLogger)
