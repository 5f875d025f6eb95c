"""One op call on the deeplink device checked against the CPU reference: the core that autocompare
and capture share.

Which calls are compared (`skip_reason`): aten ops that touch a deeplink tensor (or make one), minus
views (nothing is computed), random ops (the draws differ by design; attention kernels only when
called with dropout: deeplink/debug/attention_reference.py judges them without), ops whose output is
uninitialised memory (empty*, resize_) and backend-choice queries (_fused_sdp_choice). Indices
that ties may legitimately order differently (max.dim, sort, topk, ...) are not compared, their
values are.

How (`check_call`): the inputs are copied to the CPU before the device runs the op (in-place ops
change them); ATen's CPU kernel computes the reference from those copies; the outputs and every
argument the op writes are compared under the conformance suite's tolerance policy
(conformance/tolerance.py, conformance/compare.py). Where the same-dtype reference disagrees, a
float64 reference (floating inputs upcast, result rounded to the output dtype) gets the last word:
a backend more accurate than ATen's CPU kernel is not a divergence.

One adjustment to the conformance policy (`scaled`): its absolute tolerance was set for O(1) test
data; a model's tensors, and its gradients above all, are often far smaller, and a fixed atol of
1e-5 would hide a 10% error in a gradient of 1e-4. The atol is multiplied by the magnitude of the
op's operands (the largest finite |value| among its floating inputs and reference outputs; for a
pointwise op, among its reference outputs), never made larger than the conformance value. Rounding errors scale with the operands, so a correct
kernel stays inside; for O(1) data the policy is the conformance suite's exactly. And pointwise ops
(aten's `pointwise` tag) are judged element-wise only: the policy's norm-wise alternative exists for
reductions, linear algebra and FFTs, whose rounding errors spread over the output (Higham); an
element of a pointwise op depends on its own inputs alone, so a norm-wise pass would only hide a
wrong formula behind the elements it leaves right.
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field

import torch
from torch.utils._pytree import tree_flatten, tree_map

from deeplink.conformance.compare import Comparison, compare_trees
from deeplink.conformance.nondeterminism import RANDOM_OPS
from deeplink.conformance.tolerance import Tolerance, for_case
from deeplink.opset.names import from_op

from . import attention_reference
from .attention_reference import has_dropout, has_dropout_argument, is_fused_attention

DEVICE = "deeplink"
_UNINITIALISED = {"empty", "empty_like", "new_empty", "new_empty_strided", "empty_strided", "empty_permuted",
                  "resize_", "resize_as_", "set_"}
_NOT_VALUES = {"_fused_sdp_choice", "record_stream", "_has_compatible_shallow_copy_type", "is_pinned", "_pin_memory",
               "lift_fresh", "_assert_tensor_metadata"}
#: Outputs (by position) holding indices whose order among equal values is unspecified.
TIE_INDICES = {"max.dim": (1,), "min.dim": (1,), "sort": (1,), "sort.stable": (1,), "topk": (1,),
               "kthvalue": (1,), "mode": (1,), "median.dim": (1,), "nanmedian.dim": (1,), "cummax": (1,),
               "cummin": (1,), "max_pool2d_with_indices": (1,), "max_pool3d_with_indices": (1,),
               "adaptive_max_pool2d": (1,), "adaptive_max_pool3d": (1,), "argmax": (0,), "argmin": (0,)}
_UPCAST = (torch.float16, torch.bfloat16, torch.float32)


def op_name(func) -> str:
    return from_op(func) if func.namespace == "aten" else str(func)


def _tensors(tree) -> list[torch.Tensor]:
    return [t for t in tree_flatten(tree)[0] if isinstance(t, torch.Tensor)]


def _makes_device_tensor(kwargs) -> bool:
    d = kwargs.get("device")
    return isinstance(d, torch.device) and d.type == DEVICE


def skip_reason(func, name: str, args, kwargs, wanted: re.Pattern | None) -> str | None:
    """Why this call is not compared (None: it is)."""
    if func.namespace != "aten":
        return "not an aten op"
    if wanted is not None and not wanted.search(name):
        return "not selected by --ops"
    tensors = _tensors((args, kwargs))
    if not any(t.device.type == DEVICE for t in tensors) and not _makes_device_tensor(kwargs):
        return "no deeplink tensor"
    if any(t.device.type not in (DEVICE, "cpu") or t.layout != torch.strided for t in tensors):
        return "other device or layout"
    packet = name.split(".", 1)[0]
    if packet in _NOT_VALUES:
        return "not a value"
    if has_dropout_argument(func):   # attention kernels: random through their dropout only
        return "random" if has_dropout(func, args, kwargs) else None
    if torch.Tag.nondeterministic_seeded in func.tags or packet in RANDOM_OPS:
        return "random"
    if packet in _UNINITIALISED:
        return "uninitialised output"
    if any(r.alias_info is not None and not r.alias_info.is_write for r in func._schema.returns):
        return "view"
    if name in TIE_INDICES and len(func._schema.returns) == len(TIE_INDICES[name]):
        return "indices only (ties)"
    return None


def to_cpu(tree):
    """A CPU copy of the tensors and devices of an argument tree (deeplink tensors copied, CPU
    tensors cloned: the reference may write them)."""
    def move(x):
        if isinstance(x, torch.Tensor):
            return x.detach().to("cpu", copy=True)
        if isinstance(x, torch.device) and x.type == DEVICE:
            return torch.device("cpu")
        return x
    return tree_map(move, tree)


def _upcast(tree):
    return tree_map(lambda x: x.to(torch.float64) if isinstance(x, torch.Tensor) and x.dtype in _UPCAST else x, tree)


def written(func, args, kwargs) -> list:
    """The arguments the op writes (in-place `self`, out=, mutated lists), per its schema."""
    out = []
    for i, a in enumerate(func._schema.arguments):
        if a.alias_info is None or not a.alias_info.is_write:
            continue
        value = kwargs.get(a.name, args[i] if i < len(args) and not a.kwarg_only else None)
        if value is not None:
            out.append(value)
    return out


def observed(func, name: str, args, kwargs, outputs):
    """What is compared: the outputs minus tie-ordered indices, and the written arguments."""
    outs = list(outputs) if isinstance(outputs, (tuple, list)) and len(func._schema.returns) > 1 else [outputs]
    drop = TIE_INDICES.get(name, ())
    outs = [o for i, o in enumerate(outs) if i not in drop]
    writes = [] if func._schema.returns and all(r.alias_info is not None for r in func._schema.returns) \
        else written(func, args, kwargs)
    return [outs, writes]


def _cast_like(reference, actual):
    """Float64 reference leaves rounded to the dtypes of the device's leaves."""
    ref_leaves, spec = tree_flatten(reference)
    act_leaves = tree_flatten(actual)[0]
    if len(ref_leaves) != len(act_leaves):
        return reference
    cast = [r.to(a.dtype) if isinstance(r, torch.Tensor) and isinstance(a, torch.Tensor) and r.dtype != a.dtype
            else r for r, a in zip(ref_leaves, act_leaves)]
    return spec.unflatten(cast)


