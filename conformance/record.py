"""`conformance record --device cuda --out DIR`: record golden data on this machine's device,
for every dtype asked (default float32, bfloat16, float16) and both kinds (outputs, gradients).

Same format and sampling as the shipped H100 files (conformance/golden.py, golden README):
for every OpInfo that supports `dtype` on the device, draw its samples by the golden sampling
rule (opinfo_db.draw_samples), drop samples over 64 KiB of input, run each on the device under
a TorchDispatchMode that records the aten overloads reached, pass the output through the sample's `output_process_fn_grad`, store inputs
and outputs as CPU tensors. New fields (older readers ignore them): per sample `processed`
(the output went through a non-identity output_process_fn_grad), per file `meta.kind`.

With --kind gradients: samples drawn with requires_grad=True; fixed random upstream gradients
(one per floating output that requires grad, in tree_flatten order), the gradients of every
leaf that requires grad (None where unused), and the aten overloads the backward reached.

The output folder gets golden_<dtype>.pt.xz / golden_grad_<dtype>.pt.xz (the shipped files'
names) and a MANIFEST.json with their sha256 in the format of conformance/data/MANIFEST.json, so
the folder can be used as is (`conformance run --golden DIR`) or its files added to
conformance/data. bf16 and fp16 golden data needs a CUDA machine; `--device cpu` exists so the
recorder itself can be tested anywhere.
"""
from __future__ import annotations

import hashlib
import io
import json
import lzma
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

from .nondeterminism import touches_random
from .opinfo_db import draw_samples, has_identity_output_process, opinfo_key, opinfo_seed

MAX_INPUT_BYTES = 64 * 1024
# OpInfos whose values are unspecified (memory contents) or random by contract.
UNSPECIFIED_VALUE_OPS = {"empty", "empty_like", "new_empty", "new_empty_strided", "empty_strided",
                         "empty_permuted"}


class _AtenRecorder(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func)                 # "aten.add.Tensor" (the golden files' spelling)
        if name not in self.ops:
            self.ops.append(name)
        return func(*args, **(kwargs or {}))


def _input_bytes(sample) -> int:
    leaves = tree_flatten((sample.input, sample.args, sample.kwargs))[0]
    return sum(t.numel() * t.element_size() for t in leaves if isinstance(t, torch.Tensor))


def _to(device: str, keep_grad: bool):
    def move(x):
        if isinstance(x, torch.Tensor):
            y = x.detach().to(device)
            return y.requires_grad_(x.requires_grad) if keep_grad else y
        return x
    return move


def _device_kwargs(kwargs: dict, device: str) -> dict:
    return {**kwargs, "device": device} if kwargs.get("device") is not None else kwargs


def _cpu(tree):
    def move(x):
        return x.detach().cpu() if isinstance(x, torch.Tensor) else x
    flat, spec = tree_flatten(tree)
    out = spec.unflatten([move(x) for x in flat]) if flat else tree
    # Namedtuples (torch.return_types) are stored as plain tuples.
    if isinstance(out, tuple) and type(out) is not tuple:
        out = tuple(out)
    return out


def _storable(entry: dict, aten_key: str) -> dict:
    """The entry, or (as the shipped files do) an error entry when torch.save cannot pickle it:
    some OpInfo kwargs hold objects such as torch.memory_format that do not serialise."""
    try:
        torch.save(entry, io.BytesIO())
        return entry
    except Exception as e:  # noqa: BLE001
        return {"error": f"{type(e).__name__}: {e}"[:2000], aten_key: entry.get(aten_key, [])}


def record_forward(op, key: str, dtype: torch.dtype, device: str, stats: dict) -> list[dict]:
    samples = draw_samples(op, key, dtype, requires_grad=False)
    out = []
    for sample in samples:
        if _input_bytes(sample) > MAX_INPUT_BYTES:
            stats["too_big"] += 1
            continue
        stored = tree_map(lambda x: x.clone() if isinstance(x, torch.Tensor) else x,
                          (sample.input, sample.args, sample.kwargs))
        entry = {"input": stored[0], "args": stored[1], "kwargs": stored[2]}
        inp, args, kwargs = tree_map(_to(device, False), (sample.input, sample.args, sample.kwargs))
        recorder = _AtenRecorder()
        try:
            with recorder:
                result = op(inp, *args, **_device_kwargs(kwargs, device))
            result = sample.output_process_fn_grad(result)
            entry.update({"out": _cpu(result), "aten": recorder.ops,
                          "processed": not has_identity_output_process(sample)})
            stats["ok"] += 1
        except Exception as e:  # noqa: BLE001  (an error is CUDA's answer too; stored as such)
            entry = {"error": f"{type(e).__name__}: {e}"[:2000], "aten": recorder.ops}
            stats["run_error"] += 1
        out.append(_storable(entry, "aten"))
    return out


