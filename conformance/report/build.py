"""Assemble report.json (the dict) from the cases, their results and the tier / workload data.

Schema (SCHEMA_VERSION; docs/conformance.md describes every field):

    schema_version, generated_at, backend{...}, environment{...}, options{...},
    golden[{file, kind, dtype, sha256, recorded_on, torch, ...}],
    tolerance{policy..., applied[{source, rtol, atol, normwise_rtol, cases, ops}]},
    summary{cases{total, by_status, by_source, by_kind, by_reference, by_dtype},
            op_coverage{tier: {all_dtypes|<dtype>: {ops, tested, pass, coverage, by_status}}},
            category_coverage{category: {ops, pass, by_status}},
            workload_coverage{workload: {calls_fraction, flops_fraction, uncovered[...]}},
            timings{...}, memory{flag_above_mb, measured_cases, max_case_growth_mb, flagged_cases[...],
            worker_events[...]}, notes[...]},
    tiers{tier: {description, ops}},
    ops[{op, tiers, category, status, dtypes{dtype: {status, samples{status: n}, max_abs, max_rel}}}],
    samples[{id, source, kind, dtype, op, index, aten, status, message?, max_abs?, max_rel?,
             normwise_rel?, mismatch_ratio?, reference, check, tolerance?, blame?, routes?, ...}]
"""
from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from collections import Counter, defaultdict

from .. import rollup
from ..categories import category_of
from ..statuses import ALL, PASS
from ..tiers import load_tiers, load_workloads

SCHEMA_VERSION = 1

SAMPLE_FIELDS = ("message", "max_abs", "max_rel", "normwise_rel", "mismatch_ratio", "tol_ratio", "reference", "check",
                 "tolerance", "blame", "output_process", "criterion", "seconds", "memory_flag", "rss_growth_mb")


def _environment() -> dict:
    import torch  # noqa: PLC0415

    env = {"python": sys.version.split()[0], "torch": torch.__version__, "platform": platform.platform(),
           "machine": platform.machine(), "processor": platform.processor() or platform.machine(),
           "cpu_count": os.cpu_count()}
    try:
        import deeplink  # noqa: PLC0415

        env["deeplink"] = getattr(deeplink, "__version__", "unknown")
    except Exception as e:  # noqa: BLE001
        env["deeplink"] = f"not importable: {type(e).__name__}"
    return env


def _sample_entry(case, result: dict | None) -> dict:
    entry = {"id": case.id, "source": case.source, "kind": case.kind, "dtype": case.dtype, "op": case.op,
             "index": case.index, "aten": case.aten, "status": result["status"] if result else "missing"}
    if result:
        for key in SAMPLE_FIELDS:
            if result.get(key) not in (None, "", {}, []):
                entry[key] = result[key]
        routes = {k: v for k, v in (result.get("routes") or {}).items() if k != "native" and v}
        if routes:
            entry["routes"] = routes
    return entry


def _applied_tolerances(cases, results) -> list[dict]:
    groups: dict[tuple, dict] = {}
    for case in cases:
        r = results.get(case.id) or {}
        tol = r.get("tolerance")
        if not tol or tol.get("source") in (None, "default", "exact"):
            continue
        key = (tol["source"], tol["rtol"], tol["atol"], tol.get("normwise_rtol"), case.dtype)
        g = groups.setdefault(key, {"source": tol["source"], "dtype": case.dtype, "rtol": tol["rtol"],
                                    "atol": tol["atol"], "normwise_rtol": tol.get("normwise_rtol"),
                                    "cases": 0, "ops": set()})
        g["cases"] += 1
        g["ops"].add(case.op)
    return [{**g, "ops": sorted(g["ops"])} for g in sorted(groups.values(), key=lambda g: -g["cases"])]


def _route_observations(cases, results) -> dict[str, dict[str, int]]:
    """How often each overload was seen decomposed / falling back on the backend."""
    seen: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for case in cases:
        routes = (results.get(case.id) or {}).get("routes") or {}
        for route in ("decomposed", "fallback"):
            for op in routes.get(route, []):
                seen[op][route] += 1
    return seen


def _memory_summary(memory: dict | None, results: dict) -> dict:
    """Flagged cases and recycled workers (conformance/pool.py); absent figures when the workers
    could not read their memory (not Linux) or ran in-process."""
    memory = dict(memory or {})
    growths = [r["rss_growth_mb"] for r in results.values() if r.get("rss_growth_mb") is not None]
    memory["measured_cases"] = len(growths)
    memory["max_case_growth_mb"] = max(growths) if growths else None
    memory["flagged_cases"] = sorted(i for i, r in results.items() if r.get("memory_flag"))
    memory.setdefault("worker_events", [])
    return memory


