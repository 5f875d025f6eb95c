"""Capture: save the inputs of selected op calls, with ATen CPU's reference results and the
device's own, as cases `deeplink conformance run --cases DIR` replays on any backend, so an op
that misbehaved in a user's program becomes a permanent regression case.

    with Capture("gelu|_softmax", "cases/") as cap:   # what `deeplink run --capture ...` wraps
        train()

One case per distinct (op, input dtypes, input shapes, non-tensor arguments): later calls with the
same signature are counted, not saved again. A call whose tensors together exceed `max_case_mb`
is not saved (counted as too large), nor are calls beyond `max_cases`. Each case is one file
`DIR/<op>-<digest>.pt` (torch.save of a dict, format FORMAT); DIR/cases.json indexes them.
"""
from __future__ import annotations

import collections
import hashlib
import json
import re
import threading
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from .module_path import ModulePath
from .op_check import DEVICE, check_call, op_name, skip_reason, to_cpu
from .steps import StepCounter

FORMAT = "deeplink-captured-op"
FORMAT_VERSION = 1


def _nbytes(tree) -> int:
    return sum(t.numel() * t.element_size() for t in tree_flatten(tree)[0] if isinstance(t, torch.Tensor))


def _on_device(x) -> bool:
    if isinstance(x, torch.Tensor):
        return x.device.type == DEVICE
    return isinstance(x, torch.device) and x.type == DEVICE


def device_leaves(tree) -> list[bool]:
    """Per flattened leaf of (args, kwargs): whether it was a deeplink tensor or device (replay
    puts exactly those on the replaying backend)."""
    return [_on_device(x) for x in tree_flatten(tree)[0]]


class Capture(TorchDispatchMode):
    def __init__(self, ops: str, out_dir: str | Path, max_case_mb: float = 16.0, max_cases: int = 500):
        super().__init__()
        self.wanted = re.compile(ops)
        self.ops_regex = ops
        self.out_dir = Path(out_dir)
        self.max_bytes = int(max_case_mb * 2**20)
        self.max_cases = max_cases
        self.modules = ModulePath()
        self.steps = StepCounter()
        self.cases: dict[str, dict] = {}
        self.seen: collections.Counter = collections.Counter()
        self.not_saved: collections.Counter = collections.Counter()
        self._lock = threading.Lock()

    def __enter__(self):
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.modules.__enter__()
        self.steps.__enter__()
        return super().__enter__()

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            self.steps.__exit__(*exc)
            self.modules.__exit__(*exc)
            self.write_index()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self.modules.note_forward_op()
        name = op_name(func)
        if skip_reason(func, name, args, kwargs, self.wanted) is not None:
            return func(*args, **kwargs)
        cpu_inputs = to_cpu((args, kwargs))
        out = func(*args, **kwargs)
        key = self._signature(name, cpu_inputs)
        with self._lock:
            self.seen[key] += 1
            if self.seen[key] > 1:
                return out
        if len(self.cases) >= self.max_cases:
            self.not_saved["over max_cases"] += 1
            return out
        if _nbytes(cpu_inputs) > self.max_bytes:
            self.not_saved["too large"] += 1
            return out
        where = self.modules.current()
        kind = "gradients" if where.phase == "backward" else "forward"
        try:
            check = check_call(func, name, cpu_inputs, args, kwargs, out, kind)
        except Exception as e:  # noqa: BLE001  (no reference: nothing to replay against)
            self.not_saved[f"CPU reference failed: {type(e).__name__}"] += 1
            return out
        if _nbytes((cpu_inputs, check.expected, check.actual)) > self.max_bytes:
            self.not_saved["too large"] += 1
            return out
        self._save(key, name, func, cpu_inputs, (args, kwargs), check, where)
        return out

    @staticmethod
    def _signature(name: str, cpu_inputs) -> str:
        parts = [name]
        for x in tree_flatten(cpu_inputs)[0]:
            parts.append(f"{x.dtype}{tuple(x.shape)}" if isinstance(x, torch.Tensor) else repr(x))
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]

    def _save(self, key: str, name: str, func, cpu_inputs, device_inputs, check, where) -> None:
        import deeplink
        summary = check.to_json()
        case = {
            "format": FORMAT, "version": FORMAT_VERSION, "op": name, "schema": str(func._schema),
            "args": cpu_inputs[0], "kwargs": cpu_inputs[1], "on_device": device_leaves(device_inputs),
            "expected": check.expected, "device_output": check.actual, "kind": "gradients" if where.phase == "backward"
            else "forward",
            "captured": {"backend": deeplink.current_backend(), "status": "pass" if check.ok else "mismatch",
                         "module": where.module, "module_type": where.module_type, "phase": where.phase,
                         "step": self.steps.steps, **{k: summary[k] for k in ("dtype", "dtypes", "shapes", "arguments",
                                                                               "max_abs_err", "max_rel_err")}},
        }
        safe = re.sub(r"[^\w.]", "_", name)
        path = self.out_dir / f"{safe}-{key}.pt"
        torch.save(case, path)
        with self._lock:
            self.cases[key] = {"file": path.name, "op": name, **case["captured"]}

    def write_index(self) -> None:
        index = {"format": FORMAT, "version": FORMAT_VERSION, "ops_regex": self.ops_regex,
                 "cases": sorted(self.cases.values(), key=lambda c: c["file"]),
                 "calls_per_case": {self.cases[k]["file"]: n for k, n in self.seen.items() if k in self.cases},
                 "not_saved": dict(self.not_saved)}
        (self.out_dir / "cases.json").write_text(json.dumps(index, indent=1, default=str))

    def summary(self) -> str:
        mism = sum(1 for c in self.cases.values() if c["status"] != "pass")
        extra = f"; not saved: {dict(self.not_saved)}" if self.not_saved else ""
        return (f"deeplink capture: {len(self.cases)} cases of ops matching {self.ops_regex!r} saved to "
                f"{self.out_dir} ({mism} disagreed with the CPU reference when captured){extra}")
