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

import copy
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from .suggest import first_line

RUN_FILE = "run.json"
HISTORY_FILE = "history.csv"
TRACEBACK_FILE = "traceback.txt"
GRID_DIR = "grids"
G_WEIGHTS, D_WEIGHTS = "G.pt", "D.pt"  # final state dicts (git-ignored)

# Run statuses. complete and diverged are outcomes of a finished run; failed means a
# plugin or the harness raised, and is retried on the next `ganbench run`.
COMPLETE, DIVERGED, FAILED = "complete", "diverged", "failed"
FINISHED = (COMPLETE, DIVERGED)

STATUSES = (COMPLETE, DIVERGED, FAILED)
MAX_RUN_JSON = 64 << 20  # a run.json larger than this is not one ganbench wrote

_TMP, _OLD = ".tmp-", ".old-"
DAMAGED_DIR = ".damaged"  # unusable checkpoints, kept for inspection (ResultsStore.set_aside)


class DamagedRun(ValueError):
    """A run folder whose run.json (or history) is not what ganbench writes; one line."""


def read_run(run_dir: Path) -> dict:
    """The validated run.json of a run folder: the one definition of a readable run, used
    by `ganbench run` (a damaged run is trained again) and the report (a damaged run is
    listed as damaged). Raises DamagedRun saying what is wrong."""
    path = Path(run_dir) / RUN_FILE
    try:
        if not path.is_file():  # a FIFO or a device would block or never end
            raise DamagedRun(f"{path}: not a regular file")
        if path.stat().st_size > MAX_RUN_JSON:
            raise DamagedRun(f"{path}: {path.stat().st_size:,} bytes, not a run.json ganbench wrote")
        rec = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise DamagedRun(f"{path}: cannot read ({_first_line(e)})") from None
    except RecursionError:
        raise DamagedRun(f"{path}: corrupt run.json (nested too deeply)") from None
    except ValueError as e:
        if isinstance(e, DamagedRun):
            raise
        raise DamagedRun(f"{path}: corrupt run.json (not valid JSON: {_first_line(e)})") from None
    if not isinstance(rec, dict):
        raise DamagedRun(f"{path}: corrupt run.json (not a JSON object)")
    for key, kind in (("id", str), ("suite", str), ("status", str), ("config", dict)):
        if not isinstance(rec.get(key), kind):
            raise DamagedRun(f"{path}: corrupt run.json (`{key}` missing or not a {kind.__name__})")
    if not isinstance(rec.get("cell", {}), dict):
        raise DamagedRun(f"{path}: corrupt run.json (`cell` must map matrix axes to values)")
    seed = rec.get("seed", rec["config"].get("seed"))
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise DamagedRun(f"{path}: corrupt run.json (`seed` must be an integer, got {str(seed)[:40]!r})")
    if rec["status"] not in STATUSES:
        raise DamagedRun(f"{path}: unknown status {rec['status'][:40]!r} (expected one of {', '.join(STATUSES)})")
    metrics = rec.get("metrics") or {}
    if not isinstance(metrics, dict) or not all(
        v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in metrics.values()
    ):
        raise DamagedRun(f"{path}: corrupt run.json (`metrics` must map names to numbers or null)")
    rec["metrics"] = metrics
    notes = rec.get("notes")  # one-line remarks: a hand-edited run.json may hold one string
    rec["notes"] = [notes] if isinstance(notes, str) else [n for n in notes if isinstance(n, str)] if isinstance(notes, list) else []
    if rec["status"] in FINISHED:
        _check_history(Path(run_dir) / HISTORY_FILE)
    return rec


def _check_history(path: Path) -> None:
    """A finished run's history.csv: a regular, text file whose header has a `step` column."""
    try:
        if not path.is_file():
            raise DamagedRun(f"{path}: missing (a finished run has a history)")
        with open(path, "rb") as f:
            head = f.read(65536)
        header = head.split(b"\n", 1)[0].decode("utf-8")
    except UnicodeDecodeError:
        raise DamagedRun(f"{path}: not a text file") from None
    except OSError as e:
        raise DamagedRun(f"{path}: cannot read ({_first_line(e)})") from None
    if "step" not in header.strip().split(","):
        raise DamagedRun(f"{path}: not a ganbench history (no `step` column)")


