"""Per-op timing: calls, total and mean time of every aten op a program runs, split by the route
each call took on the deeplink backend (native kernel, decomposition, CPU fallback).

    with OpTimes() as times:                 # what `deeplink run --op-times` wraps the script in
        train()
    print(times.table())

Each op is timed from its dispatch to the end of its work: the device is synchronised after every
op that touches a deeplink tensor, so asynchronous backends are charged to the right op (and run
slower than without timing). The route of a call is read from the router's counters for that op
before and after it; an op that never reaches the router under its own name ran as other ops
("composite"); ops on CPU tensors only are "cpu".
"""
from __future__ import annotations

import collections
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from .op_check import DEVICE, op_name

ROUTES = ("native", "decomposed", "fallback", "composite", "cpu")


def _touches_device(args, kwargs) -> bool:
    for x in tree_flatten((args, kwargs))[0]:
        if isinstance(x, torch.Tensor) and x.device.type == DEVICE:
            return True
        if isinstance(x, torch.device) and x.type == DEVICE:
            return True
    return False


def _route(before, after) -> str:
    if after is None:
        return "composite"
    b = before or (0, 0, 0, 0)
    native, decomposed, fallback = (after[i] - b[i] for i in range(3))
    if fallback:
        return "fallback"
    if decomposed:
        return "decomposed"
    return "native" if native else "composite"


class OpTimes(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.rows: dict[tuple[str, str], list] = collections.defaultdict(lambda: [0, 0.0])
        self.wall = 0.0
        self._t0 = 0.0

    def __enter__(self):
        self._t0 = time.perf_counter()
        return super().__enter__()

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._t0
        return super().__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        from deeplink import _C
        kwargs = kwargs or {}
        name = op_name(func)
        on_device = _touches_device(args, kwargs)
        before = _C._op_stats().get(name) if on_device else None
        t0 = time.perf_counter()
        out = func(*args, **kwargs)
        if on_device:
            torch.deeplink.synchronize()
        elapsed = time.perf_counter() - t0
        route = _route(before, _C._op_stats().get(name)) if on_device else "cpu"
        row = self.rows[(name, route)]
        row[0] += 1
        row[1] += elapsed
        return out

    def to_json(self) -> dict:
        import deeplink
        rows = [{"op": op, "route": route, "calls": n, "total_ms": t * 1e3, "mean_us": t / n * 1e6}
                for (op, route), (n, t) in sorted(self.rows.items(), key=lambda kv: -kv[1][1])]
        by_route = collections.Counter()
        for r in rows:
            by_route[r["route"]] += r["total_ms"]
        return {"backend": deeplink.current_backend(), "wall_ms": self.wall * 1e3, "ops": rows,
                "total_ms_by_route": dict(by_route)}

    def table(self, top: int = 40) -> str:
        data = self.to_json()
        rows = data["ops"]
        total = sum(r["total_ms"] for r in rows) or 1.0
        lines = [f"deeplink op times, backend '{data['backend']}' (device synchronised after each op; "
                 f"{total:.1f} ms in ops of {data['wall_ms']:.1f} ms wall)",
                 f"{'op':<40} {'route':<10} {'calls':>7} {'total ms':>10} {'mean us':>10} {'share':>6}"]
        for r in rows[:top]:
            lines.append(f"{r['op'][:40]:<40} {r['route']:<10} {r['calls']:>7} {r['total_ms']:>10.2f} "
                         f"{r['mean_us']:>10.1f} {r['total_ms'] / total:>6.1%}")
        if len(rows) > top:
            rest = rows[top:]
            lines.append(f"{f'({len(rest)} more ops)':<40} {'':<10} {sum(r['calls'] for r in rest):>7} "
                         f"{sum(r['total_ms'] for r in rest):>10.2f}")
        split = ", ".join(f"{route} {ms:.1f} ms ({ms / total:.0%})" for route, ms in data["total_ms_by_route"].items())
        lines.append(f"time by route: {split}")
        return "\n".join(lines)
