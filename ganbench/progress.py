"""What `ganbench run` shows while a suite trains; it lives in the scheduler only.

On a terminal: one suite bar with ETA and one line per running run (run id, device,
step/total, the last logged D and G losses). Elsewhere (a SLURM log, nohup, CI): plain
lines, a status line every ``GANBENCH_PROGRESS_EVERY`` seconds (default 30) besides one
line per started and finished run. Either way each finished run gets a line with its
status, headline metric and throughput.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .job import Finished, Notice, Started
from .job import Progress as RunProgress
from .store import DIVERGED, FAILED, TRACEBACK_FILE

PLAIN_EVERY_S = 30.0
PLAIN_EVERY_ENV = "GANBENCH_PROGRESS_EVERY"
HEADLINES = ("fid_domain", "fid", "modes_covered", "high_quality_frac")  # the first one present is shown


class SuiteDisplay:
    def __init__(self, console: Console, suite: str, total: int, capacity: int):
        self.console, self.suite, self.total = console, suite, total
        self.done = 0
        self.t0 = time.monotonic()
        self.runs: dict[str, dict] = {}  # run id -> {device, step, total, d, g, task}
        self.live = console.is_terminal
        self.every = _plain_every()
        self.last_plain = self.t0
        self.progress = None
        if self.live:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
            )
            self.progress = Progress(*columns, console=console)
            self.progress.start()
            self.suite_task = self.progress.add_task(f"suite {suite} ({capacity} at once)", total=total)
        else:
            self._print(f"{suite}: {total} runs to train, {capacity} at once")

    # ------------------------------------------------------------ events

    def event(self, event) -> None:
        if isinstance(event, Started):
            run = self.runs.setdefault(event.run_id, {"step": 0, "total": None, "d": None, "g": None})
            run["device"] = event.device
            if self.live:
                run["task"] = self.progress.add_task(self._describe(event.run_id), total=None)
            else:
                self._print(f"started {event.run_id} on {event.device} ({event.host})")
        elif isinstance(event, RunProgress):
            run = self.runs.setdefault(event.run_id, {"device": "?", "d": None, "g": None})
            run.update(step=event.step, total=event.total)
            if event.d_loss is not None:
                run.update(d=event.d_loss, g=event.g_loss)
            if self.live and "task" in run:
                self.progress.update(run["task"], completed=event.step, total=event.total, description=self._describe(event.run_id))
        elif isinstance(event, Finished):
            run = self.runs.pop(event.run_id, None)
            if self.live and run and "task" in run:
                self.progress.remove_task(run["task"])
        elif isinstance(event, Notice):
            self.message(f"{event.run_id}: {event.text}" if event.run_id else event.text)  # "": the executor's own line
        if not self.live and time.monotonic() - self.last_plain >= self.every:
            self._status_lines()

    def finished(self, record: dict, path: Path) -> None:
        self.done += 1
        if self.live:
            self.progress.advance(self.suite_task)
        self._print(f"[{self.done}/{self.total}] {record['id']}: {record['status']} ({_detail(record, path)})")

    def skip(self) -> None:
        """A run another ganbench finished or holds: it leaves this suite's count."""
        self.total -= 1
        if self.live:
            self.progress.update(self.suite_task, total=self.total)

    def message(self, text: str) -> None:
        self._print(text)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    # ------------------------------------------------------------ helpers

    def _describe(self, run_id: str) -> str:
        run = self.runs[run_id]
        losses = f" D {run['d']:.3f} G {run['g']:.3f}" if run.get("d") is not None and run.get("g") is not None else ""
        return f"  {run_id} [{run.get('device', '?')}]{losses}"

    def _status_lines(self) -> None:
        self.last_plain = time.monotonic()
        elapsed = self.last_plain - self.t0
        eta = f", ETA {_duration(elapsed / self.done * (self.total - self.done))}" if self.done else ""
        self._print(f"{self.suite}: {self.done}/{self.total} done after {_duration(elapsed)}{eta}")
        for run_id, run in self.runs.items():
            step = f"step {run.get('step', 0)}/{run.get('total') or '?'}"
            losses = f", D {run['d']:.3f} G {run['g']:.3f}" if run.get("d") is not None and run.get("g") is not None else ""
            self._print(f"  {run_id} [{run.get('device', '?')}]: {step}{losses}")

    def _print(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)  # a log line is never cut mid-phrase


def _detail(record: dict, path: Path) -> str:
    m = record.get("metrics") or {}
    if record["status"] == FAILED:
        return f"{record.get('error')} (see {path / TRACEBACK_FILE})" if (path / TRACEBACK_FILE).exists() else str(record.get("error"))
    parts = [f"{m.get('wall_s') or 0:.1f} s", f"{m.get('train_img_per_s') or 0:.0f} img/s"]
    for key in HEADLINES:
        if m.get(key) is not None:
            parts.insert(0, f"{key} {m[key]:.4g}")
            break
    if record["status"] == DIVERGED:
        parts.append(f"diverged at step {record.get('diverged_at_step')}")
    failed = record.get("metric_failures")
    if isinstance(failed, dict) and failed:  # the run trained; these are missing until `ganbench eval`
        parts.append("metric " + "; ".join(f"{name} failed: {why}" for name, why in failed.items()))
    return ", ".join(parts)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def _plain_every() -> float:
    try:
        return max(0.0, float(os.environ.get(PLAIN_EVERY_ENV, PLAIN_EVERY_S)))
    except ValueError:
        return PLAIN_EVERY_S
