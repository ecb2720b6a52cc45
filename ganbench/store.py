"""The results store: DIR/<suite>/<run id>/ folders that are either whole or absent.

A run is written into a hidden temporary folder beside its final place and renamed into
place only once everything in it, ``run.json`` last, is on disk. A process killed at any
moment therefore leaves either the previous state or the finished run, never a run that
claims to be complete with files missing; leftovers are cleaned up on the next start.
"""

from __future__ import annotations

import json
import os
import shutil
import time
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
    tmp = path.with_name(f".{path.name}{_TMP}{os.getpid()}")
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
        self.dir.mkdir(parents=True, exist_ok=True)
        self.recover()

    def recover(self) -> None:
        """Undo what a killed process left: half-written runs and interrupted swaps."""
        for p in self.dir.iterdir():
            name = p.name
            if not name.startswith(".") or not p.is_dir():
                continue
            for marker in (_TMP, _OLD):
                if marker in name:
                    run_id, _, pid = name[1:].rpartition(marker)
                    if _alive(pid):
                        break  # another ganbench is writing this run right now
                    final = self.dir / run_id
                    if marker == _OLD and not final.exists():
                        os.rename(p, final)  # killed mid-swap: the old run comes back
                    else:
                        shutil.rmtree(p, ignore_errors=True)
                    break

    def path(self, run_id: str) -> Path:
        return self.dir / run_id

    def status(self, run_id: str) -> str | None:
        """The recorded status of a run, or None if it has no readable run.json."""
        try:
            return json.loads((self.path(run_id) / RUN_FILE).read_text()).get("status")
        except (OSError, ValueError, AttributeError):
            return None

    def begin(self, run_id: str) -> Path:
        """A fresh temporary folder to write a run into."""
        tmp = self.dir / f".{run_id}{_TMP}{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / GRID_DIR).mkdir(parents=True)
        return tmp

    def commit(self, tmp: Path, run_id: str, record: dict) -> Path:
        """Write run.json into `tmp`, then move the whole folder into place atomically."""
        write_json(tmp / RUN_FILE, record)
        _fsync_dir(tmp)
        final = self.path(run_id)
        old = self.dir / f".{run_id}{_OLD}{os.getpid()}"
        if final.exists():
            os.rename(final, old)  # the previous run stays whole until the new one is in
        os.rename(tmp, final)
        _fsync_dir(self.dir)
        shutil.rmtree(old, ignore_errors=True)
        return final


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _alive(pid: str) -> bool:
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