@dataclass
class CallCheck:
    op: str
    dtype: str
    input_dtypes: list[str]
    input_shapes: list[list[int]]
    output_shapes: list[list[int]]
    scalars: dict
    ok: bool
    comparison: Comparison
    tolerance: Tolerance
    reference: str
    expected: object = field(default=None, repr=False)   # the CPU reference's observed results
    actual: object = field(default=None, repr=False)     # the device's, copied to the CPU

    def to_json(self) -> dict:
        c = self.comparison
        return {"op": self.op, "dtype": self.dtype, "dtypes": self.input_dtypes, "shapes": self.input_shapes,
                "output_shapes": self.output_shapes, "arguments": self.scalars, "max_abs_err": c.max_abs,
                "max_rel_err": c.max_rel, "mismatch_ratio": c.mismatch_ratio, "normwise_rel_err": c.normwise_rel,
                "tolerance": self.tolerance.to_json(), "reference": self.reference, "problems": c.problems}


def _dtype_name(d: torch.dtype) -> str:
    return str(d).replace("torch.", "")


def describe_arguments(func, args, kwargs) -> tuple[list[str], list[list[int]], dict]:
    """(tensor dtypes, tensor shapes, non-tensor arguments by schema name) of a call."""
    tensors = _tensors((args, kwargs))
    scalars = {}
    for i, a in enumerate(func._schema.arguments):
        value = kwargs.get(a.name, args[i] if i < len(args) else None)
        if value is None or _tensors(value) or isinstance(value, torch.device):
            continue
        scalars[a.name] = value if isinstance(value, (int, float, bool, str)) else repr(value)
    return [_dtype_name(t.dtype) for t in tensors], [list(t.shape) for t in tensors], scalars


def _output_dtype(actual) -> torch.dtype:
    tensors = _tensors(actual)
    floats = [t for t in tensors if t.is_floating_point() or t.is_complex()]
    return (floats or tensors)[0].dtype if tensors else torch.float32


