"""Which runs of a suite train together as one pack (``pack`` in the run config).

A pack is runs of one cell that differ only in their seed, trained in one worker as one
stacked model (``ganbench.engine.packed``); an executor runs it as one job. ``pack: auto``
packs every seed of a cell (up to AUTO_MAX) on CUDA and nothing on the CPU; ``N`` packs at
most N; ``none`` never. Whether the models can be packed is checked by the worker, which
trains them one after another, saying why, when they cannot.
"""

from __future__ import annotations

import json

AUTO_MAX = 32  # seeds per pack under `auto`: a cell rarely has more, and memory grows with it


def pack_size(setting, device_type: str) -> int:
    """How many seeds one pack may hold under `setting` on this device type."""
    if setting == "auto":
        return AUTO_MAX if device_type == "cuda" else 1
    if setting == "none":
        return 1
    return int(setting)


def group(runs: list, device_type: str, executor_packs: bool = True) -> list[list]:
    """`runs` (suite.Run) in packs, in order of each pack's first run; a run alone is a
    pack of one. executor_packs: whether the executor takes packs at all."""
    packs: dict[str, list[list]] = {}
    order: list[list] = []
    for run in runs:
        size = pack_size(run.config.get("pack", "none"), device_type) if executor_packs else 1
        key = json.dumps({k: v for k, v in run.config.items() if k != "seed"}, sort_keys=True, default=str)
        open_packs = packs.setdefault(key, [])
        if open_packs and len(open_packs[-1]) < size:
            open_packs[-1].append(run)
            continue
        pack = [run]
        open_packs.append(pack)
        order.append(pack)
    return order