def build_report(opts, golden_files, cases, results: dict, target_description, timings: dict,
                 memory: dict | None = None) -> dict:
    results = {c.id: results[c.id] for c in cases if c.id in results}
    table = rollup.roll_up(cases, results)
    tiers = load_tiers()
    dtypes = list(opts.dtypes)
    notes = []
    if tiers.error:
        notes.append(tiers.error)

    # -- case counts ---------------------------------------------------------------------------
    by_status = Counter(r["status"] for r in results.values())
    def counts(key):
        out: dict[str, Counter] = defaultdict(Counter)
        for c in cases:
            if c.id in results:
                out[key(c)][results[c.id]["status"]] += 1
        return {k: dict(v) for k, v in sorted(out.items())}
    missing = len(cases) - len(results)
    if missing:
        notes.append(f"{missing} cases have no result (the run was interrupted); rerun to complete them")

    # -- ops -----------------------------------------------------------------------------------
    all_ops = set(op for op, _ in table)
    for ops in tiers.tiers.values():
        all_ops |= set(ops)
    routes_seen = _route_observations(cases, results)
    ops = []
    for op in sorted(all_ops):
        per_dtype = {}
        for d in dtypes:
            e = table.get((op, d))
            if e is None:
                continue
            per_dtype[d] = {"status": e.status, "samples": dict(e.counts), "max_abs": e.max_abs,
                            "max_rel": e.max_rel, "example_cases": e.cases[:3]}
            if e.unattributed:
                per_dtype[d]["unattributed_failures"] = e.unattributed
        entry = {"op": op, "tiers": tiers.tiers_of(op), "category": category_of(op, tiers.tags.get(op, ())),
                 "status": rollup.op_status(table, op, dtypes), "dtypes": per_dtype}
        if op in routes_seen:
            entry["routes_seen"] = dict(routes_seen[op])
        ops.append(entry)

    op_coverage = {t: rollup.tier_coverage(table, names, dtypes) for t, names in tiers.tiers.items()}
    category_coverage: dict[str, dict] = {}
    tier_union = set().union(*tiers.tiers.values()) if tiers.tiers else all_ops
    for e in ops:
        if e["op"] not in tier_union:
            continue
        c = category_coverage.setdefault(e["category"], {"ops": 0, "pass": 0, "by_status": Counter()})
        c["ops"] += 1
        c["pass"] += e["status"] == PASS
        c["by_status"][e["status"]] += 1
    for c in category_coverage.values():
        c["by_status"] = dict(c["by_status"])
        c["coverage"] = c["pass"] / c["ops"] if c["ops"] else 0.0

    try:
        workloads = rollup.workload_coverage(table, load_workloads(list(opts.workloads)))
    except Exception as e:  # noqa: BLE001  (report the reason, keep the rest)
        workloads = {}
        notes.append(f"workload coverage unavailable: {type(e).__name__}: {e}")

    from ..tolerance import policy_json  # noqa: PLC0415

    tolerance = policy_json()
    tolerance["applied"] = _applied_tolerances(cases, results)
    tolerance["passed_normwise_only"] = sum(1 for r in results.values() if r.get("criterion") == "normwise")

    backend = dict(target_description or {"name": opts.backend})
    if opts.backend == "reference":
        notes.append("reference mode: cases ran on plain ATen CPU tensors, not on the deeplink device")

    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "backend": backend,
        "environment": _environment(),
        "options": {"dtypes": dtypes, "ops": opts.ops, "jobs": opts.jobs, "timeout_s": opts.timeout_s,
                    "plugins": list(opts.plugins), "extra_golden": list(opts.golden),
                    "extra_workloads": list(opts.workloads), "include_llm": opts.include_llm,
                    "include_gradients": opts.include_gradients},
        "golden": [f.to_json() for f in golden_files],
        "tolerance": tolerance,
        "summary": {
            "cases": {"total": len(cases), "with_result": len(results),
                      "by_status": {s: by_status.get(s, 0) for s in ALL if by_status.get(s)},
                      "by_source": counts(lambda c: c.source), "by_kind": counts(lambda c: c.kind),
                      "by_dtype": counts(lambda c: c.dtype),
                      "by_reference": counts(lambda c: (results.get(c.id) or {}).get("reference") or "none")},
            "op_coverage": op_coverage,
            "category_coverage": dict(sorted(category_coverage.items())),
            "workload_coverage": workloads,
            "timings": timings,
            "memory": _memory_summary(memory, results),
            "notes": notes,
        },
        "tiers": {t: {"description": tiers.descriptions.get(t, ""), "ops": names}
                  for t, names in tiers.tiers.items()},
        "ops": ops,
        "samples": [_sample_entry(c, results.get(c.id)) for c in cases],
    }
