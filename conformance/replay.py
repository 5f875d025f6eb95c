"""`deeplink conformance run --cases DIR --backend B`: replay op calls captured by `deeplink run
--capture` (deeplink/debug/capture.py) as conformance cases on any backend.

Each case file holds the call's CPU inputs, which of them were on the device, and ATen CPU's
reference results. The replay puts those inputs on backend B, runs the op there and judges the
results as autocompare does (deeplink/debug/op_check.py: the conformance tolerance policy with
the atol scaled to the operands and pointwise ops element-wise). Statuses are the suite's: pass,
mismatch, error, fallback (ran, but on the CPU fallback). Runs in this process (no crash isolation).
Writes report.json and report.md to --out; exit status 1 when a case fails, 2 when DIR has no
cases.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from torch.utils._pytree import tree_flatten

from .statuses import ERROR, FAILURES, FALLBACK, MISMATCH, PASS

CASES_FORMAT = "deeplink-captured-op"
REPORT_VERSION = 1


def load_cases(folder: str | Path) -> list[tuple[Path, dict]]:
    cases = []
    for path in sorted(Path(folder).glob("*.pt")):
        case = torch.load(path, weights_only=False)
        if isinstance(case, dict) and case.get("format") == CASES_FORMAT:
            cases.append((path, case))
    return cases


def _to_backend(case: dict):
    leaves, spec = tree_flatten((case["args"], case["kwargs"]))
    moved = []
    for leaf, on_device in zip(leaves, case["on_device"]):
        if on_device and isinstance(leaf, torch.Tensor):
            leaf = leaf.to("deeplink")
        elif on_device and isinstance(leaf, torch.device):
            leaf = torch.device("deeplink")
        moved.append(leaf)
    return spec.unflatten(moved)


def replay_case(path: Path, case: dict) -> dict:
    """Run one captured case on the active backend; its result row for the report."""
    import deeplink
    from deeplink.debug.op_check import judge, observed, to_cpu
    from deeplink.opset.names import op_overload

    name = case["op"]
    row = {"id": path.stem, "file": path.name, "op": name, "kind": case["kind"], **{
        k: case["captured"].get(k) for k in ("dtype", "dtypes", "shapes", "arguments", "module", "backend")}}
    row["captured_on"] = row.pop("backend")
    op = op_overload(name)
    if op is None:
        return {**row, "status": ERROR, "problems": [f"this torch has no aten overload {name!r}"]}
    args, kwargs = _to_backend(case)
    before = deeplink.op_stats().get(name, {}).get("fallback", 0)
    try:
        out = op(*args, **kwargs)
    except Exception as e:  # noqa: BLE001  (the backend's error is the case's result)
        return {**row, "status": ERROR, "problems": [f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"]}
    fell_back = deeplink.op_stats().get(name, {}).get("fallback", 0) > before
    actual = to_cpu(observed(op, name, args, kwargs, out))
    comparison, tol, _ = judge(op, name, actual, case["expected"], (case["args"], case["kwargs"]), case["kind"])
    status = (FALLBACK if fell_back else PASS) if comparison.ok else MISMATCH
    return {**row, "status": status, "max_abs_err": comparison.max_abs, "max_rel_err": comparison.max_rel,
            "tolerance": tol.to_json(), "problems": comparison.problems}


def replay(folder: str | Path, backend: str, ops: str | None = None) -> dict:
    import deeplink
    deeplink.use(backend)
    wanted = re.compile(ops) if ops else None
    rows = [replay_case(path, case) for path, case in load_cases(folder)
            if wanted is None or wanted.search(case["op"])]
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    return {"schema_version": REPORT_VERSION, "kind": "captured cases", "cases_dir": str(folder), "backend": backend,
            "summary": {"cases": {"total": len(rows), "by_status": by_status}}, "cases": rows}


def render_markdown(report: dict) -> str:
    s = report["summary"]["cases"]
    lines = [f"# Captured cases on backend '{report['backend']}'", "",
             f"{s['total']} cases from `{report['cases_dir']}`: "
             + ", ".join(f"{k} {v}" for k, v in sorted(s["by_status"].items())), "",
             "| case | op | dtype | shapes | module | status | max abs err | problem |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in report["cases"]:
        err = f"{r['max_abs_err']:.3g}" if "max_abs_err" in r else ""
        problem = (r.get("problems") or [""])[0].replace("|", "\\|")
        lines.append(f"| {r['id']} | {r['op']} | {r['dtype']} | {r['shapes']} | {r['module'] or ''} | {r['status']} "
                     f"| {err} | {problem} |")
    return "\n".join(lines) + "\n"


def run_replay(folder: str, backend: str, out: str | None, plugins: list[str], ops: str | None) -> int:
    from .targets import load_plugin
    for spec in plugins:
        load_plugin(spec)
    if not load_cases(folder):
        print(f"conformance run --cases {folder}: no captured cases there (files written by `deeplink run "
              f"--capture REGEX --capture-dir {folder}`)")
        return 2
    report = replay(folder, backend, ops)
    out_dir = Path(out or "conformance-report")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=1, default=str))
    (out_dir / "report.md").write_text(render_markdown(report))
    s = report["summary"]["cases"]
    print(f"captured cases on '{backend}': " + ", ".join(f"{k} {v}" for k, v in sorted(s["by_status"].items())))
    for r in report["cases"]:
        if r["status"] in FAILURES:
            print(f"  {r['status']}: {r['id']} ({r['op']}, {r['dtype']}, {r['shapes']}): {(r.get('problems') or [''])[0]}")
    print(f"wrote {out_dir / 'report.json'}, {out_dir / 'report.md'}")
    return 1 if any(r["status"] in FAILURES for r in report["cases"]) else 0
