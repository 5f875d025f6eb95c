"""From case results to per-op statuses and the headline metrics (defined here, once).

Roll-up rule, per case and dtype, for the aten overloads the case reached on CUDA (`case.aten`):

* pass             -> every overload gets `pass`
* skip             -> every overload gets `skip` (no verdict)
* fallback         -> overloads that fell back, were decomposed, or share their packet with one
                      that fell back (cumsum ran as cumsum.out on the CPU) get `fallback`; the
                      others `pass`
* failure, blamed  -> blamed overloads get their blamed status. When blame came from substitution
                      (the case passed once those ops ran on ATen CPU) the others get `pass`; when
                      it came from the raising op or a crash trace, the others get no verdict.
* failure, unattributed -> no verdict for any overload. This happens when the case fails the same
                      way with every op on ATen CPU (the backend agrees with ATen CPU, CUDA differs),
                      when the exception came from outside any op (autograd, Python), or when a
                      worker died outside any op. Blaming every op of such a sample would mark
                      `sum` or `view` failed for another op's numerics; the sample is instead listed
                      with its status, counted per op as `unattributed`, and shown in the reports.

An overload's status is the most severe it received (statuses.SEVERITY); `skip` only when it got
no verdict at all; `untested` when no case reached it.

Metrics (DESIGN.md):
* op coverage of a tier for a dtype = overloads of the tier whose status is `pass` (every sample
  reaching them passed natively, none fell back) / overloads in the tier. "all dtypes" requires
  `pass` in every dtype of the run: an overload untested (or skipped) in one dtype is not covered
  in "all dtypes", however well it did in the others; it is counted as `partly_untested` there.
  Each figure comes with `tested` and `untested` beside `pass`, so a high pass rate over few
  tested ops cannot pass for coverage.
* workload coverage = share of a workload step's aten calls (and of its FLOPs) in overloads that
  are covered: `pass` in float32 for fp32 steps; for autocast steps `pass` in every dtype of
  (float32, bfloat16) in which the overload got a verdict, and in at least one.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .statuses import FAILURES, FALLBACK, PASS, SEVERITY, SKIP, worst

UNTESTED = "untested"
PARTLY_UNTESTED = "partly_untested"     # all dtypes: a verdict in some dtypes, none in others


@dataclass
class OpResult:
    op: str
    dtype: str
    counts: dict = field(default_factory=lambda: defaultdict(int))     # status -> samples
    cases: list = field(default_factory=list)                          # case ids that touched it
    max_abs: float = 0.0
    max_rel: float = 0.0
    unattributed: int = 0          # failing samples that reached it but blame no op

    @property
    def status(self) -> str:
        verdicts = [s for s, n in self.counts.items() if n and s != SKIP]
        if verdicts:
            return worst(verdicts)
        return SKIP if self.counts.get(SKIP) else UNTESTED


def contributions(case, result: dict) -> dict[str, str]:
    """{overload: status} that one case's result gives (see module docstring)."""
    status = result["status"]
    aten = list(case.aten)
    if status == PASS:
        return {op: PASS for op in aten}
    if status == SKIP:
        return {op: SKIP for op in aten}
    if status == FALLBACK:
        # An op that fell back, was decomposed, or shares its packet with one that fell back
        # (cumsum runs as cumsum.out, which fell back) did not run natively; the others did.
        routes = result.get("routes", {})
        # A fallback is charged to the case's dtype only when it happened in that dtype: a float32
        # sample of stft whose complex64 mm fell back says nothing about float32 mm.
        fell_dtypes = routes.get("fallback_dtypes", {})
        fell = {op for op in routes.get("fallback", [])
                if not fell_dtypes.get(op) or case.dtype in fell_dtypes[op]}
        not_native = fell | set(routes.get("decomposed", []))
        packets = {op.split(".", 1)[0] for op in fell}
        out = {op: FALLBACK if op in not_native or op.split(".", 1)[0] in packets else PASS for op in aten}
        out.update({op: FALLBACK for op in fell})
        return out
    blame = result.get("blame") or {}
    blamed = blame.get("ops") or {}
    method = blame.get("method", "")
    if blamed:
        out = {}
        if method.startswith("substitution"):
            out = {op: PASS for op in aten}
        out.update(blamed)
        return out
    return {}


