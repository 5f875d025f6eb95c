"""The worker process: set up the target once, then run the cases it is sent, one by one.

Protocol over a multiprocessing Pipe, every message a pickled tuple:

    worker -> parent   ("ready", target description) | ("fatal", message) | ("result", dict)
    parent -> worker   ([(case_id, case bytes), ...], trace_path) | None (exit)

Every result carries the worker's resident memory after the case and how much the case added
(`worker_rss_mb`, `rss_growth_mb`), so a kernel that leaks is seen on the case that leaked, and the
pool can recycle a worker whose memory keeps growing (conformance/pool.py).

The worker ignores SIGINT: Ctrl-C in a terminal reaches the whole process group, and it is the
parent that decides what an interrupt means (it stops the workers and says how to resume).

Each case travels as its own `torch.save` blob: plain pickle cannot carry every dtype the golden
samples hold (uint64, complex32, sparse CSR), and torch's multiprocessing reductions would move
tensors through shared-memory file descriptors, one per tensor. One blob per case also means a
sample that cannot be loaded fails alone, as an `error` naming it.

The worker's stdout/stderr go to its own log file (faulthandler writes the Python stack of a
segfault there), so kernels that print cannot garble the parent's progress bar.
"""
from __future__ import annotations

import faulthandler
import io
import os
import pickle
import signal
import sys
import traceback
import warnings


def _redirect_output(log_path: str | None):
    if not log_path:
        return None
    log = open(log_path, "ab", buffering=0)  # noqa: SIM115  (lives as long as the process)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    return log


def rss_mb() -> float | None:
    """This process's resident set size in MiB (Linux /proc; None where it cannot be read)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


def worker_main(conn, config: dict) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    log = _redirect_output(config.get("log_path"))
    faulthandler.enable(file=log if log is not None else sys.stderr)
    warnings.filterwarnings("ignore")
    try:
        import torch

        torch.set_num_threads(max(1, int(config.get("threads", 1))))
        from .execute import run_case
        from .targets import make_target

        target = make_target(config["backend"], config.get("plugins", []))
        if config.get("preload_opinfo"):
            # Importing op_db takes seconds; do it before "ready" so it never counts against the
            # first case's timeout.
            from .opinfo_db import op_db_by_key

            op_db_by_key()
        conn.send_bytes(pickle.dumps(("ready", target.describe())))
    except BaseException as e:  # noqa: BLE001  (report why the worker cannot start, then exit)
        conn.send_bytes(pickle.dumps(("fatal", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}")))
        return
    while True:
        try:
            message = pickle.loads(conn.recv_bytes())
        except EOFError:
            return
        if message is None:
            return
        blobs, trace_path = message
        for case_id, blob in blobs:
            print(f"case {case_id}", flush=True)
            before = rss_mb()
            try:
                case = torch.load(io.BytesIO(blob), weights_only=False)
                result = run_case(case, target, trace_path)
            except Exception as e:  # noqa: BLE001  (never lose the case, never kill the worker)
                result = {"id": case_id, "status": "error",
                          "message": f"conformance worker failed on this case: {type(e).__name__}: {e}"[:500],
                          "traceback": traceback.format_exc(limit=6)[-1500:]}
            after = rss_mb()
            if before is not None and after is not None:
                result["worker_rss_mb"] = round(after, 1)
                result["rss_growth_mb"] = round(after - before, 1)
            conn.send_bytes(pickle.dumps(("result", result)))
