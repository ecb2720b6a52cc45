"""A callback for the tests: the run waits at step `at` until the file `open` exists.

It first writes `reached` (the step is there, its checkpoint of an earlier step on disk),
so a test can preempt, kill or orphan a job at a known point of its run, deterministically.
"""

from __future__ import annotations

import time
from pathlib import Path

from ganbench import hookimpl
from ganbench.callbacks import Callback

WAIT_S = 120.0  # a test that never opens the gate fails its run, not the whole session


class Gate(Callback):
    def __init__(self, at: int = 1, open: str = "", reached: str = "", seed: int = -1):  # -1: every run
        self.at, self.open, self.reached, self.seed = at, Path(open), Path(reached), seed

    def after_g_step(self, loop, step):
        if step != self.at or self.seed not in (-1, loop.cfg["seed"]):
            return
        self.reached.write_text(str(step))
        deadline = time.monotonic() + WAIT_S
        while not self.open.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"gate {self.open} never opened")
            time.sleep(0.05)


@hookimpl
def register_callbacks(register):
    register("gate", Gate)
