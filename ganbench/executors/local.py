"""The in-process executor: one run after another in the scheduler's own process."""

from __future__ import annotations

import dataclasses
import time

from ..job import Finished
from . import Executor


class LocalExecutor(Executor):
    """jobs=1, no worker process: the live registry (in-process plugins) is used as is."""

    name = "local"
    in_process = True
    packs = True

    @property
    def capacity(self) -> int:
        return 1

    def execution(self) -> dict:
        return {**super().execution(), "runs_per_device": 1}

    def run(self, jobs, report) -> None:
        import torch

        from ..build import Builder
        from ..job import run_job

        builder = self.options.builder or Builder(self.options.registry)
        threads = torch.get_num_threads()
        if self.options.threads:
            torch.set_num_threads(self.options.threads)
        try:
            for job in jobs:
                job = dataclasses.replace(job, device=self.options.devices[0], threads=torch.get_num_threads(), execution=self.execution())
                for record in run_job(job, builder, _with_deadline(report, self.options.timeout)):
                    report(Finished(record["id"], record))
        finally:
            torch.set_num_threads(threads)


def _with_deadline(report, timeout: float | None):
    """Fail a run that outlives --timeout at its next step (in-process: a plugin call that
    never returns cannot be stopped here; the process executor kills such a worker)."""
    if not timeout:
        return report
    deadline = time.monotonic() + timeout

    def emit(event):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the run took longer than --timeout {timeout:g} s")
        report(event)

    return emit
