"""`conformance run`: cases -> workers -> results.jsonl -> report.json / report.md / report.html."""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import golden as golden_mod
from .cases import build_cases
from .pool import MEMORY_GROWTH_MB, Pool
from .progress import Progress
from .results import ResultStore
from .run_lock import RunLock
from .targets import REFERENCE

DEFAULT_DTYPES = ["float32"]


@dataclass
class RunOptions:
    backend: str
    out_dir: Path
    dtypes: list[str] = field(default_factory=lambda: list(DEFAULT_DTYPES))
    ops: str | None = None               # regex over OpInfo keys / generated overloads
    jobs: int = 2                        # worker processes; 0 runs in this process (no isolation)
    timeout_s: float = 60.0              # per case
    plugins: list[str] = field(default_factory=list)
    golden: list[str] = field(default_factory=list)       # extra golden files / folders (`record` output)
    workloads: list[str] = field(default_factory=list)    # extra workload files (`trace` output)
    include_llm: bool = True
    include_gradients: bool = True
    include_variants: bool = True        # conformance/variants.py and conformance/generators/
    progress: bool = True
    threads: int | None = None           # torch threads per worker (default: cores / jobs)
    case_ids: list[str] = field(default_factory=list)     # run only these case ids (`--case`)
    memory_growth_mb: float = MEMORY_GROWTH_MB            # flag a case growing its worker by more
    command: str | None = None           # how the run was started, for the resume line and the lock


class RunInterrupted(Exception):
    """The run was stopped (SIGINT / SIGTERM) before every case finished; nothing is lost: the
    finished cases are in `results`, and rerunning the same command resumes."""

    def __init__(self, finished: int, total: int, results: Path):
        super().__init__(f"{finished} of {total} cases finished")
        self.finished, self.total, self.results = finished, total, results