def roll_up(cases, results: dict[str, dict]) -> dict[tuple[str, str], OpResult]:
    """{(overload, dtype): OpResult} over every case with a result."""
    table: dict[tuple[str, str], OpResult] = {}
    for case in cases:
        result = results.get(case.id)
        if result is None:
            continue
        given = contributions(case, result)
        if not given and result["status"] in FAILURES:
            for op in case.aten:
                entry = table.get((op, case.dtype))
                if entry is None:
                    entry = table[(op, case.dtype)] = OpResult(op, case.dtype)
                entry.unattributed += 1
        for op, status in given.items():
            entry = table.get((op, case.dtype))
            if entry is None:
                entry = table[(op, case.dtype)] = OpResult(op, case.dtype)
            entry.counts[status] += 1
            if len(entry.cases) < 2000:
                entry.cases.append(case.id)
            for key in ("max_abs", "max_rel"):
                value = result.get(key)
                if isinstance(value, (int, float)) and value > getattr(entry, key):
                    setattr(entry, key, float(value))
    return table


def op_status(table, op: str, dtypes: list[str]) -> str:
    """Across dtypes: the worst verdict; `pass` only if it passed wherever it got a verdict."""
    statuses = [table[(op, d)].status for d in dtypes if (op, d) in table]
    verdicts = [s for s in statuses if s not in (SKIP, UNTESTED)]
    if verdicts:
        return max(verdicts, key=SEVERITY.__getitem__)
    return SKIP if SKIP in statuses else UNTESTED


def status_in_every_dtype(table, op: str, dtypes: list[str]) -> str:
    """The "all dtypes" status: the worst verdict when one failed; `pass` only when it passed in
    every dtype; `partly_untested` when it passed where tested but some dtype has no verdict."""
    status = op_status(table, op, dtypes)
    if status != PASS:
        return status
    every = all((op, d) in table and table[(op, d)].status == PASS for d in dtypes)
    return PASS if every else PARTLY_UNTESTED


def tier_coverage(table, tier_ops: list[str], dtypes: list[str]) -> dict:
    """Op coverage of one tier: overall and per dtype, with the counts behind each figure
    (tested = got a verdict; for "all dtypes", a verdict in every dtype)."""
    def summarise(status_of) -> dict:
        by_status: dict[str, int] = defaultdict(int)
        for op in tier_ops:
            by_status[status_of(op)] += 1
        total = len(tier_ops)
        passed = by_status.get(PASS, 0)
        untested = by_status.get(UNTESTED, 0) + by_status.get(SKIP, 0) + by_status.get(PARTLY_UNTESTED, 0)
        return {"ops": total, "tested": total - untested, "pass": passed, "untested": untested,
                "coverage": passed / total if total else 0.0, "by_status": dict(sorted(by_status.items()))}

    out = {"all_dtypes": summarise(lambda op: status_in_every_dtype(table, op, dtypes))}
    for d in dtypes:
        out[d] = summarise(lambda op, d=d: table[(op, d)].status if (op, d) in table else UNTESTED)
    return out


def headline(cell: dict) -> str:
    """One coverage figure with what it rests on: "61.2% (393 pass / 520 tested / 122 untested)"."""
    pct = f"{100 * cell['coverage']:.1f}%"
    untested = cell.get("untested", cell["ops"] - cell["tested"])
    return f"{pct} ({cell['pass']} pass / {cell['tested']} tested / {untested} untested)"


def workload_dtypes(precision: str) -> list[str]:
    return ["float32", "bfloat16"] if "bf16" in precision else (
        ["float32", "float16"] if "fp16" in precision else ["float32"])


def covered_for(table, precision: str):
    dtypes = workload_dtypes(precision)

    def covered(op: str) -> bool:
        return op_status(table, op, dtypes) == PASS
    return covered


def workload_coverage(table, workloads: dict) -> dict:
    """{workload: {calls, flops, ...}} for workloads shaped like deeplink.opset.workloads.Workload."""
    out = {}
    for name, w in workloads.items():
        cov = w.coverage(covered_for(table, w.precision))
        out[name] = {
            "precision": w.precision, "dtypes_checked": workload_dtypes(w.precision),
            "calls_covered": cov.calls_covered, "calls_total": cov.calls_total,
            "calls_fraction": cov.calls_fraction,
            "flops_covered": cov.flops_covered, "flops_total": cov.flops_total,
            "flops_fraction": cov.flops_fraction,
            "uncovered": [{"op": op, "calls": w.calls[op], "flops": w.flops.get(op, 0),
                           "status": op_status(table, op, workload_dtypes(w.precision))}
                          for op in cov.uncovered],
        }
    return out
