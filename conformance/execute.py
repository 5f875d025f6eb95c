"""Run one case on a target, classify what happened, and blame the op(s) responsible.

The fast path is a single plain run. Only a failing case pays for diagnosis:

1. re-run under RecordMode: which overloads the case called, which one raised;
2. re-run with *all* of them on ATen CPU (SubstituteMode). Still failing, the sample is run once
   more natively on ATen CPU, without the device (NATIVE_CPU). Failing there too means ATen CPU
   gives the same answer and CUDA differs: "unattributed". Passing there means the backend made
   the sample run differently (another attention kernel, another decomposition): the overloads
   the device run called and the native run did not are blamed ("ran differently"); when there are
   none, the failure is the backend's, outside any op, and says so;
3. otherwise substitute one op at a time: each op whose substitution alone fixes the case is to
   blame; if none does alone (two bugs in one sample), shrink the full set one op at a time to a
   minimal set that still fixes it.

An op blamed for an exception another op raised (e.g. a reduction over the wrong dim whose output
made a later op fail) is blamed with `mismatch`: its output was wrong.
"""
from __future__ import annotations

import contextlib
import math
import time
import traceback
from dataclasses import dataclass, field

from .case_errors import SkipCase, StructureMismatch
from .compare import Comparison
from .dispatch_modes import RecordMode, TraceMode
from .statuses import ERROR, FALLBACK, MISMATCH, NOT_IMPLEMENTED, PASS, SKIP

@dataclass
class Attempt:
    status: str
    comparison: Comparison | None = None
    message: str = ""
    routes: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in (PASS, FALLBACK)


def _classify_exception(e: BaseException) -> str:
    if isinstance(e, NotImplementedError):
        return NOT_IMPLEMENTED
    text = f"{type(e).__name__}: {e}"
    if isinstance(e, RuntimeError) and text.split("\n", 1)[0].count("Could not run 'aten::"):
        return NOT_IMPLEMENTED
    return ERROR


