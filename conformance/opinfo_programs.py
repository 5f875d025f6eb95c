"""Turn a golden OpInfo sample into something the worker can run on a target and check.

A program has `execute(device) -> CPU outputs` (copy inputs to the device, call the op, copy the
results back) and `check(outputs) -> Comparison`; conformance/execute.py runs it, classifies
exceptions and blames ops. Programs are rebuilt from the stored sample for every run, so in-place
ops never see inputs a previous run mutated.
"""
from __future__ import annotations

import torch
from torch.utils._pytree import tree_flatten

from . import properties
from .case_errors import SkipCase, StructureMismatch
from .compare import Comparison, compare_leaf, compare_trees
from .devices import check_devices, device_output_due
from .output_process import NotRecoverable, recover
from .tolerance import for_case

REF_CUDA = "cuda-golden"
REF_PROPERTIES = "properties"


def dtype_of(name: str) -> torch.dtype:
    return getattr(torch, name)


def map_tensors(x, fn):
    """Apply fn to every tensor in nested tuples / lists / dicts (a lean tree_map: this runs
    several times per case, and pytree's generality costs ~150 us a call)."""
    if isinstance(x, torch.Tensor):
        return fn(x)
    if isinstance(x, list):
        return [map_tensors(v, fn) for v in x]
    if isinstance(x, tuple):
        items = [map_tensors(v, fn) for v in x]
        return type(x)(*items) if hasattr(x, "_fields") else (tuple(items) if type(x) is tuple else type(x)(items))
    if isinstance(x, dict):
        return {k: map_tensors(v, fn) for k, v in x.items()}
    return x


def to_device(tree, device: str, keep_grad: bool = False):
    """Fresh copies on `device` (also for "cpu": stored inputs are never mutated); `device=`
    keyword arguments of factory samples ("cpu" or "cuda" in the golden data) are redirected to
    the target device."""
    def move(x):
        y = x.detach().to(device, copy=True)
        return y.requires_grad_(x.requires_grad) if keep_grad and x.requires_grad else y
    inp, args, kwargs = map_tensors(tree, move)
    if "device" in kwargs and kwargs["device"] is not None:
        # The recorder drew samples for "cpu" and ran them on "cuda"; either means "the device".
        kwargs = {**kwargs, "device": device}
    return inp, args, kwargs


def to_cpu(tree):
    return map_tensors(tree, lambda x: x.detach().cpu())


# OpInfos that exercise CUDA-only Python APIs rather than aten operators.
CUDA_ONLY_PREFIXES = ("jiterator_",)


def _batch_norm_eval_stats(sample) -> list[int]:
    """native_batch_norm & co. return save_mean / save_invstd; with training=False they are not
    used and not specified: CUDA returns (C,) tensors, ATen CPU empty ones."""
    training = next((a for a in sample["args"] if isinstance(a, bool)), True)
    return [] if training else [1, 2]


def _attention_rng_state(sample) -> list[int]:
    """CUDA's fused attention forwards return the Philox seed and offset as outputs 2 and 3: RNG
    bookkeeping of whichever generator ran (uninitialised tensors when dropout is off), not results."""
    return [2, 3]


# OpInfo key -> function(sample) -> indices of outputs whose value the op does not specify.
UNSPECIFIED_OUTPUTS = {
    "native_batch_norm": _batch_norm_eval_stats,
    "_native_batch_norm_legit": _batch_norm_eval_stats,
    "torch.ops.aten._efficient_attention_forward": _attention_rng_state,
    "torch.ops.aten._flash_attention_forward": _attention_rng_state,
}


def drop_outputs(tree, indices: list[int]):
    if not indices or not isinstance(tree, (tuple, list)):
        return tree
    return type(tree)(x for i, x in enumerate(tree) if i not in indices) if isinstance(tree, list) \
        else tuple(x for i, x in enumerate(tree) if i not in indices)


