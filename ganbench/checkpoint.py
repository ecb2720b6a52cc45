"""Checkpoints: everything a run needs to go on from a step as if it had never stopped.

A checkpoint is a run's ``engine.state.RunState.state_dict()``: G, D, both optimizers and
schedulers, the data order and every random number generator the loop draws from (torch
CPU and CUDA, Python, NumPy, the batch order's own generator), the step, the history so
far, the evaluator's clock and the best weights so far. It is taken at a log row (so no loss is half-averaged), written to a
temporary name and renamed, and read back with ``torch.load(weights_only=True)``: a file
planted in a run folder cannot run code. On the CPU with the same thread count a resumed
run ends with bitwise the metrics and history of the uninterrupted run.

When: ``checkpoint_every: auto`` (the default) after every ``AUTO_EVERY_S`` seconds of
training, ``N steps``/``N epochs``, or ``none``. Checkpointing changes no number, so it is
not part of a run's identity (its id). ``keep_best: METRIC`` keeps the weights of the best
evaluation by that metric in ``best.pt``, recorded in run.json as ``best``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_META = "checkpoint.json"  # {"step", "saved"}: readable without torch (status, scheduler)
BEST_FILE = "best.pt"
AUTO_EVERY_S = 600.0  # 10 minutes: a preempted run loses at most that, and saving is rare
FORMAT = 1


class CheckpointError(Exception):
    """A checkpoint that cannot be used (truncated, planted, or for another model)."""


def save(run_dir: Path, state: dict, name: str = CHECKPOINT_FILE) -> None:
    """Write `state` atomically as run_dir/name (and, for the checkpoint, its meta file)."""
    from .store import save_weights, write_atomic

    path = Path(run_dir) / name
    save_weights({"format": FORMAT, **state}, path)
    if name == CHECKPOINT_FILE:
        meta = {"step": state["step"], "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        write_atomic(path.with_name(CHECKPOINT_META), json.dumps(meta))


def load(run_dir: Path, device: torch.device, name: str = CHECKPOINT_FILE) -> dict:
    """The checkpoint in run_dir; CheckpointError (one line, naming the file) if unusable."""
    path = Path(run_dir) / name
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # truncated, not a torch file, or a pickle that wants to run code
        from .store import load_refusal

        raise CheckpointError(
            f"{path} cannot be loaded ({load_refusal(e)}); run the same command again to move it aside and start the run anew"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a ganbench checkpoint of format {FORMAT}; run the same command again to move it aside and start the run anew"
        )
    return state


def saved_step(run_dir: Path) -> int | None:
    """The step of run_dir's checkpoint (from its meta file), or None when there is none."""
    try:
        return int(json.loads((Path(run_dir) / CHECKPOINT_META).read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def discard(run_dir: Path) -> None:
    """A finished run keeps its final weights, not the state to resume it."""
    for name in (CHECKPOINT_FILE, CHECKPOINT_META):
        (Path(run_dir) / name).unlink(missing_ok=True)


RESUME_KEYS = ("step", "history", "G", "D", "opt_g", "sched", "batches", "rng")  # what a resume reads first


def checkpoint_problem(run_dir: Path, cfg: dict, builder) -> str | None:
    """Why run_dir's checkpoint cannot be resumed from by a run of `cfg` (one line), or
    None. Checked by the scheduler before it hands a run its checkpoint: the file must be
    a torch archive (torch.save's zip), hold only tensors and plain data (weights_only: a
    planted pickle never runs), be a ganbench checkpoint of this FORMAT, and fit the run's
    G and D (another architecture or width is refused), all read on the CPU."""
    import warnings
    import zipfile

    from .store import load_refusal, mismatch_detail

    path = Path(run_dir) / CHECKPOINT_FILE
    if not zipfile.is_zipfile(path):
        return f"{CHECKPOINT_FILE} is not a torch archive: truncated, or a raw pickle"
    try:
        with warnings.catch_warnings():  # torch warns on a pickle protocol it did not write
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        return f"{CHECKPOINT_FILE} cannot be loaded safely ({load_refusal(e)})"
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        return f"{CHECKPOINT_FILE} is not a ganbench checkpoint of format {FORMAT}"
    missing = [k for k in RESUME_KEYS if k not in state]
    if missing:
        return f"{CHECKPOINT_FILE} lacks {', '.join(missing)}"
    try:
        data = builder.data(cfg["dataset"])
        with torch.random.fork_rng(devices=[]):
            models = builder.models(cfg, data)
    except BaseException as e:  # the run cannot be built (even sys.exit): it fails with that reason, not this one
        if isinstance(e, KeyboardInterrupt):
            raise
        return None
    for key, module in (("G", models.generator), ("D", models.discriminator)):
        try:
            module.load_state_dict(state[key])
        except (RuntimeError, ValueError, KeyError, TypeError, AttributeError) as e:
            return f"its {key} does not fit this run's model ({mismatch_detail(e)})"
    return None
