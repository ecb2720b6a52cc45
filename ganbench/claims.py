"""Claims: which process is training which run, so that no run is ever trained twice.

Before a run is trained, its scheduler claims it: ``<suite>/.claims/<run id>.json`` holds
the claimant's host, pid, a unique token and when it started. Every claim operation holds
one file lock per suite (``filelock``), so two ``ganbench run`` on one results folder, on
one host or on several sharing the folder, split the runs between them: each run is
trained exactly once.

A claim is *live* while its holder keeps it fresh (it touches the file every
``HEARTBEAT_S``). It is *stale*, and the next scheduler takes it over with a message,
when its content is not a claim (garbage, empty: claims are written whole, by rename, so
this is never a writer mid-way); when its holder is on this host and its pid is gone, or
now belongs to another process (a pid reused after a reboot or a wrap: the claim records
its holder's start time, ``pid_start``, and a claim without one is its holder's only if
that process's command line names ganbench); or when nobody touched it for
``GANBENCH_CLAIM_TIMEOUT`` seconds (default ``CLAIM_TIMEOUT_S``; the only way to tell
that a holder on another host died).

The token names the run's temporary folder in the store (``.<run id>.tmp-<token>``), so
a folder whose token has no live claim is a leftover of a dead process and is cleaned up,
while one being written by a live process, on any host, is left alone.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

CLAIM_DIR = ".claims"
CLAIM_TIMEOUT_S = 600.0  # 20 missed heartbeats: a holder on another host is surely gone
HEARTBEAT_S = 30.0
TIMEOUT_ENV = "GANBENCH_CLAIM_TIMEOUT"

_HELD: set[str] = set()  # tokens this process holds: its own pid is alive, its claims may not be


def hostname() -> str:
    """This host's name, safe in a file name."""
    return re.sub(r"[^A-Za-z0-9.-]+", "-", socket.gethostname()) or "host"


def new_token() -> str:
    """Unique across hosts and processes: host, pid, and randomness against pid reuse."""
    return f"{hostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def claim_timeout() -> float:
    try:
        return float(os.environ.get(TIMEOUT_ENV, CLAIM_TIMEOUT_S))
    except ValueError:
        return CLAIM_TIMEOUT_S


@dataclass
class Claim:
    run_id: str
    token: str
    path: Path


