"""The results store: DIR/<suite>/<run id>/ folders that are either whole or absent.

A run is written into a hidden temporary folder beside its final place and renamed into
place only once everything in it, ``run.json`` last, is on disk. A process killed at any
moment therefore leaves either the previous state or the finished run, never a run that
claims to be complete with files missing.

Temporary folders are named by the token of the run's claim (``ganbench.claims``: host,
pid and a random part), so many processes on many hosts can write one suite folder;
``recover`` cleans up only what no live claim owns, and is an explicit step of the
scheduler, never a side effect of opening the store.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

RUN_FILE = "run.json"
HISTORY_FILE = "history.csv"
TRACEBACK_FILE = "traceback.txt"
GRID_DIR = "grids"
G_WEIGHTS, D_WEIGHTS = "G.pt", "D.pt"  # final state dicts (git-ignored)

# Run statuses. complete and diverged are outcomes of a finished run; failed means a
# plugin or the harness raised, and is retried on the next `ganbench run`.
COMPLETE, DIVERGED, FAILED = "complete", "diverged", "failed"
FINISHED = (COMPLETE, DIVERGED)

_TMP, _OLD = ".tmp-", ".old-"


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write a file so that readers see either the old content or all of the new."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}{_TMP}{uuid.uuid4().hex}")
    with open(tmp, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json(path: Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


class ResultsStore:
    """The run folders of one suite under a results root."""

    def __init__(self, root: str | Path, suite: str):
        self.dir = Path(root) / suite

    def create(self) -> "ResultsStore":
        self.dir.mkdir(parents=True, exist_ok=True)
        return self

    def recover(self, live_tokens: set[str] = frozenset(), keep_checkpoints: bool = True) -> None:
        """Undo what killed processes left: half-written runs and interrupted swaps.

        A temporary folder whose token is in `live_tokens` is being written right now
        (by this host or another) and is left alone; so is a killed run's folder holding a
        checkpoint to resume from (``resumable``), unless `keep_checkpoints` is false
        (``--rerun``) or the run has finished since.
        """
        for p in self.dir.iterdir():
            name = p.name
            if not name.startswith(".") or not p.is_dir() or p.is_symlink():
                continue
            for marker in (_TMP, _OLD):
                if marker in name:
                    run_id, _, token = name[1:].rpartition(marker)
                    if token in live_tokens:
                        break
                    final = self.dir / run_id
                    if marker == _OLD and not final.exists():
                        os.rename(p, final)  # killed mid-swap: the old run comes back
                    elif marker == _TMP and keep_checkpoints and _has_checkpoint(p) and self.status(run_id) not in FINISHED:
                        pass  # a killed run's progress: the next claim of it resumes from here
                    else:
                        shutil.rmtree(p, ignore_errors=True)
                    break

    def resumable(self, run_id: str, live_tokens: set[str]) -> Path | None:
        """The folder to resume `run_id` from: a killed attempt's temporary folder or a
        failed run's folder that holds a checkpoint (the furthest one), else None."""
        candidates = [p for p in self.dir.glob(f".{run_id}{_TMP}*") if p.name.rpartition(_TMP)[2] not in live_tokens]
        if self.status(run_id) == FAILED:
            candidates.append(self.path(run_id))
        steps = [(_checkpoint_step(p), p) for p in candidates if _has_checkpoint(p)]
        return max(steps, key=lambda sp: sp[0])[1] if steps else None

    def adopt(self, source: Path, tmp: Path) -> None:
        """Make `source` (see `resumable`) the run's temporary folder `tmp`."""
        shutil.rmtree(tmp, ignore_errors=True)
        os.rename(source, tmp)
        (tmp / RUN_FILE).unlink(missing_ok=True)  # a failed run's record: the attempt writes its own
        (tmp / GRID_DIR).mkdir(exist_ok=True)

    def path(self, run_id: str) -> Path:
        return self.dir / run_id

    def status(self, run_id: str) -> str | None:
        """The recorded status of a run, or None if it has no readable run.json."""
        try:
            return json.loads((self.path(run_id) / RUN_FILE).read_text()).get("status")
        except (OSError, ValueError, AttributeError):
            return None

    def begin(self, run_id: str, token: str) -> Path:
        """A fresh temporary folder, owned by the claim `token`, to write a run into."""
        tmp = self.dir / f".{run_id}{_TMP}{token}"
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / GRID_DIR).mkdir(parents=True)
        return tmp

    def commit(self, tmp: Path, run_id: str, record: dict, token: str) -> tuple[Path, bool]:
        """Write run.json into `tmp`, then move the whole folder into place atomically.

        A failed attempt never replaces a finished run (a `--rerun` that fails keeps the
        good one): it is discarded, and (path, False) says so.
        """
        final = self.path(run_id)
        if record.get("status") == FAILED and self.status(run_id) in FINISHED:
            shutil.rmtree(tmp, ignore_errors=True)
            return final, False
        write_json(tmp / RUN_FILE, record)
        _fsync_dir(tmp)
        old = self.dir / f".{run_id}{_OLD}{token}"
        if final.exists():
            os.rename(final, old)  # the previous run stays whole until the new one is in
        os.rename(tmp, final)
        _fsync_dir(self.dir)
        shutil.rmtree(old, ignore_errors=True)
        return final, True

    def discard(self, tmp: Path) -> None:
        shutil.rmtree(tmp, ignore_errors=True)


def _has_checkpoint(folder: Path) -> bool:
    return (folder / "checkpoint.json").is_file() and (folder / "checkpoint.pt").is_file()


def _checkpoint_step(folder: Path) -> int:
    try:
        return int(json.loads((folder / "checkpoint.json").read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return -1


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