def _policy_digest() -> str:
    from .tolerance import policy_json  # noqa: PLC0415

    return hashlib.sha256(json.dumps(policy_json(), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _fingerprint(opts: RunOptions, files) -> dict:
    import torch  # noqa: PLC0415

    return {"backend": opts.backend, "plugins": sorted(opts.plugins), "torch": torch.__version__,
            "golden": sorted(f"{f.kind}/{f.dtype}/{f.sha256}" for f in files),
            "tolerance_policy": _policy_digest(), "case_format": 1}


def load_goldens(opts: RunOptions):
    files = [f for f in golden_mod.shipped() if f.dtype in opts.dtypes]
    files += [f for p in opts.golden for f in golden_mod.user_files(p) if f.dtype in opts.dtypes]
    if not opts.include_gradients:
        files = [f for f in files if f.kind != golden_mod.GRADIENTS]
    chosen = golden_mod.select(files, opts.dtypes)
    loaded = {key: golden_mod.load(f) for key, f in chosen.items()}
    return list(chosen.values()), loaded


def check_backend(opts: RunOptions) -> None:
    """Fail early, with the reason, when the backend cannot run here. Importing deeplink in the
    parent also builds the C++ shim once (first use with a torch), instead of in every worker."""
    if opts.backend == REFERENCE:
        return
    import deeplink  # noqa: PLC0415

    from .targets import load_plugin  # noqa: PLC0415

    for plugin in opts.plugins:
        load_plugin(plugin)
    backends = {b["name"]: b for b in deeplink.list_backends()}
    if opts.backend not in backends:
        raise SystemExit(f"conformance run: no backend named {opts.backend!r}; known: "
                         f"{', '.join(sorted(backends)) or 'none'} (or 'reference' for plain ATen CPU). "
                         "A backend registered by a module needs --plugin MODULE.")
    if not backends[opts.backend].get("available"):
        raise SystemExit(f"conformance run: backend {opts.backend!r} is not available here: "
                         f"{backends[opts.backend].get('reason')}")


def run(opts: RunOptions, log=None) -> dict:
    """Run the suite and write the reports; returns {"report": dict, "paths": {...}}."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    check_backend(opts)
    out_dir = Path(opts.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    files, goldens = load_goldens(opts)
    for dtype in opts.dtypes:
        if not any(f.dtype == dtype for f in files):
            log(f"note: no golden data for {dtype}; only generated LLM-tier cases run in {dtype} "
                "(record golden data with `deeplink conformance record --device cuda` on a GPU machine)")
    cases = build_cases(goldens, opts.dtypes, opts.ops, opts.include_llm, opts.include_gradients,
                        opts.include_variants)
    if opts.case_ids:
        cases = select_cases(cases, opts.case_ids)
    if not cases:
        raise SystemExit(f"no cases match --ops {opts.ops!r} for dtypes {', '.join(opts.dtypes)}")
    t_load = time.monotonic() - t0
    with RunLock(out_dir, opts.command) as lock:
        if lock.stale_taken_over:
            log(f"note: took over {lock.path} left by a run that is gone (pid {lock.stale_taken_over.get('pid')})")
        return _run_locked(opts, out_dir, files, cases, t_load, log)


def select_cases(cases: list, ids: list[str]) -> list:
    """The cases named by `--case` (ids as in report.json / results.jsonl); an unknown id is a
    usage error naming the closest ids, never a silent empty run."""
    by_id = {c.id: c for c in cases}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        import difflib  # noqa: PLC0415

        hints = difflib.get_close_matches(unknown[0], list(by_id), n=3)
        raise SystemExit(f"conformance run: no case {unknown[0]!r} with these --dtypes/--ops"
                         + (f"; close: {', '.join(hints)}" if hints else
                            "; case ids look like opinfo/forward/float32/add/0 (see report.json)"))
    return [by_id[i] for i in dict.fromkeys(ids)]


def _run_locked(opts: RunOptions, out_dir: Path, files, cases, t_load: float, log) -> dict:
    store = ResultStore(out_dir, _fingerprint(opts, files))
    if store.moved_aside:
        log(f"note: {out_dir / 'results.jsonl'} was from another configuration; kept as {store.moved_aside.name}")
    # --case is a repro: the named cases run again even when the folder has their results.
    todo = list(cases) if opts.case_ids else [c for c in cases if not store.done(c.id)]
    if store.resumed and not opts.case_ids:
        log(f"resuming: {len(cases) - len(todo)} of {len(cases)} cases already done in {store.path}")
    progress = Progress(len(cases), len(cases) - len(todo), enabled=opts.progress,
                        label=f"conformance {opts.backend} ")

    def on_result(result: dict) -> None:
        store.add(result)
        progress.update(result["status"])

    for case in todo:
        if case.preset is not None:
            on_result(case.preset)
    runnable = [c.payload for c in todo if c.preset is None]
    target_description = None
    memory_events: list[dict] = []
    t1 = time.monotonic()
    try:
        if opts.jobs <= 0:
            target_description = _run_in_process(opts, runnable, on_result)
        else:
            jobs = opts.jobs
            threads = opts.threads or max(1, (os.cpu_count() or 1) // jobs)
            config = {"backend": opts.backend, "plugins": opts.plugins, "threads": threads,
                      "preload_opinfo": any(p["source"] == "opinfo" for p in runnable)}
            pool = Pool(jobs, config, opts.timeout_s, str(out_dir), memory_growth_mb=opts.memory_growth_mb)
            memory_events = pool.memory_events
            pool.run(runnable, on_result)
            target_description = pool.target_description
    except KeyboardInterrupt:
        raise RunInterrupted(len(store.results), len(cases), store.path) from None
    finally:
        progress.finish()
        store.close()
    for event in memory_events:
        log(f"note: {event['message']}")
    t_run = time.monotonic() - t1
    from .report.build import build_report  # noqa: PLC0415
    from .report.write import write_reports  # noqa: PLC0415

    t2 = time.monotonic()
    report = build_report(opts, files, cases, store.results, target_description,
                          timings={"load_s": round(t_load, 3), "run_s": round(t_run, 3),
                                   "cases_run_now": len(todo), "cases_resumed": len(cases) - len(todo)},
                          memory={"flag_above_mb": opts.memory_growth_mb, "worker_events": memory_events})
    report["summary"]["timings"]["report_s"] = round(time.monotonic() - t2, 3)
    paths = write_reports(report, out_dir)
    return {"report": report, "paths": paths}


def _run_in_process(opts: RunOptions, payloads: list[dict], on_result):
    """--jobs 0: no worker processes (for debugging and profiling; a crash ends the run)."""
    import warnings  # noqa: PLC0415

    from .execute import run_case  # noqa: PLC0415
    from .targets import make_target  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        target = make_target(opts.backend, opts.plugins)
        for payload in payloads:
            on_result(run_case(payload, target))
    return target.describe()


__all__ = ["RunOptions", "RunInterrupted", "run", "REFERENCE"]
