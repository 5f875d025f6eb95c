"""`conformance trace`: record which aten ops a user's model calls, as a workload file.

The output has the format of deeplink/data/llm_workloads_cuda.json, so `conformance run
--workload FILE` reports what share of *your* model's aten calls and FLOPs the backend runs
natively and correctly. The model comes from a Python file or module exposing a function that
returns `(model, example_inputs)`; one training step is traced: forward, `.sum()` of the
floating outputs, backward, and (with --optimizer adamw) one foreach AdamW step, under a
TorchDispatchMode (aten overload -> calls) and FlopCounterMode (FLOPs per op).

Trace on the device whose op mix you care about: on CUDA a model calls CUDA's fused attention
kernels, on the CPU their CPU counterparts.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

from .targets import load_plugin


class _CallCounter(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.calls: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func)
        self.calls[name] = self.calls.get(name, 0) + 1
        return func(*args, **(kwargs or {}))


def load_model(spec: str):
    """`path/to/file.py:fn` or `package.module:fn`; fn() -> (model, example_inputs)."""
    target, _, attr = spec.rpartition(":")
    if not target:
        raise SystemExit(f"conformance trace: --model {spec!r} must look like file.py:function or module:function")
    module = load_plugin(target)
    fn = getattr(module, attr, None)
    if fn is None:
        raise SystemExit(f"conformance trace: {target} has no function {attr!r}")
    made = fn()
    if not (isinstance(made, tuple) and len(made) == 2):
        raise SystemExit(f"conformance trace: {spec}() must return (model, example_inputs)")
    return made


def trace_step(model, inputs, device: str = "cpu", backward: bool = True, optimizer: str | None = None,
               autocast: str | None = None) -> dict:
    import contextlib  # noqa: PLC0415

    from torch.utils.flop_counter import FlopCounterMode  # noqa: PLC0415

    model = model.to(device)
    inputs = tree_map(lambda x: x.to(device) if isinstance(x, torch.Tensor) else x, inputs)
    args = inputs if isinstance(inputs, (tuple, list)) else (inputs,)
    opt = None
    if optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)
    elif optimizer:
        raise SystemExit(f"conformance trace: unknown --optimizer {optimizer!r} (supported: adamw)")
    counter = _CallCounter()
    flops = FlopCounterMode(display=False)
    amp = torch.autocast(torch.device(device).type, dtype=getattr(torch, autocast)) if autocast \
        else contextlib.nullcontext()
    with flops, counter:
        with amp:
            out = model(*args)
        if backward:
            floats = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor) and t.is_floating_point()
                      and t.requires_grad]
            if floats:
                sum(t.float().sum() for t in floats).backward()
        if opt is not None:
            opt.step()
            opt.zero_grad(set_to_none=True)
    by_packet = {str(k): int(v) for k, v in flops.get_flop_counts().get("Global", {}).items()}
    params = sum(p.numel() for p in model.parameters()) / 1e6
    return {"params_M": round(params, 3), "calls": counter.calls, "flops": by_packet,
            "total_flops": sum(by_packet.values()), "device": device,
            "steps": "forward" + (" + backward" if backward else "") + (f" + {optimizer}" if optimizer else "")}


def write_workload(path: str | Path, name: str, traced: dict, source: str) -> None:
    path = Path(path)
    data = {"source": source, "workloads": {}}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
    data["workloads"][name] = traced
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
