"""`conformance diff A.json B.json`: what got worse, what got better, between two reports.

Compared at two levels, only where both reports have a verdict (an op or sample that B did not
run, e.g. because of --ops, is listed as "not compared", never as a regression):

* per op and dtype (the roll-up), and
* per sample (case id).

A regression is a `pass` that became anything else, or a `fallback` that became a failure;
a fix is the reverse. Other changes between failure kinds (mismatch -> error) are listed as
changes. `diff` exits 1 when there is any regression, so a vendor's CI can gate on it.
"""
from __future__ import annotations

import json
import lzma
from pathlib import Path

from .statuses import FALLBACK, PASS

NO_VERDICT = ("skip", "untested", "missing", None)


def classify(a: str | None, b: str | None) -> str | None:
    if a in NO_VERDICT or b in NO_VERDICT or a == b:
        return None
    if a == PASS:
        return "regression"
    if b == PASS:
        return "fix"
    if a == FALLBACK:
        return "regression"
    if b == FALLBACK:
        return "fix"
    return "change"


def _op_statuses(report: dict) -> dict[tuple[str, str], str]:
    return {(o["op"], d): v["status"] for o in report["ops"] for d, v in o["dtypes"].items()}


def _coverage(report: dict) -> dict[str, float]:
    return {t: c["all_dtypes"]["coverage"] for t, c in report["summary"]["op_coverage"].items()}


def diff_reports(a: dict, b: dict) -> dict:
    out = {"ops": {"regression": [], "fix": [], "change": []},
           "samples": {"regression": [], "fix": [], "change": []},
           "coverage": {}, "workloads": {}, "not_compared": {"ops": 0, "samples": 0}}
    ops_a, ops_b = _op_statuses(a), _op_statuses(b)
    for key in sorted(set(ops_a) | set(ops_b)):
        kind = classify(ops_a.get(key), ops_b.get(key))
        if kind:
            out["ops"][kind].append({"op": key[0], "dtype": key[1], "before": ops_a[key], "after": ops_b[key]})
        elif ops_a.get(key) != ops_b.get(key):
            out["not_compared"]["ops"] += 1
    samples_a = {s["id"]: s for s in a["samples"]}
    samples_b = {s["id"]: s for s in b["samples"]}
    for sid in sorted(set(samples_a) | set(samples_b)):
        sa, sb = samples_a.get(sid, {}), samples_b.get(sid, {})
        kind = classify(sa.get("status"), sb.get("status"))
        if kind:
            out["samples"][kind].append({"id": sid, "before": sa["status"], "after": sb["status"],
                                         "message": (sb.get("message") or "")[:200]})
        elif sa.get("status") != sb.get("status"):
            out["not_compared"]["samples"] += 1
    cov_a, cov_b = _coverage(a), _coverage(b)
    for tier in sorted(set(cov_a) | set(cov_b)):
        out["coverage"][tier] = {"before": cov_a.get(tier), "after": cov_b.get(tier)}
    wa, wb = a["summary"].get("workload_coverage", {}), b["summary"].get("workload_coverage", {})
    for name in sorted(set(wa) | set(wb)):
        out["workloads"][name] = {"before": (wa.get(name) or {}).get("calls_fraction"),
                                  "after": (wb.get(name) or {}).get("calls_fraction")}
    out["regressions"] = len(out["ops"]["regression"]) + len(out["samples"]["regression"])
    out["fixes"] = len(out["ops"]["fix"]) + len(out["samples"]["fix"])
    return out


def load_report(path: str | Path) -> dict:
    """A report.json, its xz-compressed form (committed reports: reports/cuda/report.json.xz), or
    the folder holding either."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.json" if (path / "report.json").exists() else path / "report.json.xz"
    try:
        raw = lzma.decompress(path.read_bytes()) if path.suffix == ".xz" else path.read_bytes()
        report = json.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise SystemExit(f"conformance diff: {path} does not exist (give a report.json or its folder)") from None
    except (ValueError, lzma.LZMAError, IsADirectoryError) as e:      # cut short, not JSON, not xz
        raise SystemExit(f"conformance diff: {path} is not a readable report ({type(e).__name__}: "
                         f"{str(e)[:120]}); give a report.json written by `conformance run`") from None
    if not isinstance(report, dict):
        raise SystemExit(f"conformance diff: {path} holds no report object")
    if report.get("schema_version") != 1:
        raise SystemExit(f"conformance diff: {path} has schema_version {report.get('schema_version')!r}; "
                         "this deeplink reads schema_version 1")
    return report


def render_diff(d: dict, a_name: str, b_name: str, limit: int = 50) -> str:
    def pct(x):
        return "n/a" if x is None else f"{100 * x:.1f}%"
    lines = [f"conformance diff {a_name} -> {b_name}: {d['regressions']} regressions, {d['fixes']} fixes"]
    for tier, c in d["coverage"].items():
        lines.append(f"  op coverage {tier}: {pct(c['before'])} -> {pct(c['after'])}")
    for name, c in d["workloads"].items():
        lines.append(f"  workload {name} calls: {pct(c['before'])} -> {pct(c['after'])}")
    for level in ("ops", "samples"):
        for kind in ("regression", "fix", "change"):
            items = d[level][kind]
            if not items:
                continue
            plural = {"regression": "regressions", "fix": "fixes", "change": "changes"}[kind]
            lines.append(f"{plural} ({level}): {len(items)}")
            for it in items[:limit]:
                name = f"{it['op']} [{it['dtype']}]" if level == "ops" else it["id"]
                lines.append(f"  {name}: {it['before']} -> {it['after']}"
                             + (f"  ({it['message']})" if it.get("message") else ""))
            if len(items) > limit:
                lines.append(f"  ... {len(items) - limit} more")
    nc = d["not_compared"]
    if nc["ops"] or nc["samples"]:
        lines.append(f"not compared (no verdict on one side): {nc['ops']} op entries, {nc['samples']} samples")
    return "\n".join(lines)
