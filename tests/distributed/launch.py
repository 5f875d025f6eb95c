"""Runs worker scripts (tests/distributed/workers/) under torchrun or as plain processes, with a
timeout, and makes sure nothing they started outlives the test: every process gets a marker in
its environment, and whatever still carries it afterwards (torchrun's workers included, even once
re-parented) is killed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

WORKERS = Path(__file__).resolve().parent / "workers"
MARKER = "DEEPLINK_DIST_TEST_RUN"


@dataclass
class Run:
    returncode: int
    output: str
    out: Path
    seconds: float

    def rank(self, r: int) -> dict:
        path = self.out / f"rank{r}.json"
        assert path.exists(), f"rank {r} wrote no result ({path}); output:\n{self.output[-6000:]}"
        return json.loads(path.read_text())

    def ok(self) -> "Run":
        assert self.returncode == 0, f"exit code {self.returncode} after {self.seconds:.0f} s:\n{self.output[-8000:]}"
        return self


def _env(extra: dict | None, tag: str) -> dict:
    env = dict(os.environ)
    env.update({MARKER: tag, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
                "TORCH_NCCL_ASYNC_ERROR_HANDLING": "1", "LOGLEVEL": "WARNING"})
    tests = str(WORKERS.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (tests, env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


def marked_pids(tag: str) -> list:
    pids = []
    needle = f"{MARKER}={tag}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def kill_marked(tag: str) -> None:
    for _ in range(3):
        pids = marked_pids(tag)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)


def start(cmd: list, env: dict | None = None):
    """Starts `cmd` with a fresh marker; returns (Popen, tag). Pair with finish()."""
    tag = uuid.uuid4().hex
    proc = subprocess.Popen(cmd, env=_env(env, tag), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    return proc, tag


def finish(proc, tag: str, timeout: float) -> tuple:
    """Waits for proc up to `timeout` s; returns (returncode or None on timeout, output). Kills
    everything the run started, in any case."""
    try:
        output, _ = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        kill_marked(tag)
        output, _ = proc.communicate()
        code = None
    finally:
        kill_marked(tag)
    return code, output


def torchrun_cmd(script: str, nproc: int, args: list, max_restarts: int = 0) -> list:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            f"--max-restarts={max_restarts}", "--monitor-interval=0.5", str(WORKERS / script), *map(str, args)]


def torchrun(script: str, nproc: int, args: list, out: Path, *, timeout: float = 300, env: dict | None = None,
             max_restarts: int = 0) -> Run:
    t0 = time.monotonic()
    proc, tag = start(torchrun_cmd(script, nproc, [*args, "--out", out], max_restarts), env)
    code, output = finish(proc, tag, timeout)
    seconds = time.monotonic() - t0
    assert code is not None, f"{script} on {nproc} ranks did not finish in {timeout} s (killed):\n{output[-8000:]}"
    return Run(code, output, Path(out), seconds)


def python(script: str, args: list, out: Path, *, timeout: float = 300, env: dict | None = None) -> Run:
    t0 = time.monotonic()
    proc, tag = start([sys.executable, str(WORKERS / script), *map(str, args), "--out", str(out)], env)
    code, output = finish(proc, tag, timeout)
    assert code is not None, f"{script} did not finish in {timeout} s (killed):\n{output[-8000:]}"
    return Run(code, output, Path(out), time.monotonic() - t0)