def _first_line(e: BaseException) -> str:  # cut to 200 characters: a DamagedRun is one line of a report
    return first_line(e)[:200]


def load_refusal(e: BaseException) -> str:
    """Why torch.load(weights_only=True) refused a file, in ganbench's words: the file is
    not weights ganbench can load safely. torch's own message goes on to advise retrying
    with weights_only=False, which would run whatever code the pickle names: never relayed."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    named = next((m[1] for line in lines if (m := re.search(r"GLOBAL\s+([\w.]+)", line))), None)  # e.g. posix.system
    if named:
        return f"it needs {named[:120]}, which only running code could rebuild, and ganbench never runs code from a file"
    if any("weights only" in line.lower() or "weights_only" in line for line in lines):
        return "it holds more than tensors and plain data, and ganbench never runs code from a file"
    return (lines[0] if lines else type(e).__name__)[:200]


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write a file so that readers see either the old content or all of the new."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}{_TMP}{uuid.uuid4().hex}")
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves nothing half-written behind
        raise


def write_json(path: Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


class ResultsStore:
    """The run folders of one suite under a results root."""

    def __init__(self, root: str | Path, suite: str):
        self.dir = Path(root) / suite

    def create(self) -> "ResultsStore":
        self.dir.mkdir(parents=True, exist_ok=True)
        return self

    def check_writable(self) -> None:
        """OSError unless a run folder can be made in the suite's folder (an existing folder
        may be read-only, or on a read-only mount: resuming into it must fail up front)."""
        probe = Path(tempfile.mkdtemp(prefix=".probe-", dir=self.dir))
        probe.rmdir()

    def recover(self, live_tokens: set[str] = frozenset(), keep_checkpoints: bool = True) -> None:
        """Undo what killed processes left: half-written runs and interrupted swaps.

        A temporary folder whose token is in `live_tokens` is being written right now
        (by this host or another) and is left alone; so is a killed run's folder holding a
        checkpoint to resume from (``resumable``), unless `keep_checkpoints` is false
        (``--rerun``) or the run has finished since.
        """
        for p in self.dir.iterdir():
            name = p.name
            if not name.startswith(".") or not (p.is_dir() or p.is_symlink()):
                continue
            for marker in (_TMP, _OLD):
                if marker in name:
                    run_id, _, token = name[1:].rpartition(marker)
                    if token in live_tokens:
                        break
                    final = self.dir / run_id
                    if p.is_symlink():
                        p.unlink()  # never ganbench's: remove the link, never what it points to
                    elif marker == _OLD and not final.exists():
                        os.rename(p, final)  # killed mid-swap: the old run comes back
                    elif marker == _TMP and keep_checkpoints and _has_checkpoint(p) and self.status(run_id) not in FINISHED:
                        pass  # a killed run's progress: the next claim of it resumes from here
                    else:
                        _remove(p)
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
        """The recorded status of a run, or None when it has none or is damaged (read_run)."""
        try:
            return read_run(self.path(run_id))["status"]
        except DamagedRun:
            return None

    def damage(self, run_id: str) -> str | None:
        """Why an existing run folder is damaged, or None (absent or readable)."""
        if not self.path(run_id).exists():
            return None
        try:
            read_run(self.path(run_id))
        except DamagedRun as e:
            return str(e)
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

    def drop_attempts(self, run_id: str, keep) -> None:
        """Remove the temporary folders of `run_id` other than those in `keep`: killed
        attempts, each holding a checkpoint, when the caller holds the run's claim."""
        kept = {Path(k).resolve() for k in keep if k is not None}
        for p in self.dir.glob(f".{run_id}{_TMP}*"):
            if p.resolve() not in kept and (p.is_dir() or p.is_symlink()):
                p.unlink() if p.is_symlink() else _remove(p)

    def set_aside(self, folder: Path, run_id: str, why: str) -> Path:
        """Move `folder`'s checkpoint, unusable because `why`, into
        ``<suite>/.damaged/<run id>-<time>/`` (with why.txt) for inspection; the run then
        trains from the start. Nothing in .damaged is ever read or removed by ganbench."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        where = self.dir / DAMAGED_DIR / f"{run_id}-{stamp}-{uuid.uuid4().hex[:4]}"
        where.mkdir(parents=True)
        for name in ("checkpoint.pt", "checkpoint.json"):
            if (folder / name).exists():
                os.replace(folder / name, where / name)
        (where / "why.txt").write_text(why + "\n")
        return where


def _remove(folder: Path) -> None:
    """rmtree that also clears read-only folders (a run folder someone chmod-ed)."""
    import stat

    def writable_and_retry(func, path, _exc):
        try:
            os.chmod(os.path.dirname(path), stat.S_IRWXU)
            os.chmod(path, stat.S_IRWXU)
            func(path)
        except OSError:
            pass

    shutil.rmtree(folder, onerror=writable_and_retry)


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


class WeightsError(ValueError):
    """A weights file that cannot be used; the message is one line naming the file."""


def load_weights(path: Path, map_location="cpu") -> dict:
    """A state dict from G.pt/D.pt/best.pt, read safely (weights_only: no code runs)."""
    import torch

    path = Path(path)
    if not path.exists():
        raise WeightsError(f"{path}: no such file")
    if not path.is_file():  # a directory, /dev/zero, a FIFO: never read it
        raise WeightsError(f"{path}: not a regular file")
    import warnings
    import zipfile

    if not zipfile.is_zipfile(path):  # torch.save has written zip archives since torch 1.6
        raise WeightsError(f"{path}: not a readable torch weights file (not a torch archive: truncated, or a raw pickle)")
    try:
        with warnings.catch_warnings():  # torch's pickle-protocol warning would be the first line on stderr
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated, or a pickle that wants to run code
        raise WeightsError(f"{path}: not a weights file ganbench can load safely ({load_refusal(e)})") from None
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: holds a {type(state).__name__}, not a state dict")
    return state


def fit_weights(module, state: dict, path: Path) -> None:
    """module.load_state_dict(state), with a one-line summary when they do not fit."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError) as e:
        raise WeightsError(f"{path}: does not fit this model ({mismatch_detail(e)})") from None


