"""Worker processes with per-case timeouts and crash isolation.

Cases go out in small batches (cases of one op together, so a worker's op_db lookups and sample
regeneration are reused). The parent knows which case a worker is on: results come back in order,
so it is the first case of the batch without a result. When a worker dies (segfault, abort,
os._exit) or stays silent longer than the per-case timeout (then it is killed):

1. the case is run once more, alone, in a fresh worker that logs every aten op it enters and
   leaves (TraceMode, unbuffered writes);
2. if that run dies or hangs too, the op it entered last and never left is the culprit, and the
   case is `crash` / `timeout` blaming that op; if it now completes, the case is still reported
   `crash` / `timeout` (it did happen), with the second run's outcome in the message;
3. the rest of the batch goes back to the queue, a new worker replaces the dead one, the run goes on.

Memory: every result says how much the case grew its worker's resident memory (worker.py). A case
that adds more than `memory_growth_mb` gets a `memory_flag` (kept in results.jsonl and the
report). A worker whose memory has doubled since its first case (a leak spread over many cases)
is recorded in `memory_events` and recycled: after its batch it exits and a fresh worker takes over,
so one leaking kernel cannot take the machine's memory or slow the rest of the run.

An interrupt (KeyboardInterrupt, also what the CLI turns SIGTERM into) kills every worker at once
(they may be inside a long kernel) before it propagates.
"""
from __future__ import annotations

import collections
import io
import multiprocessing as mp
import os
import pickle
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait

import torch

from .dispatch_modes import last_unfinished
from .statuses import CRASH, TIMEOUT
from .worker import worker_main

STARTUP_TIMEOUT_S = 300.0
MEMORY_GROWTH_MB = 256.0      # one case adding more than this to its worker is flagged
RECYCLE_FACTOR = 2.0          # a worker whose RSS reaches this times its first-case RSS is replaced


class PoolError(RuntimeError):
    """The workers cannot run at all (e.g. the backend is unavailable); the message says why."""


@dataclass
class Batch:
    cases: list
    trace: bool = False          # the diagnostic re-run of one crashed / hung case
    first_failure: str = ""      # CRASH or TIMEOUT seen on the first run (trace batches)
    first_detail: str = ""


@dataclass
class Worker:
    index: int
    process: mp.Process
    conn: object
    ready: bool = False
    batch: Batch | None = None
    pending: collections.deque = field(default_factory=collections.deque)
    last_activity: float = 0.0
    trace_path: str | None = None
    baseline_mb: float | None = None     # RSS before its first case
    cases_done: int = 0
    recycle: bool = False


def _serialise(case: dict) -> bytes:
    """torch.save, not pickle: see conformance/worker.py."""
    buffer = io.BytesIO()
    torch.save(case, buffer)
    return buffer.getvalue()


def _signal_text(exitcode: int | None) -> str:
    if exitcode is None:
        return "no exit code"
    if exitcode < 0:
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


def _log_tail(path: str | None, lines: int = 6) -> str:
    if not path or not os.path.exists(path):
        return ""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 4000))
        text = f.read().decode(errors="replace")
    keep = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("case ")]
    return " | ".join(keep[-lines:])


