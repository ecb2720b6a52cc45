"""A launch-free step on CUDA: the whole training step captured once in a CUDA graph and
replayed (`cuda_graphs: auto | true | false`).

A small GAN's step is a few hundred short kernels, each paying a launch from Python; a
replayed graph launches them all at once. What the capture needs, and how it is met:

- static inputs: each real batch the step takes is gathered inside the graph from a
  fixed index buffer, which the host fills before each replay (the data order, and its
  reshuffles, stay outside);
- no host syncs inside the step: optimizers are built `capturable` (their step count on
  the device); fp16's GradScaler checks for infinities on the host, so fp16 is not graphed;
- random numbers: latents come from the default CUDA generator (unpacked) or the seeds'
  own generators (packed), registered with the graph so each replay draws fresh numbers;
- what is baked into the graph: learning rates (the graph is captured again when a
  scheduler changes them, once an epoch at most) and each callback's Python-side choices
  (a callback declares from which step it is graph-safe: `Callback.graph_safe_after`);
- the step's phases are not timed apart (d_step_ms, g_step_ms are not measured).

``unsupported`` says why a run cannot be graphed; ``GraphedStep`` wraps a Step. Whether it
pays, and whether it gives the eager numbers within tolerance, is measured by
benchmarks/gpu_check.sh; `auto` stays off until such a measurement shows a gain.
"""

from __future__ import annotations

import torch

WARMUP = 3  # eager steps on a side stream before capture (optimizer state, cuDNN's algorithm choice)


def wanted(setting, device: torch.device) -> bool:
    """Whether `cuda_graphs` asks for graphs on this device (auto: not until measured)."""
    return setting is True and device.type == "cuda"


def unsupported(cfg: dict, callbacks: list, pair, opts: list) -> str | None:
    """Why this run's step cannot be captured (one line), or None."""
    if cfg.get("precision") == "fp16":
        return "precision fp16: GradScaler checks for infinities on the host"
    if hasattr(pair, "labels") or getattr(pair, "augment", None) is not None:
        return "conditional runs and augmented D inputs are not graphed yet"
    for cb in callbacks:
        if getattr(cb, "graph_safe_after", None) is None:
            return f"callback {type(cb).__name__} does not declare graph_safe_after"
    if getattr(pair, "has_penalty", False):
        return "a packed loss penalty draws from each seed's swapped-in global stream"
    for opt in opts:
        if opt is not None and not isinstance(opt, torch.optim.SGD) and not opt.defaults.get("capturable", False):
            return f"optimizer {type(opt).__name__} has no capturable implementation in torch {torch.__version__}"
    if hasattr(pair, "streams") and isinstance(pair.streams, list) and not hasattr(torch.cuda.CUDAGraph, "register_generator_state"):
        return f"torch {torch.__version__} cannot register the seeds' own generators with a graph"
    return None


class _NoTimer:
    def start(self, step: int) -> None: ...
    def mid(self) -> None: ...
    def stop(self, d_updates: int) -> None: ...


class StaticReal:
    """The step's real batches through fixed index buffers: `fill` (outside the graph)
    copies the next indices into them, each call inside the step gathers one batch."""

    def __init__(self, source, calls: int):
        self.source, self.calls = source, calls  # Batches or StackedBatches
        self.buffers: list[torch.Tensor] = []
        self.i = 0

    def fill(self) -> None:
        for j in range(self.calls):
            idx = self.source.indices()
            if len(self.buffers) <= j:
                self.buffers.append(torch.empty_like(idx))
            self.buffers[j].copy_(idx, non_blocking=True)
        self.i = 0

    def __call__(self) -> torch.Tensor:
        x = self.source.take(self.buffers[self.i])
        self.i += 1
        return x


class GraphedStep:
    """A Step captured in a CUDA graph and replayed (see the module docstring)."""

    def __init__(self, step, batches, callbacks: list, device: torch.device):
        self.step, self.device, self.timer = step, device, step.timer
        calls = step.n_disc + (1 if step.g_needs_real else 0) + (0 if step.n_disc else 1)
        self.real = StaticReal(batches, calls)
        step.real, step.timer = self.real, _NoTimer()
        self.safe_after = max([0] + [cb.graph_safe_after for cb in callbacks])
        self.graph: torch.cuda.CUDAGraph | None = None
        self.out: torch.Tensor | None = None
        self.lrs: tuple | None = None
        self.eager = 0
        self.captures = 0

    # the loop's view of a Step
    @property
    def pair(self):
        return self.step.pair

    def keep(self, live: list[bool]) -> None:
        self.step.keep(live)
        self.graph = None  # a masked seed's callbacks are no longer called: capture again

    def _lrs(self) -> tuple:
        return tuple(g["lr"] for opt in (self.step.opt_g, self.step.opt_d) if opt is not None for g in opt.param_groups)

    def __call__(self, i: int) -> torch.Tensor:
        self.real.fill()
        if self.eager < WARMUP or i <= self.safe_after:  # warm-up, and steps where a callback is not graph-safe yet
            self.eager += 1
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                out = self.step(i)
            torch.cuda.current_stream(self.device).wait_stream(side)
            return out
        if self.graph is None or self._lrs() != self.lrs:
            self._capture(i)
            return self.out.clone()  # capturing ran the step once
        self.graph.replay()
        return self.out.clone()

    def _capture(self, i: int) -> None:
        graph = torch.cuda.CUDAGraph()
        for stream in getattr(self.step.pair, "streams", None) or []:
            if getattr(stream, "cuda", None) is not None:
                graph.register_generator_state(stream.cuda)
        self.real.i = 0
        with torch.cuda.graph(graph):
            self.out = self.step(i)
        self.graph, self.lrs = graph, self._lrs()
        self.captures += 1
        graph.replay()  # capture records the step without running it
