"""Loggers: where a run's curves and sample grids go while it trains.

A logger is a plugin kind: a factory registered with the ``register_loggers`` hook,
``make(run_dir: Path, record: dict) -> Logger``, where ``run_dir`` is the folder the run is
being written into (hidden until the run finishes, then renamed into place) and ``record``
is its run.json so far (id, suite, config). The built-ins (``ganbench.builtin.loggers``):

- ``csv``: ``history.csv``, rewritten whole at every log row (always on: it is the run's
  history, read by the report and by ``ganbench status`` while the run trains);
- ``tensorboard``: ``tensorboard/`` event files (``torch.utils.tensorboard``): a scalar per
  history column, the sample grids as images, the resolved config as text.
  ``tensorboard --logdir results`` shows every run of every suite, by suite and run id.

- ``wandb`` and ``mlflow``: experiment trackers (``ganbench.trackers``; ``pip install
  'ganbench[wandb]'`` / ``'ganbench[mlflow]'``).

A suite adds loggers with ``loggers: [tensorboard]``, the command line with
``--logger tensorboard``. An *essential* logger (the default: ``csv``, ``tensorboard``, a
plugin's) that raises while the run trains fails its run: its files are part of the run's
results, so say so loudly rather than train unobserved. A logger that sets
``essential = False`` (the trackers, which depend on a network service the run does not
need) is guarded instead: its first exception, when it is made or at any call, is one
warning on stderr and a line in run.json's ``logger_errors``, and the run trains on
without it. A logger that needs a service or a package checks for it in ``check()``, which
the scheduler calls before any run starts. ``started(record)`` and ``finished(record)``
tell it when the run begins training and how it ended.
"""

from __future__ import annotations

import json
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable

from .suggest import error_line

ALWAYS = ("csv",)  # the history is part of a run's results, not an option


class Logger(ABC):
    """Receives a run's history rows and images as they are made."""

    essential = True  # False: a failure is a warning and the run goes on without this logger

    def __init__(self, run_dir: Path, record: dict):
        self.run_dir, self.record = Path(run_dir), record

    @classmethod
    def check(cls) -> None:
        """Raise, saying why, when this logger cannot work on this machine (a missing
        package, a missing token). The scheduler calls it before any run starts: the suite
        is then refused (exit 2) instead of every run failing on it."""

    @abstractmethod
    def log_row(self, row: dict) -> None:
        """A history row: step, epoch, wall_s, train_s, losses, D accuracies, lr_g, lr_d, and the
        evaluation's metrics at eval points. Values are floats (NaN when not finite)."""

    def log_image(self, tag: str, path: Path, step: int) -> None:
        """A PNG the run just wrote (a sample grid); `tag` names the series."""

    def resumed(self, history: list[dict]) -> None:
        """The run resumed from a checkpoint whose history is `history`: forget later rows."""

    def started(self, record: dict) -> None:
        """The run is set up and about to train: `record` is its run.json so far, now with
        `env` (host, device, versions), `params_g`, `params_d` and `protocol`."""

    def finished(self, record: dict) -> None:
        """The run ended: `record` is its final run.json content: `status` (complete,
        diverged or failed; None when it was interrupted, Ctrl-C or SIGTERM, to be trained
        again), `metrics`, and `error` for a failed run or `diverged_at_step`. Called before
        close(); not called when the run's worker process died."""

    def close(self) -> None:
        """The run ended (any status): flush and release what it holds."""


class CsvLogger(Logger):
    """history.csv, always whole: rewritten atomically at every row (a few hundred rows at
    most, so a reader in another process never sees a half-written file)."""

    def __init__(self, run_dir: Path, record: dict):
        super().__init__(run_dir, record)
        self.rows: list[dict] = []

    def log_row(self, row: dict) -> None:
        self.rows.append(dict(row))
        self._write()

    def resumed(self, history: list[dict]) -> None:
        self.rows = [dict(r) for r in history]
        self._write()

    def _write(self) -> None:
        from .store import HISTORY_FILE, write_atomic

        write_atomic(self.run_dir / HISTORY_FILE, history_csv(self.rows))