def _short(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip()
    first = text.splitlines()[0] if text else type(e).__name__
    return first[:400]


def attempt(program, target, modes=()) -> Attempt:
    target.reset_stats()
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        stack.enter_context(target.run_context())
        for mode in modes:
            stack.enter_context(mode)
        try:
            out = program.execute(target.device)
            error = None
        except StructureMismatch as e:
            c = Comparison()
            c.fail(str(e))
            return Attempt(MISMATCH, c, str(e), target.routes(), time.perf_counter() - t0)
        except Exception as e:  # noqa: BLE001  (any exception is a finding about the backend)
            out, error = None, e
    seconds = time.perf_counter() - t0
    routes = target.routes()
    if error is not None:
        return Attempt(_classify_exception(error), None, _short(error), routes, seconds)
    try:
        comparison = program.check(out)
    except Exception as e:  # noqa: BLE001  (an output the checks cannot even read is not CUDA's)
        comparison = Comparison()
        comparison.fail(f"the result could not be checked ({_short(e)})")
    if not comparison.ok:
        return Attempt(MISMATCH, comparison, "; ".join(comparison.problems), routes, seconds)
    if routes.get("fallback"):
        return Attempt(FALLBACK, comparison, "fell back to the CPU: " + ", ".join(routes["fallback"]),
                       routes, seconds)
    return Attempt(PASS, comparison, "", routes, seconds)


class _NativeCpu:
    """The sample on plain ATen CPU tensors, no deeplink anywhere: what "fails natively" means."""

    name = "native-cpu"
    device = "cpu"
    can_substitute = False

    def run_context(self):
        return contextlib.nullcontext()

    def reset_stats(self) -> None:
        pass

    def routes(self) -> dict:
        return {}


NATIVE_CPU = _NativeCpu()

# Host <-> device traffic of the case itself: a device run has it and a native CPU run does not, so
# it is never "what ran differently".
_MOVEMENT = frozenset({"_to_copy", "_copy_from", "_copy_from_and_resize", "copy_", "empty.memory_format",
                       "empty_strided", "lift_fresh", "detach"})


def _compare_with_native_cpu(program, first: Attempt, candidates: list[str], raised_in) -> dict:
    """Every op on ATen CPU did not fix the case: does the sample fail natively on the CPU too?"""
    native_record = RecordMode()
    native = attempt(program, NATIVE_CPU, [native_record])
    if not native.ok:
        return {"method": "unattributed", "ops": {}, "candidates": candidates, "native_cpu": native.status,
                "note": f"fails natively on ATen CPU too ({native.status}): the backend agrees with ATen CPU "
                        "and CUDA differs"}
    differ = [op for op in candidates if op not in native_record.seen and op not in _MOVEMENT]
    if not differ:
        return {"method": "backend, outside any op", "ops": {}, "candidates": candidates, "native_cpu": PASS,
                "note": "passes natively on ATen CPU with the same ops; the difference is outside them "
                        "(copies, autograd, the device)"}
    blamed = {op: ERROR if first.status == ERROR and op == raised_in else MISMATCH for op in differ}
    return {"method": "ran differently", "ops": blamed, "native_cpu": PASS,
            "native_ops": [op for op in native_record.seen if op not in native_record.views],
            "note": "passes natively on ATen CPU, which ran " + ", ".join(
                op for op in native_record.seen if op not in native_record.views and op not in candidates)[:300]
                    + " instead"}


def diagnose(program, target, first: Attempt) -> dict:
    """Which ops are to blame for a failing attempt (see module docstring)."""
    record = RecordMode()
    again = attempt(program, target, [record])
    if again.status != first.status:
        return {"method": "not reproducible", "ops": {},
                "note": f"a second run gave {again.status}: {again.message[:200]}"}
    candidates = [op for op in record.seen if op not in record.views]
    raised_in = record.raised_in
    if first.status == NOT_IMPLEMENTED and raised_in:
        return {"method": "raised_in", "ops": {raised_in: NOT_IMPLEMENTED}}
    if not target.can_substitute or not candidates:
        if first.status == ERROR and raised_in:
            return {"method": "raised_in", "ops": {raised_in: ERROR}}
        return {"method": "unattributed", "ops": {}, "candidates": candidates}

    def fixed_by(ops) -> bool:
        return attempt(program, target, [target.substitute(ops)]).ok

    if not fixed_by(candidates):
        if target.device != "cpu":
            native = _compare_with_native_cpu(program, first, candidates, raised_in)
            if native["ops"] or native["method"] != "unattributed" or not (first.status == ERROR and raised_in):
                return native
            return {"method": "raised_in", "ops": {raised_in: ERROR}, "note": native["note"]}
        if first.status == ERROR and raised_in:
            return {"method": "raised_in", "ops": {raised_in: ERROR}}
        return {"method": "unattributed", "ops": {}, "candidates": candidates}
    culprits = [op for op in candidates if fixed_by([op])]
    method = "substitution"
    if not culprits:
        culprits = list(candidates)
        for op in list(culprits):
            trial = [c for c in culprits if c != op]
            if trial and fixed_by(trial):
                culprits = trial
        method = "substitution (minimal set)"
    blamed = {}
    for op in culprits:
        if first.status == ERROR and op == raised_in:
            blamed[op] = ERROR
        else:
            blamed[op] = MISMATCH
    return {"method": method, "ops": blamed, "raised_in": raised_in}


def _finite_or_none(x: float):
    return x if x is not None and math.isfinite(x) else (None if x is None else str(x))


def run_case(case: dict, target, trace_path: str | None = None) -> dict:
    """The JSON-able result of one case (see conformance/results.py for the fields)."""
    from .programs import build  # noqa: PLC0415

    result = {"id": case["id"]}
    try:
        program = build(case)
    except SkipCase as e:
        return {**result, "status": SKIP, "message": str(e)}
    except Exception as e:  # noqa: BLE001
        return {**result, "status": ERROR, "message": "could not build the case: " + _short(e),
                "traceback": traceback.format_exc(limit=4)[-1500:]}
    modes = []
    trace_file = None
    if trace_path:
        trace_file = open(trace_path, "ab", buffering=0)  # noqa: SIM115  (closed below)
        modes.append(TraceMode(trace_file.fileno()))
    try:
        first = attempt(program, target, modes)
    finally:
        if trace_file is not None:
            trace_file.close()
    result.update({
        "status": first.status,
        "message": first.message,
        "seconds": round(first.seconds, 6),
        "routes": {k: v for k, v in first.routes.items() if v},
        "reference": program.reference,
        "check": program.check_kind,
        "tolerance": {"rtol": program.tol.rtol, "atol": program.tol.atol,
                      "normwise_rtol": program.tol.normwise_rtol, "source": program.tol.source}
        if getattr(program, "tol", None) is not None else None,
    })
    if getattr(program, "output_process", None):
        result["output_process"] = program.output_process
    if first.comparison is not None and first.comparison.elements:
        result["max_abs"] = _finite_or_none(first.comparison.max_abs)
        result["max_rel"] = _finite_or_none(first.comparison.max_rel)
        result["normwise_rel"] = _finite_or_none(first.comparison.normwise_rel)
        result["mismatch_ratio"] = first.comparison.mismatch_ratio
        result["tol_ratio"] = _finite_or_none(first.comparison.tol_ratio)
        if first.comparison.via_normwise and first.comparison.ok:
            result["criterion"] = "normwise"
    if not first.ok and not trace_path:
        try:
            result["blame"] = diagnose(program, target, first)
        except Exception as e:  # noqa: BLE001  (diagnosis must never lose the finding itself)
            result["blame"] = {"method": "diagnosis failed", "ops": {}, "note": _short(e)}
    return result