class Pool:
    def __init__(self, jobs: int, config: dict, timeout_s: float, log_dir: str, batch_size: int = 8,
                 memory_growth_mb: float = MEMORY_GROWTH_MB, recycle_factor: float = RECYCLE_FACTOR):
        self.jobs = max(1, jobs)
        self.memory_growth_mb = memory_growth_mb
        self.recycle_factor = recycle_factor
        self.memory_events: list[dict] = []
        self.config = config
        self.timeout_s = timeout_s
        self.log_dir = log_dir
        self.batch_size = batch_size
        self.ctx = mp.get_context("spawn")
        self.workers: list[Worker] = []
        self.target_description: dict | None = None
        self._trace_dir = tempfile.mkdtemp(prefix="deeplink-conformance-trace-")
        self._spawned = 0

    # -- workers -----------------------------------------------------------------------------
    def _spawn(self, index: int) -> Worker:
        parent_conn, child_conn = self.ctx.Pipe(duplex=True)
        config = dict(self.config)
        config["log_path"] = os.path.join(self.log_dir, f"worker-{index}.log")
        process = self.ctx.Process(target=worker_main, args=(child_conn, config), daemon=True,
                                   name=f"deeplink-conformance-{index}")
        process.start()
        child_conn.close()
        self._spawned += 1
        return Worker(index, process, parent_conn, last_activity=time.monotonic())

    def _kill(self, w: Worker) -> None:
        if w.process.is_alive():
            w.process.kill()
        w.process.join(timeout=10)
        try:
            w.conn.close()
        except OSError:
            pass

    def _replace(self, w: Worker) -> Worker:
        self._kill(w)
        fresh = self._spawn(w.index)
        self.workers[self.workers.index(w)] = fresh
        return fresh

    # -- main loop ---------------------------------------------------------------------------
    def run(self, cases: list[dict], on_result) -> None:
        queue: collections.deque[Batch] = collections.deque(self._batches(cases))
        if not queue:
            return
        self.workers = [self._spawn(i) for i in range(min(self.jobs, len(queue)))]
        try:
            while queue or any(w.batch is not None for w in self.workers):
                for w in list(self.workers):
                    if w.recycle and w.batch is None:
                        self._retire(w)
                for w in self.workers:
                    if w.ready and w.batch is None and queue:
                        self._send(w, queue.popleft())
                handles = {w.conn: w for w in self.workers}
                handles.update({w.process.sentinel: w for w in self.workers})
                for ready in wait(list(handles), timeout=0.5):
                    w = handles[ready]
                    if w not in self.workers:
                        continue       # replaced earlier in this round
                    if ready is w.conn:
                        self._receive(w, queue, on_result)
                    elif not w.process.is_alive():
                        self._receive_all(w, queue, on_result)   # results sent before dying
                        if w in self.workers:
                            self._failed(w, CRASH, _signal_text(w.process.exitcode), queue, on_result)
                now = time.monotonic()
                for w in list(self.workers):
                    limit = self.timeout_s if w.ready else STARTUP_TIMEOUT_S
                    if (w.batch is not None or not w.ready) and now - w.last_activity > limit:
                        if not w.ready:
                            raise PoolError(f"a worker did not start within {STARTUP_TIMEOUT_S:.0f} s; "
                                            f"see {self.log_dir}/worker-{w.index}.log")
                        self._failed(w, TIMEOUT, f"no result within {self.timeout_s:g} s (killed)",
                                     queue, on_result)
        except BaseException:
            for w in self.workers:           # interrupted or failed: no waiting on kernels in flight
                self._kill(w)
            raise
        finally:
            for w in self.workers:
                try:
                    w.conn.send_bytes(pickle.dumps(None))
                except OSError:
                    pass
            for w in self.workers:
                w.process.join(timeout=5)
                self._kill(w)
            shutil.rmtree(self._trace_dir, ignore_errors=True)

    def _retire(self, w: Worker) -> None:
        """Let a worker whose memory doubled exit between batches, and start a fresh one."""
        try:
            w.conn.send_bytes(pickle.dumps(None))
        except OSError:
            pass
        w.process.join(timeout=5)
        self._replace(w)

    def _watch_memory(self, w: Worker, result: dict) -> dict:
        rss, growth = result.get("worker_rss_mb"), result.get("rss_growth_mb")
        if rss is None or growth is None:
            return result
        if w.baseline_mb is None:
            w.baseline_mb = rss - growth
        w.cases_done += 1
        if growth > self.memory_growth_mb:
            result = {**result, "memory_flag": f"this case grew its worker's memory by {growth:.0f} MiB "
                                                f"(to {rss:.0f} MiB; flagged above {self.memory_growth_mb:g} MiB)"}
        if not w.recycle and w.baseline_mb > 0 and rss >= self.recycle_factor * w.baseline_mb:
            w.recycle = True
            self.memory_events.append({
                "worker": w.index, "pid": w.process.pid, "baseline_mb": round(w.baseline_mb, 1),
                "rss_mb": round(rss, 1), "cases": w.cases_done, "last_case": result["id"],
                "action": "recycled after its batch",
                "message": f"worker {w.index} grew from {w.baseline_mb:.0f} MiB to {rss:.0f} MiB over "
                           f"{w.cases_done} cases (last: {result['id']}); replaced by a fresh worker"})
        return result

    def _batches(self, cases: list[dict]) -> list[Batch]:
        batches, current, key = [], [], None
        for case in cases:
            if current and (case["op"] != key or len(current) >= self.batch_size):
                batches.append(Batch(current))
                current = []
            current.append(case)
            key = case["op"]
        if current:
            batches.append(Batch(current))
        return batches

    def _send(self, w: Worker, batch: Batch) -> None:
        w.batch = batch
        w.pending = collections.deque(c["id"] for c in batch.cases)
        w.trace_path = None
        if batch.trace:
            fd, w.trace_path = tempfile.mkstemp(prefix="trace-", suffix=".log", dir=self._trace_dir)
            os.close(fd)
        w.last_activity = time.monotonic()
        w.conn.send_bytes(pickle.dumps(([(c["id"], _serialise(c)) for c in batch.cases], w.trace_path)))

    def _receive_all(self, w: Worker, queue, on_result) -> None:
        try:
            while w.conn.poll():
                self._receive(w, queue, on_result)
                if w not in self.workers:
                    return
        except (EOFError, OSError):
            pass

    def _receive(self, w: Worker, queue, on_result) -> None:
        try:
            kind, payload = pickle.loads(w.conn.recv_bytes())
        except (EOFError, OSError):
            w.process.join(timeout=5)
            self._failed(w, CRASH, _signal_text(w.process.exitcode), queue, on_result)
            return
        w.last_activity = time.monotonic()
        if kind == "ready":
            w.ready = True
            self.target_description = payload
        elif kind == "fatal":
            raise PoolError(f"the conformance worker could not start: {payload.strip()}")
        elif kind == "result":
            batch = w.batch
            if w.pending and w.pending[0] == payload["id"]:
                w.pending.popleft()
            if batch is not None and batch.trace:
                payload = self._annotate_rerun(payload, batch)
            payload = self._watch_memory(w, payload)
            on_result(payload)
            if not w.pending:
                w.batch = None

    def _annotate_rerun(self, result: dict, batch: Batch) -> dict:
        """A case that crashed or hung once completed when run again: still a finding."""
        return {**result, "status": batch.first_failure,
                "message": f"{batch.first_detail} on the first run; a second run in a fresh worker "
                           f"gave {result['status']}" + (f": {result.get('message', '')[:200]}"
                                                         if result.get("message") else ""),
                "blame": {"method": "not reproducible", "ops": {}}}

    def _failed(self, w: Worker, status: str, detail: str, queue, on_result) -> None:
        batch = w.batch
        if batch is None or not w.pending:
            # Died between batches (or while starting): replace it, nothing to report.
            if not w.ready:
                tail = _log_tail(os.path.join(self.log_dir, f"worker-{w.index}.log"))
                raise PoolError(f"a conformance worker died while starting ({detail}); {tail}")
            self._replace(w)
            return
        case_id = w.pending[0]
        case = next(c for c in batch.cases if c["id"] == case_id)
        rest = [c for c in batch.cases if c["id"] in set(list(w.pending)[1:])]
        log_path = os.path.join(self.log_dir, f"worker-{w.index}.log")
        trace_path = w.trace_path
        self._replace(w)
        if rest:
            queue.appendleft(Batch(rest))
        if not batch.trace:
            # Run it again alone, tracing every op, to learn which kernel never returned.
            queue.appendleft(Batch([case], trace=True, first_failure=status, first_detail=detail))
            return
        culprit = None
        if trace_path and os.path.exists(trace_path):
            with open(trace_path, errors="replace") as f:
                culprit = last_unfinished(f.read())
        tail = _log_tail(log_path)
        message = f"{status} ({detail})" + (f" inside aten::{culprit}" if culprit else "") + \
            (f"; worker log: {tail}" if tail else "")
        on_result({"id": case_id, "status": status, "message": message[:1200],
                   "blame": {"method": "trace", "ops": {culprit: status} if culprit else {}},
                   "reference": None})