class ClaimBook:
    """The claims of one suite folder; `acquire` and `release` are safe across processes."""

    def __init__(self, suite_dir: Path):
        self.dir = Path(suite_dir) / CLAIM_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self.lock = FileLock(str(self.dir / ".lock"))
        self.held: dict[str, Claim] = {}
        self._beat = None

    def _path(self, run_id: str) -> Path:
        return self.dir / f"{run_id}.json"

    def acquire(self, run_id: str, wanted) -> tuple[Claim | None, str | None]:
        """Claim `run_id` if `wanted()` (checked under the lock: not finished meanwhile).

        Returns (claim, None) when claimed, with a note when a stale claim was taken over
        as (claim, note); (None, holder) when another live process holds it; (None, None)
        when it is no longer wanted.
        """
        with self.lock:
            if not wanted():
                return None, None
            path, note = self._path(run_id), None
            holder = _read(path)
            if holder is not None:
                why = self._stale(holder, path)
                if why is None:
                    return None, f"{holder.get('host', '?')} pid {holder.get('pid', '?')} since {holder.get('started', '?')}"
                whose = f" from {holder['host']} pid {holder['pid']}" if _is_claim(holder) else ""
                note = f"taking over {run_id}{whose} ({why})"
            token = new_token()
            body = {
                "run_id": run_id,
                "host": hostname(),
                "pid": os.getpid(),
                "pid_start": process_start(os.getpid()),  # tells this process from a later one given its pid
                "token": token,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            tmp = path.with_name(f".{path.name}.{token}")
            tmp.write_text(json.dumps(body))
            os.replace(tmp, path)
            claim = Claim(run_id, token, path)
            self.held[run_id] = claim
            _HELD.add(token)
            return claim, note

    def release(self, claim: Claim) -> None:
        with self.lock:
            holder = _read(claim.path)
            if holder is not None and holder.get("token") == claim.token:
                claim.path.unlink(missing_ok=True)
        self.held.pop(claim.run_id, None)
        _HELD.discard(claim.token)

    def release_all(self) -> None:
        for claim in list(self.held.values()):
            self.release(claim)

    def live_tokens(self) -> set[str]:
        """Tokens of every live claim (this process's and others'), for the store's recovery."""
        out = set(_HELD)
        for path in self.dir.glob("*.json"):
            holder = _read(path)
            if holder is not None and self._stale(holder, path) is None:
                out.add(str(holder.get("token")))
        return out

    def _stale(self, holder: dict, path: Path) -> str | None:
        """Why a claim is stale, or None while it is live."""
        if not _is_claim(holder):
            return f"its claim file {path.name} is not a readable claim"
        token, pid = holder.get("token"), holder.get("pid")
        if token in _HELD:
            return None
        if holder.get("host") == hostname():
            if pid == os.getpid():
                return "left by an earlier suite of this process"
            if not pid_alive(pid):
                return "its process is gone"
            why = _not_its_holder(pid, holder.get("pid_start"))
            if why:
                return why
        try:
            age = time.time() - path.stat().st_mtime
        except OSError:
            return "its claim file vanished"
        if age > claim_timeout():
            return f"silent for {age:.0f} s, over {TIMEOUT_ENV}={claim_timeout():g}"
        return None

    # ------------------------------------------------------------ keeping claims live

    def start_heartbeat(self, every_s: float = HEARTBEAT_S) -> None:
        """Touch the held claims every `every_s` seconds, from a daemon thread."""
        stop = threading.Event()

        def beat():
            while not stop.wait(every_s):
                for claim in list(self.held.values()):
                    try:
                        os.utime(claim.path)
                    except OSError:
                        pass

        thread = threading.Thread(target=beat, name="ganbench-claims", daemon=True)
        thread.start()
        self._beat = stop

    def stop_heartbeat(self) -> None:
        if self._beat is not None:
            self._beat.set()
            self._beat = None


def _read(path: Path) -> dict | None:
    try:
        holder = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable: stale unless fresh (a writer mid-way), judged by its age
    return holder if isinstance(holder, dict) else {}


def _is_claim(holder: dict) -> bool:
    """A claim as ganbench writes it: a host, a positive integer pid and a token."""
    pid = holder.get("pid")
    return (
        isinstance(holder.get("host"), str)
        and isinstance(pid, int)
        and not isinstance(pid, bool)
        and pid > 0
        and isinstance(holder.get("token"), str)
    )


def process_start(pid: int) -> int | None:
    """When process `pid` started, in clock ticks since boot (Linux /proc), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2 :].split()[19])  # field 22, after the command's (name)
    except (OSError, ValueError, IndexError):
        return None


def _not_its_holder(pid: int, started) -> str | None:
    """Why the live process `pid` (on this host) cannot be the claim's holder, or None.

    A pid is reused once its process has ended: a claim left by a killed ganbench may name
    a pid that now belongs to a shell or a browser, which would block its run until the
    claim timed out. The claim's recorded start time settles it; a claim without one (an
    older ganbench's) is its holder's only if that process's command line names ganbench.
    Where /proc is missing (not Linux) nothing is known: the claim stays live.
    """
    now = process_start(pid)
    if isinstance(started, int) and not isinstance(started, bool):
        if now is not None and now != started:
            return f"pid {pid} now belongs to another process, started after the claim's holder"
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return None
    if b"ganbench" not in command:
        return f"pid {pid} is alive but is not a ganbench process"
    return None


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this host (one owned by another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