def _magnitude(tree) -> float:
    m = 0.0
    for t in _tensors(tree):
        if (t.is_floating_point() or t.is_complex()) and t.numel():
            finite = t.detach().abs().to(torch.float64)
            finite = finite[finite.isfinite()]
            if finite.numel():
                m = max(m, float(finite.max()))
    return m


def for_pointwise(tol: Tolerance) -> Tolerance:
    if tol.normwise_rtol == 0.0:
        return tol
    return dataclasses.replace(tol, normwise_rtol=0.0, source=f"{tol.source}, element-wise only (pointwise op)")


def scaled(tol: Tolerance, magnitude: float) -> Tolerance:
    """`tol` with its atol scaled to the operands' magnitude (never above the policy's atol)."""
    if magnitude >= 1.0 or tol.atol == 0.0 or math.isnan(magnitude):
        return tol
    return dataclasses.replace(tol, atol=tol.atol * magnitude, source=f"{tol.source}, atol x {magnitude:.3g} "
                                                                           "(operand magnitude)")


def tolerance_for(func, name: str, dtype: torch.dtype, cpu_inputs, expected, kind: str) -> Tolerance:
    """The conformance policy for this call, scaled to its operands, element-wise for pointwise ops.
    A pointwise op's operands are its results: each element is rounded relative to its own value,
    while an input of another scale (x in gelu_backward(grad, x), with grad ~1e-4) says nothing
    about the error of the result; reductions and linear algebra accumulate their inputs' scale."""
    policy = for_case(dtype, [name], kind=kind)
    if torch.Tag.pointwise in func.tags:
        return for_pointwise(scaled(policy, _magnitude(expected) or _magnitude(cpu_inputs)))
    return scaled(policy, max(_magnitude(cpu_inputs), _magnitude(expected)))


def judge(func, name: str, actual, expected, cpu_inputs, kind: str) -> tuple[Comparison, Tolerance, str]:
    """(comparison, tolerance, reference) of the device's observed results `actual` against the
    same-dtype CPU reference `expected`, with the float64 reference as second opinion."""
    dtype = _output_dtype(actual)
    tol = tolerance_for(func, name, dtype, cpu_inputs, expected, kind)
    if is_fused_attention(name):
        return attention_reference.compare(func, name, cpu_inputs, actual[0], tol), tol, attention_reference.REFERENCE
    comparison = compare_trees(actual, expected, tol)
    reference = f"ATen CPU {_dtype_name(dtype)}"
    if comparison.ok or dtype not in _UPCAST:
        return comparison, tol, reference
    wide_args, wide_kwargs = _upcast(cpu_inputs)
    try:
        wide = observed(func, name, wide_args, wide_kwargs, func(*wide_args, **wide_kwargs))
    except Exception:  # noqa: BLE001  (no float64 kernel, or a dtype-strict op: the first verdict stands)
        return comparison, tol, reference
    second = compare_trees(actual, _cast_like(wide, actual), tol)
    if second.ok:
        return second, tol, "ATen CPU float64"
    return comparison, tol, f"ATen CPU {_dtype_name(dtype)} and float64"


def check_call(func, name: str, cpu_inputs, args, kwargs, outputs, kind: str) -> CallCheck:
    """Compare the device's results of func(*args, **kwargs) (already run: `outputs`) with ATen
    CPU on `cpu_inputs` (a CPU copy of (args, kwargs) taken before the device ran)."""
    dtypes, shapes, scalars = describe_arguments(func, args, kwargs)
    actual = to_cpu(observed(func, name, args, kwargs, outputs))
    expected = None   # fused attention: ATen's CPU has no kernel; judge() computes its reference
    if not is_fused_attention(name):
        ref_args, ref_kwargs = tree_map(lambda x: x.clone() if isinstance(x, torch.Tensor) else x, cpu_inputs)
        expected = observed(func, name, ref_args, ref_kwargs, func(*ref_args, **ref_kwargs))
    comparison, tol, reference = judge(func, name, actual, expected, cpu_inputs, kind)
    out_shapes = [list(t.shape) for t in _tensors(outputs)]
    return CallCheck(op=name, dtype=_dtype_name(_output_dtype(actual)), input_dtypes=dtypes, input_shapes=shapes,
                     output_shapes=out_shapes, scalars=scalars, ok=comparison.ok, comparison=comparison,
                     tolerance=tol, reference=reference, expected=expected, actual=actual)
