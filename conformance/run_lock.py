"""One run per output folder: `OUT/run.lock`.

Two runs into one `--out` would each run every case (both read the same results.jsonl before either
wrote) and append interleaved lines. So a run takes the lock (created with O_EXCL, holding the
owner's pid, host, start time and command) and the second refuses with a message naming the owner.
Refusing, not waiting: a waiting run would only resume a finished folder, and a CI job that waits
on a forgotten lock hangs instead of saying why.

A lock whose owner is gone (killed with -9, machine rebooted) is stale: if the pid named in it is
not alive on this host, the lock is taken over. A lock written on another host (a shared file
system) cannot be checked and is refused with the path to delete.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

LOCK_NAME = "run.lock"


class FolderBusy(RuntimeError):
    """Another live run owns the output folder; the message names it and says what to do."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # exists, owned by someone else
        return True
    return True


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


class RunLock:
    def __init__(self, out_dir: Path, command: str | None = None):
        self.path = Path(out_dir) / LOCK_NAME
        self.command = command or " ".join(sys.argv)
        self.stale_taken_over: dict | None = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
              "command": self.command}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = _read(self.path)
                if not owner and time.time() - self._mtime() < 5:
                    time.sleep(0.2)      # being written right now by its owner
                    continue
                if owner and owner.get("host") == me["host"] and _alive(int(owner.get("pid", -1))):
                    raise FolderBusy(self._busy_message(owner)) from None
                if owner and owner.get("host") != me["host"]:
                    raise FolderBusy(self._busy_message(owner) + f"; if that run is over, delete {self.path}") \
                        from None
                self.stale_taken_over = owner or {"pid": None}
                try:
                    self.path.unlink()
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            return self
        raise FolderBusy(f"could not take {self.path}: other runs keep taking it")

    def _mtime(self) -> float:
        try:
            return self.path.stat().st_mtime
        except FileNotFoundError:
            return 0.0

    def _busy_message(self, owner: dict) -> str:
        return (f"{self.path.parent} is in use by another conformance run (pid {owner.get('pid')} on "
                f"{owner.get('host')}, started {owner.get('started')}: {owner.get('command')}); wait for it "
                "to finish or give this run another --out")

    def release(self) -> None:
        owner = _read(self.path)
        if owner.get("pid") == os.getpid():
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
