"""Per-phase step timing and peak memory, measured inside the training loop.

Only a sample of steps is timed, so the loop pays nearly nothing: on a GPU the timed
steps record CUDA events (no synchronization; they are read once, after the loop), on a
CPU they read the clock. The summary is the median, robust to the odd slow step (GC,
another process).
"""

from __future__ import annotations

import os
import resource
import statistics
import time

import torch

from .. import keys

FIRST_TIMED_STEP = 3  # steps 1-2 pay for allocations and kernel selection
DENSE_UNTIL = 12  # time every step up to here (short runs still get samples) ...
SAMPLE_EVERY = 10  # ... then one step in ten
MAX_SAMPLES = 1000  # bounded memory for the events of very long runs


class StepTimer:
    """start(step) before D's updates, mid() between D and G, stop(d_updates) after G's update."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.device = device
        self.samples: list[tuple] = []  # CUDA: (start, mid, end, d_updates) events; CPU: (d_s, g_s, d_updates)
        self.peak_rss = 0
        self._on = False
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(device)

    def _mark(self):
        if self.cuda:
            e = torch.cuda.Event(enable_timing=True)
            e.record(torch.cuda.current_stream(self.device))
            return e
        return time.perf_counter()

    def start(self, step: int) -> None:
        self._on = step >= FIRST_TIMED_STEP and (step <= DENSE_UNTIL or step % SAMPLE_EVERY == 0) and len(self.samples) < MAX_SAMPLES
        if self._on:
            self._t0 = self._mark()

    def mid(self) -> None:
        if self._on:
            self._t1 = self._mark()

    def stop(self, d_updates: int) -> None:
        if not self._on:
            return
        t2 = self._mark()
        if self.cuda:
            self.samples.append((self._t0, self._t1, t2, d_updates))
        else:
            self.samples.append((self._t1 - self._t0, t2 - self._t1, d_updates))
            self.peak_rss = max(self.peak_rss, _rss_bytes())

    def summary(self) -> dict:
        """{d_step_ms, g_step_ms, peak_mem_mb}; NaN when no step was timed."""
        if self.cuda:
            torch.cuda.synchronize(self.device)
            rows = [(a.elapsed_time(b) / 1e3, b.elapsed_time(c) / 1e3, n) for a, b, c, n in self.samples]
            peak_mb = torch.cuda.max_memory_allocated(self.device) / 2**20
        else:
            rows = self.samples
            peak_mb = max(self.peak_rss, _rss_bytes()) / 2**20
        nan = float("nan")
        d = [ds / n for ds, _, n in rows if n]  # per D update (n_disc of them per step)
        g = [gs for _, gs, _ in rows]
        return {
            keys.D_STEP_MS: statistics.median(d) * 1e3 if d else nan,
            keys.G_STEP_MS: statistics.median(g) * 1e3 if g else nan,
            keys.PEAK_MEM_MB: peak_mb,
        }


def _rss_bytes() -> int:
    """The process's resident memory now (Linux /proc), else its lifetime peak."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