def mismatch_detail(e: BaseException, limit: int = 300) -> str:
    """What load_state_dict's error says does not fit, on one line: its first line is only
    "Error(s) in loading state_dict for MLPGenerator:", the mismatches follow it."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    detail = "; ".join(lines[1:3]) if len(lines) > 1 else (lines[0] if lines else type(e).__name__)
    return detail[:limit]


def save_weights(state: dict, path: Path) -> None:
    """torch.save, atomically: a full disk leaves no truncated weights file behind and
    fails with the OS's reason (torch's own writer says only "iostream error")."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(_own_storage(state, torch), buffer)
    write_atomic(path, buffer.getvalue())


def _own_storage(obj, torch):
    """obj with every tensor that views a larger storage copied out: torch.save writes a
    view's whole storage, so one packed seed's weights (views of the pack's stacked tensors,
    engine.packed) would otherwise be saved with every seed's."""
    if isinstance(obj, torch.Tensor):
        return obj.clone() if obj.untyped_storage().nbytes() > obj.numel() * obj.element_size() else obj
    if isinstance(obj, dict):
        out = copy.copy(obj)  # keeps an OrderedDict's type and a state_dict's _metadata
        out.update((k, _own_storage(v, torch)) for k, v in obj.items())
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_own_storage(v, torch) for v in obj)
    return obj