def history_csv(rows: list[dict]) -> str:
    """Rows as CSV, column for column what ``pandas.DataFrame(rows).to_csv(index=False)``
    writes (columns in order of first appearance; a missing value or NaN empty; an integer
    column that has a float or a gap written as floats), with the standard library: pandas
    would cost a worker process ~0.4 s of imports for this one call."""
    import csv
    import io
    import math

    def missing(v) -> bool:
        return v is None or (isinstance(v, float) and math.isnan(v))

    def integer(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    # numpy and 0-d torch scalars (an augment's log, a plugin's row) as the Python numbers
    # pandas would have stored: float32 0.1 is 0.10000000149011612 there too
    rows = [{k: v.item() if hasattr(v, "item") and not isinstance(v, str) else v for k, v in row.items()} for row in rows]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    floats = set()
    for c in columns:
        values = [row.get(c) for row in rows]
        present = [v for v in values if not missing(v)]
        numbers = all(integer(v) or isinstance(v, float) for v in present)
        if present and numbers and (any(isinstance(v, float) for v in values) or len(present) < len(values)):
            floats.add(c)  # pandas: float64

    def cell(c, v) -> str:
        if missing(v):
            return ""
        return repr(float(v)) if c in floats else str(v)

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([cell(c, row.get(c)) for c in columns] for row in rows)
    return out.getvalue()


class TensorBoardLogger(Logger):
    """Event files under <run>/tensorboard/, grouped in TensorBoard by <suite>/<run id>."""

    DIR = "tensorboard"

    @classmethod
    def check(cls) -> None:
        cls._summary_writer()

    @staticmethod
    def _summary_writer():
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise RuntimeError("the tensorboard logger needs TensorBoard: pip install 'ganbench[tensorboard]'") from None
        return SummaryWriter

    def __init__(self, run_dir: Path, record: dict):
        super().__init__(run_dir, record)
        SummaryWriter = self._summary_writer()
        self._writer_class = SummaryWriter
        self.writer = SummaryWriter(str(self.run_dir / self.DIR))
        config = json.dumps(record.get("config", {}), indent=2, default=str)
        self.writer.add_text("config", f"```\n{config}\n```", 0)  # markdown: keep the JSON's layout

    def log_row(self, row: dict) -> None:
        step = int(row["step"])
        for key, value in row.items():
            if key != "step" and isinstance(value, (int, float)):
                self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def log_image(self, tag: str, path: Path, step: int) -> None:
        import numpy as np
        from PIL import Image

        image = np.asarray(Image.open(path).convert("RGB"))  # (H, W, 3) uint8
        self.writer.add_image(tag, image, step, dataformats="HWC")

    def resumed(self, history: list[dict]) -> None:
        # Events past the checkpoint were written by the killed attempt: purge them.
        self.writer.close()
        step = int(history[-1]["step"]) + 1 if history else 0
        self.writer = self._writer_class(str(self.run_dir / self.DIR), purge_step=step)

    def close(self) -> None:
        self.writer.close()


def make_loggers(names, registry, run_dir: Path, record: dict) -> list[Logger]:
    """The always-on loggers, then `names` (validated by the scheduler), in order, each
    told the run has started (``Logger.started``); the non-essential ones guarded (see the
    module docstring)."""
    loggers: list[Logger] = []
    for name in dict.fromkeys([*ALWAYS, *names]):
        make = registry.get("logger", name).factory
        loggers.append(make(run_dir, record) if getattr(make, "essential", True) else Guarded(name, make, run_dir, record))
    for logger in loggers:
        if hasattr(logger, "started"):  # a logger need not subclass Logger
            logger.started(record)
    return loggers


def unavailable(name: str, factory) -> str | None:
    """Why logger `name` cannot work here because the library it names (a ``LIBRARY``
    attribute: the trackers') is not installed, before any run starts; else None."""
    import importlib.util

    library = getattr(factory, "LIBRARY", "")
    if library and importlib.util.find_spec(library) is None:
        return f"logger {name} needs {library}: pip install 'ganbench[{name}]'"
    return None


def close_loggers(loggers, record: dict) -> None:
    """Tell each logger how the run ended (``Logger.finished``), then close it. A logger
    that raises here cannot change the run's outcome: its error is a note in the record."""
    for logger in loggers:
        for method in ("finished", "close"):
            call = getattr(logger, method, None)
            if call is None:
                continue
            try:
                call(record) if method == "finished" else call()
            except Exception as e:
                text = str(e).strip().splitlines()
                record.setdefault("notes", []).append(
                    f"logger {type(logger).__name__}: {method} raised {type(e).__name__}: {text[0] if text else ''}"[:300]
                )


class Guarded(Logger):
    """A non-essential logger: its first exception is one warning, then it is switched off."""

    def __init__(self, name: str, make, run_dir: Path, record: dict):
        super().__init__(run_dir, record)
        self.name = name
        self.inner: Logger | None = None
        self._call("start", lambda: setattr(self, "inner", make(run_dir, record)))

    def _call(self, what: str, fn: Callable[[], object]) -> None:
        if self.inner is None and what != "start":
            return  # off: it failed earlier
        try:
            fn()
        except Exception as e:
            self.inner = None
            reason = f"{what}: {error_line(e)}"
            self.record.setdefault("logger_errors", {})[self.name] = reason[:500]
            print(f"warning: logger {self.name} failed ({reason[:300]}); run {self.record.get('id')} goes on without it", file=sys.stderr)

    def _inner(self) -> Logger:
        assert self.inner is not None  # _call calls nothing once it is off
        return self.inner

    def log_row(self, row: dict) -> None:
        self._call("log_row", lambda: self._inner().log_row(row))

    def log_image(self, tag: str, path: Path, step: int) -> None:
        self._call("log_image", lambda: self._inner().log_image(tag, path, step))

    def resumed(self, history: list[dict]) -> None:
        self._call("resumed", lambda: self._inner().resumed(history))

    def started(self, record: dict) -> None:
        self._call("started", lambda: getattr(self._inner(), "started", lambda r: None)(record))

    def finished(self, record: dict) -> None:
        self._call("finished", lambda: getattr(self._inner(), "finished", lambda r: None)(record))

    def close(self) -> None:
        self._call("close", lambda: self._inner().close())