def record_gradients(op, key: str, dtype: torch.dtype, device: str, stats: dict) -> list[dict]:
    samples = draw_samples(op, key, dtype, requires_grad=True)
    out = []
    g = torch.Generator().manual_seed(opinfo_seed(key) + 1)
    for sample in samples:
        if _input_bytes(sample) > MAX_INPUT_BYTES:
            stats["too_big"] += 1
            continue
        stored = tree_map(lambda x: x.detach().clone().requires_grad_(x.requires_grad)
                          if isinstance(x, torch.Tensor) else x, (sample.input, sample.args, sample.kwargs))
        inp, args, kwargs = tree_map(_to(device, True), stored)
        leaves = [t for t in tree_flatten((inp, args, kwargs))[0] if isinstance(t, torch.Tensor) and t.requires_grad]
        recorder = _AtenRecorder()
        try:
            result = sample.output_process_fn_grad(op(inp, *args, **_device_kwargs(kwargs, device)))
            outs = [t for t in tree_flatten(result)[0]
                    if isinstance(t, torch.Tensor) and t.requires_grad and t.is_floating_point()]
            if not outs or not leaves:
                stats["no_grad_path"] += 1
                continue
            grad_outputs = [torch.randn(t.shape, generator=g, dtype=t.dtype) for t in outs]
            with recorder:
                grads = torch.autograd.grad(outs, leaves, [x.to(device) for x in grad_outputs],
                                            allow_unused=True)
            out.append(_storable({"input": stored[0], "args": stored[1], "kwargs": stored[2],
                                  "grad_outputs": grad_outputs,
                                  "grads": [x.detach().cpu() if x is not None else None for x in grads],
                                  "aten_backward": recorder.ops,
                                  "processed": not has_identity_output_process(sample)},
                                 "aten_backward"))
            stats["ok"] += 1
        except Exception as e:  # noqa: BLE001
            out.append({"error": f"{type(e).__name__}: {e}"[:2000], "aten_backward": recorder.ops})
            stats["run_error"] += 1
    return out


