"""Autocompare: run every (selected) op of a program on the deeplink backend and on the CPU
reference, and report the first one that diverges, with the module it ran in.

    with Autocompare(ops=None) as ac:       # what `deeplink run --autocompare` wraps the script in
        train()
    ac.report()                              # {"first_divergence": {...}, ...}; ac.summary() to read

Built on a TorchDispatchMode, so it sees every aten op after autograd and autocast (forward,
backward on autograd's device thread, optimizer), whatever the backend. The device's results are
what the program continues with; the reference only judges them. An op the device raises on
raises as usual. Each op is compared on the device's own inputs, so a divergence is the op's own,
not inherited from an earlier one.
"""
from __future__ import annotations

import collections
import re
import threading
import time

from torch.utils._python_dispatch import TorchDispatchMode

from .module_path import ModulePath
from .op_check import check_call, op_name, skip_reason, to_cpu
from .steps import StepCounter

REPORT_VERSION = 1


class Autocompare(TorchDispatchMode):
    def __init__(self, ops: str | None = None, history: int = 12, keep: int = 20):
        super().__init__()
        self.wanted = re.compile(ops) if ops else None
        self.ops_regex = ops
        self.modules = ModulePath()
        self.steps = StepCounter()
        self.history: collections.deque = collections.deque(maxlen=history)
        self.keep = keep
        self.calls = 0
        self.compared = 0
        self.skipped: collections.Counter = collections.Counter()
        self.reference_failures: collections.Counter = collections.Counter()
        self.divergences: list[dict] = []
        self.divergent_ops: collections.Counter = collections.Counter()
        self.first_history: list[dict] = []
        self._lock = threading.Lock()
        self._started = 0.0
        self.seconds = 0.0

    def __enter__(self):
        self.modules.__enter__()
        self.steps.__enter__()
        self._started = time.perf_counter()
        return super().__enter__()

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            self.seconds = time.perf_counter() - self._started
            self.steps.__exit__(*exc)
            self.modules.__exit__(*exc)

    def _position(self) -> dict:
        where = self.modules.current()
        phase = "optimizer" if self.steps.in_step and where.phase != "backward" else where.phase
        return {"step": self.steps.steps, "phase": phase, "module": where.module, "module_type": where.module_type}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self.modules.note_forward_op()
        name = op_name(func)
        skip = skip_reason(func, name, args, kwargs, self.wanted)
        if skip is not None:
            with self._lock:
                self.calls += 1
                self.skipped[skip] += 1
            return func(*args, **kwargs)
        cpu_inputs = to_cpu((args, kwargs))
        out = func(*args, **kwargs)
        position = self._position()
        kind = "gradients" if position["phase"] == "backward" else "forward"
        try:
            result = check_call(func, name, cpu_inputs, args, kwargs, out, kind)
        except Exception as e:  # noqa: BLE001  (the reference cannot judge this call; the program goes on)
            with self._lock:
                self.calls += 1
                self.reference_failures[f"{name}: {type(e).__name__}: {str(e).splitlines()[0][:200]}"] += 1
            return out
        with self._lock:
            self.calls += 1
            self.compared += 1
            record = {"call": self.calls, **position, **result.to_json()}
            if not result.ok:
                self._diverged(record)
            self.history.append(_brief(record, result.ok))
        return out

    def _diverged(self, record: dict) -> None:
        import deeplink
        # how the backend ran it: its own kernel, a decomposition into its other ops, or the CPU
        record["route"] = deeplink.route_of(record["op"])
        if not self.divergences:
            self.first_history = list(self.history)
        self.divergent_ops[record["op"]] += 1
        if len(self.divergences) < self.keep:
            self.divergences.append(record)

    # ---------------------------------------------------------- results
    def report(self) -> dict:
        import deeplink
        first = self.divergences[0] if self.divergences else None
        return {
            "schema_version": REPORT_VERSION, "tool": "deeplink autocompare", "backend": deeplink.current_backend(),
            "ops_regex": self.ops_regex, "seconds": round(self.seconds, 3), "calls": self.calls,
            "compared": self.compared, "skipped": dict(self.skipped.most_common()),
            "not_judged": dict(self.reference_failures.most_common()),
            "divergent_calls": sum(self.divergent_ops.values()), "divergent_ops": dict(self.divergent_ops.most_common()),
            "first_divergence": first, "calls_before_first": self.first_history,
            "divergences": self.divergences,
            "tolerance_policy": "conformance/tolerance.py (the conformance suite's), float64 CPU reference as "
                                "second opinion",
        }

    def summary(self, report: dict | None = None) -> str:
        return render_summary(report or self.report())


def _brief(record: dict, ok: bool) -> dict:
    return {"call": record["call"], "step": record["step"], "phase": record["phase"], "module": record["module"],
            "op": record["op"], "dtypes": record["dtypes"], "shapes": record["shapes"],
            "result": "ok" if ok else "DIVERGED"}


def _where(r: dict) -> str:
    module = r["module"] or ("(root)" if r["module_type"] else "(no module)")
    kind = f" ({r['module_type']})" if r["module_type"] else ""
    return f"{module}{kind}"


def _shapes(shapes) -> str:
    return ", ".join("(" + ", ".join(map(str, s)) + ")" for s in shapes)


def render_summary(report: dict) -> str:
    lines = [f"deeplink autocompare, backend '{report['backend']}': {report['calls']} op calls, {report['compared']} compared "
             f"with the CPU reference, {report['divergent_calls']} diverged"
             + (f" (ops matching {report['ops_regex']!r})" if report["ops_regex"] else "")]
    first = report["first_divergence"]
    if first is None:
        lines.append("no divergence: every compared op agreed with the CPU reference within the conformance tolerances")
    else:
        tol = first["tolerance"]
        lines += [
            f"FIRST DIVERGENCE: aten::{first['op']} at call #{first['call']} (step {first['step']}, {first['phase']})",
            f"  module:    {_where(first)}",
            f"  route:     {first['route']} on backend '{report['backend']}'",
            f"  dtype:     {first['dtype']}; inputs {', '.join(first['dtypes'])}: {_shapes(first['shapes'])}",
        ]
        if first["arguments"]:
            lines.append("  arguments: " + ", ".join(f"{k}={v!r}" for k, v in first["arguments"].items()))
        lines += [f"  error:     max abs {first['max_abs_err']:.3g}, max rel {first['max_rel_err']:.3g} "
                  f"(tolerance rtol={tol['rtol']:.3g} atol={tol['atol']:.3g}, reference {first['reference']})"]
        lines += [f"             {p}" for p in first["problems"][:2]]
        if report["calls_before_first"]:
            lines.append("  calls before it:")
            for c in report["calls_before_first"]:
                lines.append(f"    #{c['call']:<6} step {c['step']} {c['phase']:<9} {c['op']:<28} "
                             f"{_where({**c, 'module_type': ''}) if c['module'] else '(no module)'}  {c['result']}")
        others = {k: v for k, v in report["divergent_ops"].items()}
        lines.append("  divergent ops: " + ", ".join(f"{k} ({v} calls)" for k, v in others.items()))
    if report["not_judged"]:
        lines.append(f"  not judged ({sum(report['not_judged'].values())} calls, the CPU reference failed): "
                     + "; ".join(list(report["not_judged"])[:3]))
    return "\n".join(lines)