class OpInfoProgram:
    """Shared by the forward and gradient programs."""

    def __init__(self, case: dict):
        from .opinfo_db import get_opinfo, tolerance_overrides_cached  # noqa: PLC0415

        if case["op"].startswith(CUDA_ONLY_PREFIXES):
            raise SkipCase(f"{case['op']} exercises torch.cuda.jiterator, a CUDA-only code generator, "
                           "not an aten operator a backend could implement")
        self.case = case
        self.sample = case["sample"]
        self.dtype = dtype_of(case["dtype"])
        self.op = get_opinfo(case["op"])
        self.tol = for_case(self.dtype, [case["op"]] + case.get("aten", []),
                            tolerance_overrides_cached(case["op"], self.dtype), case["kind"])
        self.process_fn, self.output_process = None, None
        if case.get("processed"):
            try:
                self.process_fn, self.output_process = recover(
                    case["op"], self.dtype, case["kind"] == "gradients", case["index"],
                    (self.sample["input"], self.sample["args"], self.sample["kwargs"]))
            except NotRecoverable as e:
                raise SkipCase(str(e)) from e

    def call(self, inp, args, kwargs):
        out = self.op(inp, *args, **kwargs)
        return self.process_fn(out) if self.process_fn is not None else out


class ForwardProgram(OpInfoProgram):
    def __init__(self, case: dict):
        super().__init__(case)
        self.nondeterministic = case.get("nondeterministic", False)
        self.reference = REF_PROPERTIES if self.nondeterministic else REF_CUDA
        self.check_kind = properties.describe(case["name"], case.get("aten", [])) if self.nondeterministic else "value"

    def execute(self, device: str):
        inp, args, kwargs = to_device((self.sample["input"], self.sample["args"], self.sample["kwargs"]), device)
        out = self.call(inp, args, kwargs)
        if device_output_due((inp, args, kwargs)):
            check_devices(out, device)
        return to_cpu(out)

    def check(self, out) -> Comparison:
        if self.nondeterministic:
            c = Comparison()
            for problem in properties.check(self.case["name"], self.case.get("aten", []), out,
                                            self.sample["out"], self.sample["input"],
                                            self.sample["args"], self.sample["kwargs"]):
                c.fail(problem)
            return c
        unspecified = UNSPECIFIED_OUTPUTS.get(self.case["op"], lambda s: [])(self.sample)
        return compare_trees(drop_outputs(out, unspecified), drop_outputs(self.sample["out"], unspecified),
                             self.tol)


class GradientProgram(OpInfoProgram):
    """Forward, then torch.autograd.grad with the stored upstream gradients; compares the
    gradient of every leaf that requires grad (None and zeros are the same answer)."""

    reference = REF_CUDA
    check_kind = "value (gradients)"

    def __init__(self, case: dict):
        if case.get("nondeterministic"):
            raise SkipCase("nondeterministic op: its gradients depend on the random draw; "
                           "the forward case checks it by properties")
        super().__init__(case)

    def execute(self, device: str):
        s = self.sample
        inp, args, kwargs = to_device((s["input"], s["args"], s["kwargs"]), device, keep_grad=True)
        leaves = [t for t in tree_flatten((inp, args, kwargs))[0]
                  if isinstance(t, torch.Tensor) and t.requires_grad]
        out = self.call(inp, args, kwargs)
        # Same rule as the recorder: floating (not complex) outputs that require grad.
        outs = [t for t in tree_flatten(out)[0]
                if isinstance(t, torch.Tensor) and t.requires_grad and t.is_floating_point()]
        grad_outputs = [g.to(device) for g in s["grad_outputs"]]
        if len(outs) != len(grad_outputs):
            raise StructureMismatch(f"{len(outs)} differentiable outputs, CUDA had {len(grad_outputs)}")
        if not leaves or not outs:
            return []
        grads = torch.autograd.grad(outs, leaves, grad_outputs, allow_unused=True)
        check_devices(grads, device, "gradient")     # every leaf was moved to the device
        return [g.detach().cpu() if g is not None else None for g in grads]

    def check(self, grads) -> Comparison:
        expected = self.sample["grads"]
        result = Comparison()
        if len(grads) != len(expected):
            result.fail(f"{len(grads)} gradients, CUDA had {len(expected)}")
            return result
        for i, (g, e) in enumerate(zip(grads, expected)):
            if g is None and e is None:
                continue
            if g is None:
                g = torch.zeros_like(e)
            if e is None:
                e = torch.zeros_like(g)
            result.merge(compare_leaf(g, e, self.tol, f"grad[{i}]"))
        return result


def build(case: dict):
    if case["kind"] == "gradients":
        return GradientProgram(case)
    return ForwardProgram(case)
