"""PyTorch's OpInfo error inputs, run on the deeplink device and compared with the CPU.

For every OpInfo with `error_inputs` and every sample it makes for the deeplink device, the op is
called twice: on the sample itself, and on a CPU twin of it (every deeplink storage copied to
the CPU once, every tensor rebuilt as the same view of its copy, so arguments that share memory
on deeplink share it on the CPU too). The result is one of:

    match      deeplink raised the CPU's exception class or a subclass of it (or both returned
               NotImplemented)
    accepted   neither raised: the sample is not an error on the CPU either (OpInfo lists some
               errors that only a reference implementation or another device raises)
    mismatch   deeplink raised another class than the CPU, or raised where the CPU does not
    silent     the CPU raised, deeplink returned a result (a silent success)
    unusable   error_inputs() itself failed for the deeplink device

A sample that mixes deeplink tensors with tensors of another device is an error because of the
devices, which the CPU twin cannot show: there deeplink must raise the class the OpInfo declares
(`error_type`), as PyTorch's own test_errors asks of every device.

A crash of the interpreter ends the worker; the caller runs each backend's sweep in subprocesses
(`python tests/reliability/error_inputs.py BACKEND --shard I/N`) and reports a crash as such.
Run by hand, e.g.: `python tests/reliability/error_inputs.py cpu` prints a summary and every
sample that is not a match.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch

DEVICE = "deeplink"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: test aids such as ascend_emulator


def _cpu_twin(value, storages: dict):
    """`value` with every deeplink tensor replaced by a CPU tensor viewing a CPU copy of its
    storage (one copy per storage, so aliasing is kept; one twin per tensor, so a tensor passed
    twice is the same tensor twice); other values unchanged."""
    if isinstance(value, torch.Tensor) and value.device.type == DEVICE:
        if id(value) in storages:
            return storages[id(value)][1]
        key = value.untyped_storage().data_ptr(), value.untyped_storage().nbytes()
        if key not in storages:
            storages[key] = value.untyped_storage().cpu()
        twin = _twin_of(value, storages[key])
        storages[id(value)] = (value, twin)  # (the tensor is kept alive, so its id stays unique)
        return twin
    if isinstance(value, (list, tuple)):
        out = [_cpu_twin(v, storages) for v in value]
        return type(value)(out) if isinstance(value, list) else tuple(out)
    if isinstance(value, dict):
        return {k: _cpu_twin(v, storages) for k, v in value.items()}
    if isinstance(value, torch.device) and value.type == DEVICE:
        return torch.device("cpu")
    if isinstance(value, str) and value.startswith(DEVICE):
        return "cpu"
    return value


def _twin_of(value: torch.Tensor, storage) -> torch.Tensor:
    twin = torch.empty(0, dtype=value.dtype)
    twin.set_(storage, value.storage_offset(), value.shape, value.stride())
    if value.is_conj():
        twin = twin.conj()
    if value.is_neg():
        twin = torch._neg_view(twin)
    return twin.requires_grad_(value.requires_grad) if value.is_leaf else twin


def _run(op, sample, sync: bool = False) -> list[str]:
    """The class names (the class, then its bases) of what calling op on sample raised, or []
    when it returned normally. `sync`: wait for the device, so an error a kernel reports
    asynchronously (as CUDA and Ascend do for bad indices) counts for this sample."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = op(sample.input, *sample.args, **sample.kwargs)
            if sync:
                torch.deeplink.synchronize()
        if out is NotImplemented:
            return ["NotImplemented"]
    except Exception as e:  # noqa: BLE001 - the class is the result
        return [c.__name__ for c in type(e).__mro__]
    return []


def _twin_sample(sample):
    from torch.testing._internal.opinfo.core import SampleInput
    storages: dict = {}
    return SampleInput(_cpu_twin(sample.input, storages), args=_cpu_twin(sample.args, storages),
                       kwargs=_cpu_twin(sample.kwargs, storages))


def error_opinfos():
    from torch.testing._internal.common_methods_invocations import op_db
    return [op for op in op_db if op.error_inputs_func is not None]


def sweep(shard: int = 0, shards: int = 1, name_filter: str | None = None) -> list[dict]:
    results = []
    ops = error_opinfos()
    for i, op in enumerate(ops):
        if i % shards != shard or (name_filter and name_filter not in op.name):
            continue
        label = op.name + (f".{op.variant_test_name}" if op.variant_test_name else "")
        torch.manual_seed(0)
        try:
            samples = list(op.error_inputs(DEVICE))
        except Exception as e:  # noqa: BLE001
            results.append({"op": label, "sample": -1, "status": "unusable",
                            "detail": f"error_inputs('{DEVICE}') failed: {type(e).__name__}: {e}"})
            continue
        for k, ei in enumerate(samples):
            mixed = _mixes_devices(ei.sample_input)
            try:
                twin = _twin_sample(ei.sample_input)
            except Exception as e:  # noqa: BLE001
                results.append({"op": label, "sample": k, "status": "unusable",
                                "detail": f"cannot copy the sample to the CPU: {type(e).__name__}: {e}"})
                continue
            cpu = _run(op, twin)
            dl = _run(op, ei.sample_input, sync=True)
            results.append({"op": label, "sample": k, "cpu": cpu[0] if cpu else "", "deeplink": dl[0] if dl else "",
                            "declared": ei.error_type.__name__,
                            "status": _status(cpu[0] if cpu else "", dl, ei.error_type if mixed else None)})
    return results


def _status(cpu: str, dl: list[str], declared: type | None) -> str:
    """`dl`: the class names of deeplink's exception (a subclass of the expected class matches,
    as `except` and PyTorch's assertRaises would)."""
    expected = declared.__name__ if declared is not None and not cpu else cpu
    if not expected:
        return "accepted" if not dl else "mismatch"
    if expected in dl:
        return "match"
    return "silent" if not dl else "mismatch"


def _mixes_devices(sample) -> bool:
    tensors = [v for v in _flatten([sample.input, sample.args, sample.kwargs]) if isinstance(v, torch.Tensor)]
    return any(t.device.type != DEVICE and t.dim() > 0 for t in tensors) and any(t.device.type == DEVICE for t in tensors)


def _flatten(value):
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _flatten(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _flatten(v)
    else:
        yield value


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("backend")
    p.add_argument("--shard", default="0/1", help="I/N: run every N-th OpInfo starting at I")
    p.add_argument("--ops", default=None, help="only OpInfos whose name contains this")
    p.add_argument("--plugin", default=None, help="module:function to call first (registers a backend)")
    p.add_argument("--json", action="store_true", help="print the results as JSON lines")
    args = p.parse_args(argv)
    import deeplink
    if args.plugin:
        import importlib
        module, _, fn = args.plugin.partition(":")
        getattr(importlib.import_module(module), fn)()
    deeplink.use(args.backend)
    shard, shards = (int(x) for x in args.shard.split("/"))
    results = sweep(shard, shards, args.ops)
    if args.json:
        for r in results:
            print(json.dumps(r))
        return 0
    counts: dict = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
        if r["status"] not in ("match", "accepted"):
            print(f"{r['status']:<8} {r['op']}[{r['sample']}]: cpu {r.get('cpu') or 'no error'}, deeplink "
                  f"{r.get('deeplink') or 'no error'} {r.get('detail', '')}")
    print(f"backend {args.backend}: {len(results)} samples, " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
