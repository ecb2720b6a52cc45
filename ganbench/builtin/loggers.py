"""The built-in loggers, registered exactly as a third party's would be."""

from __future__ import annotations

from ..hookspecs import hookimpl
from ..loggers import CsvLogger, TensorBoardLogger


@hookimpl
def register_loggers(register):
    register("csv", CsvLogger)
    register("tensorboard", TensorBoardLogger)