def record(device: str, out: str | Path, dtype: str = "float32", kind: str = "forward",
           ops: str | None = None, log=print) -> dict:
    """Record golden data for every matching OpInfo; returns the file's meta."""
    from torch.testing._internal.common_methods_invocations import op_db  # noqa: PLC0415

    torch_dtype = getattr(torch, dtype)
    device_type = torch.device(device).type
    if device_type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("conformance record --device cuda: torch.cuda.is_available() is False on this "
                         "machine; run it on a CUDA machine (or use --device cpu to test the recorder)")
    if kind == "gradients" and device_type != "cpu":
        _check_autograd_usable(device_type)
    rx = re.compile(ops) if ops else None
    stats = {"ok": 0, "run_error": 0, "too_big": 0, "no_grad_path": 0}
    data = {}
    t0 = time.monotonic()
    chosen = [op for op in op_db if (rx is None or rx.search(opinfo_key(op.name, op.variant_test_name)))
              and torch_dtype in op.supported_dtypes(device_type)
              and (kind == "forward" or op.supports_autograd)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, op in enumerate(chosen):
            key = opinfo_key(op.name, op.variant_test_name)
            fn = record_gradients if kind == "gradients" else record_forward
            try:
                samples = fn(op, key, torch_dtype, device, stats)
            except Exception as e:  # noqa: BLE001  (sample generation itself failed)
                log(f"  {key}: could not draw samples ({type(e).__name__}: {e})")
                continue
            runs = [s for s in samples if "error" not in s]
            nondet = key.split(".")[0] in UNSPECIFIED_VALUE_OPS or op.name in UNSPECIFIED_VALUE_OPS or \
                bool(runs and all(touches_random([a.split(".", 1)[-1] for a in s.get("aten", [])]) for s in runs))
            data[key] = {"name": op.name, "variant": op.variant_test_name, "nondeterministic": nondet,
                         "samples": samples}
            if (i + 1) % 50 == 0:
                log(f"  {i + 1}/{len(chosen)} OpInfos")
    meta = {"device": device_type, "dtype": str(torch_dtype), "torch": torch.__version__, "kind": kind,
            "device_name": torch.cuda.get_device_name() if device_type == "cuda" else "cpu",
            "seconds": round(time.monotonic() - t0, 1), "stats": stats, "opinfos": len(data),
            "python": sys.version.split()[0]}
    buffer = io.BytesIO()
    torch.save({"meta": meta, "ops": data}, buffer)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_bytes(lzma.compress(buffer.getvalue()))
    return meta


def _check_autograd_usable(device_type: str) -> None:
    """Native device backward is broken in a process that registered a PrivateUse1 backend (torch
    then takes it as *the* accelerator and the autograd engine asserts on CUDA graphs,
    pytorch/pytorch#161129). Recording gradients there would store that assert as every sample's
    answer, so refuse, and point at the clean-process path."""
    name = torch._C._get_privateuse1_backend_name()
    if name != "privateuseone":
        raise RuntimeError(
            f"conformance record: cannot record {device_type} gradients in a process where the PrivateUse1 "
            f"backend {name!r} is registered (torch's autograd engine then fails on {device_type} graphs, "
            "pytorch/pytorch#161129); use record_all_clean() or `deeplink conformance record`, which record in "
            "a fresh interpreter that never imports deeplink")


# Bootstraps this folder as a package under another name, so record.py and the helpers it imports
# (opinfo_db, tolerance, nondeterminism: torch only) load without importing deeplink (the folder is `deeplink.conformance` when installed).
_CLEAN_BOOT = """
import json, sys, types
pkg = types.ModuleType("_dl_conformance")
pkg.__path__ = [{folder!r}]
sys.modules["_dl_conformance"] = pkg
from _dl_conformance.record import record_all
entries = record_all({device!r}, {out!r}, {dtypes!r}, {kinds!r}, {ops!r},
                     log=lambda m: print(m, file=sys.stderr, flush=True))
assert "deeplink" not in sys.modules, "the clean recorder imported deeplink"
print(json.dumps(entries))
"""


def record_all_clean(device: str, out_dir: str | Path, dtypes=("float32", "bfloat16", "float16"),
                     kinds=("forward", "gradients"), ops: str | None = None) -> list[dict]:
    """record_all() in a fresh interpreter that never imports deeplink (see _check_autograd_usable);
    progress goes to this process's stderr."""
    code = _CLEAN_BOOT.format(folder=str(Path(__file__).resolve().parent), device=device, out=str(out_dir),
                              dtypes=list(dtypes), kinds=list(kinds), ops=ops)
    run = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    if run.returncode != 0:
        raise SystemExit(f"conformance record: the recording process failed (exit {run.returncode}); "
                         "its error is printed above")
    return json.loads(run.stdout.strip().splitlines()[-1])


def file_name(kind: str, dtype: str) -> str:
    return f"golden_grad_{dtype}.pt.xz" if kind == "gradients" else f"golden_{dtype}.pt.xz"


def record_all(device: str, out_dir: str | Path, dtypes=("float32", "bfloat16", "float16"),
               kinds=("forward", "gradients"), ops: str | None = None, log=print) -> list[dict]:
    """Record every (dtype, kind) into `out_dir` and write its MANIFEST.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for dtype in dtypes:
        for kind in kinds:
            path = out_dir / file_name(kind, dtype)
            log(f"recording {kind} {dtype} on {device} -> {path}")
            meta = record(device, path, dtype, kind, ops, log)
            samples = meta["stats"]["ok"] + meta["stats"]["run_error"]
            entries.append({"file": path.name, "kind": kind, "dtype": dtype,
                            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                            "recorded_on": meta["device_name"], "torch": meta["torch"],
                            "opinfos": meta["opinfos"], "samples": samples,
                            "samples_raised_on_device": meta["stats"]["run_error"],
                            "ops_filter": ops, "recorded_with": "deeplink conformance record"})
    (out_dir / "MANIFEST.json").write_text(json.dumps({"about": "recorded by deeplink conformance record",
                                                       "files": entries}, indent=1) + "\n")
    return entries
