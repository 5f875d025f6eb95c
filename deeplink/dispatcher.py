"""Routing policy: what the active backend does with an aten op that reaches the deeplink device.

Order (DESIGN.md): the backend's native kernel; else a torch._decomp decomposition run on the
device; else the CPU fallback (counted, warned once per op); else an error. The shim asks
`resolve(op_name)` once per op and backend and caches the answer; `deeplink.use()` and
`set_fallback_mode()` invalidate it. Every call is counted in the shim (see `op_stats`).
"""
from __future__ import annotations

import os
import re
import threading

import torch

from . import registry
from .dtypes import COMPUTE, SCALAR_TYPES
from .kernels import Passthrough, PythonKernel
from .opset.names import exists, from_op, has_kernel, op_overload

Tensor = torch.Tensor

FALLBACK_MODES = ("warn", "error", "silent")
_mode = None
_forced: re.Pattern | None | bool = False   # False: DEEPLINK_FORCE_FALLBACK not read yet
_argument_checks = os.environ.get("DEEPLINK_ARGUMENT_CHECKS", "1") != "0"
# Verdicts of those checks are remembered per call signature (csrc/shim/check_cache.h);
# DEEPLINK_CHECK_CACHE=0 turns that off, and every checked call runs its meta check again.
CHECK_CACHE = os.environ.get("DEEPLINK_CHECK_CACHE", "1") != "0"
_in_decomposition = threading.local()
# Ops the router is registered for: the union of ops_to_claim() over the backends activated so far
# (claims are never withdrawn; see claim_ops in csrc/shim/router.cpp).
_claimed: set = set()


def fallback_mode() -> str:
    global _mode
    if _mode is None:
        env = os.environ.get("DEEPLINK_FALLBACK", "warn").lower()
        if env not in FALLBACK_MODES:
            raise ValueError(f"DEEPLINK_FALLBACK={env!r}: expected one of {', '.join(FALLBACK_MODES)}")
        _mode = env
    return _mode


def set_fallback_mode(mode: str) -> None:
    """'warn' (default): run ops the backend lacks on the CPU, warning once per op; 'silent': the
    same without warnings; 'error': raise NotImplementedError instead."""
    global _mode
    if mode not in FALLBACK_MODES:
        raise ValueError(f"fallback mode {mode!r}: expected one of {', '.join(FALLBACK_MODES)}")
    _mode = mode
    from . import _C
    _C._invalidate_routes()


def forced_fallback() -> re.Pattern | None:
    """The regex of ops sent to the CPU fallback whatever the backend has (DEEPLINK_FORCE_FALLBACK,
    or set_force_fallback), or None."""
    global _forced
    if _forced is False:
        env = os.environ.get("DEEPLINK_FORCE_FALLBACK", "")
        try:
            _forced = re.compile(env) if env else None
        except re.error as e:
            raise ValueError(f"DEEPLINK_FORCE_FALLBACK={env!r} is not a regular expression: {e}") from None
    return _forced


def set_force_fallback(regex: str | None) -> None:
    """Run every op whose overload name (`gelu`, `add.Tensor`) matches `regex` (re.search) on the
    CPU fallback, as if the backend lacked it, counted as fallback: to bisect a divergence. None
    ends it."""
    global _forced
    _forced = re.compile(regex) if regex else None
    from . import _C
    _C._invalidate_routes()


def has_cpu_kernel(op_name: str) -> bool:
    return any(has_kernel(op_name, k) for k in ("CPU", "CompositeExplicitAutograd", "CompositeExplicitAutogradNonFunctional"))


def decomposition_for(op_name: str):
    """A decomposition for a functional overload (deeplink's own, deeplink/decompositions/, else
    torch._decomp's), or None. Out= and in-place
    overloads are not decomposed: their reference decompositions re-check devices and re-enter
    their own functional form; the functional form decomposes instead."""
    from torch._decomp import decomposition_table

    from .decompositions import DECOMPOSITIONS
    op = op_overload(op_name)
    if op is None or op._schema.is_mutable:
        return None
    return DECOMPOSITIONS.get(op_name) or decomposition_table.get(op)




def _refusal(kernel: PythonKernel):
    """The predicate `refused(dtype)` of a kernel with a dtype list: a call with a tensor of such a
    dtype is declined. Only compute dtypes are checked unless the kernel lists integer dtypes
    itself: index and RNG state tensors (int64) ride along with float kernels."""
    check_all = any(not d.is_floating_point and not d.is_complex for d in kernel.dtypes)
    allowed = kernel.dtypes

    def refused(d) -> bool:
        return d not in allowed and (check_all or d in COMPUTE)
    return refused


def refused_dtypes(kernel: PythonKernel) -> list:
    """Every torch dtype the kernel's dtype check declines (for routes checked in C++)."""
    if kernel.dtypes is None:
        return []
    refused = _refusal(kernel)
    return [d for d in vars(torch).values() if isinstance(d, torch.dtype) and refused(d)]


def _with_dtype_check(kernel: PythonKernel):
    if kernel.dtypes is None:
        return kernel.fn
    refused = _refusal(kernel)
    fn = kernel.fn

    def call(*args, **kwargs):   # on every call of the kernel: a plain loop, no generator
        for a in (args if not kwargs else (*args, *kwargs.values())):
            if isinstance(a, Tensor):
                if refused(a.dtype):
                    return NotImplemented
            elif isinstance(a, (list, tuple)) and any(isinstance(t, Tensor) and refused(t.dtype) for t in a):
                return NotImplemented
        return fn(*args, **kwargs)
    call.__wrapped__ = fn
    return call


def _guarded_decomposition(op_name: str, decomp):
    # A decomposition may call the op it decomposes (with other arguments); inside itself it must
    # not decompose again.
    def call(*args, **kwargs):
        active = getattr(_in_decomposition, "ops", None)
        if active is None:
            active = _in_decomposition.ops = set()
        if op_name in active:
            return NotImplemented
        active.add(op_name)
        try:
            return decomp(*args, **kwargs)
        finally:
            active.discard(op_name)
    return call


def classify(rec, op_name: str):
    """(kind, payload) for op_name on backend record `rec`, kind in
    passthrough | python | decomposed | fallback | missing."""
    forced = forced_fallback()
    if forced is not None and forced.search(op_name) and has_cpu_kernel(op_name):
        return "fallback", None
    kernels = rec.kernels()
    kernel = kernels.get(op_name) if hasattr(kernels, "get") else None
    if isinstance(kernel, Passthrough):
        if kernel.upcast:
            return "passthrough", (kernel.device, tuple((SCALAR_TYPES.index(a), SCALAR_TYPES.index(b))
                                                        for a, b in kernel.upcast))
        return "passthrough", kernel.device
    if isinstance(kernel, PythonKernel):
        return "python", _with_dtype_check(kernel)
    if rec.backend.decompositions_allowed():
        decomp = decomposition_for(op_name)
        if decomp is not None:
            return "decomposed", _guarded_decomposition(op_name, decomp)
    if has_cpu_kernel(op_name):
        return "fallback", None
    return "missing", "the backend has no kernel, torch._decomp has no decomposition, and ATen has no CPU kernel"


def argument_checks() -> bool:
    return _argument_checks


def set_argument_checks(enabled: bool) -> None:
    """Whether calls to a backend's Python or C kernels (and decompositions) are first checked on
    meta tensors, so that bad arguments raise ATen's error instead of reaching the kernel (on by
    default; DEEPLINK_ARGUMENT_CHECKS=0 turns it off). Memory-overlap checks always run."""
    global _argument_checks
    _argument_checks = bool(enabled)
    from . import _C
    _C._invalidate_routes()


def claim(rec) -> None:
    """Register the router for the ops `rec` claims (before it becomes active)."""
    from . import _C
    names = ops_to_claim(rec)
    _C._claim_ops(names)
    _claimed.update(names)


def resolve(op_name: str):
    """(kind, payload, fallback mode, backend slot, argument checks) for the shim's router. A C
    kernel that the shim can call itself (deeplink.ckernel) gets the kind "ckernel", payload (its
    Python path, the C call's spec)."""
    rec = registry.active()
    if op_name in _claimed and op_name not in _claim_set(rec):
        kind, payload = "composite", None  # claimed for another backend: run as if unclaimed
    else:
        kind, payload = classify(rec, op_name)
    if kind == "python":
        kernel = rec.kernels().get(op_name)
        native_spec = getattr(kernel.fn, "native_spec", None)
        spec = native_spec(refused_dtypes(kernel)) if native_spec is not None else None
        if spec is not None:
            kind, payload = "ckernel", (payload, spec)
    mode = fallback_mode()
    forced = forced_fallback()
    if kind == "fallback" and mode == "error" and forced is not None and forced.search(op_name):
        mode = "warn"  # asked for by name: DEEPLINK_FALLBACK=error is about fallbacks nobody asked for
    return kind, payload, mode, rec.slot, _argument_checks


def _claim_set(rec) -> frozenset:
    if getattr(rec, "_claim_set", None) is None:
        rec._claim_set = frozenset(ops_to_claim(rec))
    return rec._claim_set


def route_of(op_name: str, backend: str | None = None) -> str:
    """'native' | 'decomposed' | 'fallback' | 'missing' for op_name on a backend (default: active)."""
    rec = registry.get(backend) if backend else registry.active()
    if not rec.available:
        return "missing"
    if op_name in _SHIM_KERNELS or _is_composite(op_name):
        return "native"
    kind, _ = classify(rec, op_name)
    return {"passthrough": "native", "python": "native"}.get(kind, kind)


def widened_dtypes(op_name: str, backend: str | None = None) -> dict:
    """{dtype the backend's ATen kernel lacks: dtype it computes in} for op_name (empty when none):
    calls in those dtypes run natively, widened and cast back (Passthrough.upcast)."""
    rec = registry.get(backend) if backend else registry.active()
    if not rec.available:
        return {}
    kernels = rec.kernels()
    kernel = kernels.get(op_name) if hasattr(kernels, "get") else None
    return dict(kernel.upcast) if isinstance(kernel, Passthrough) else {}


# Kernels the shim registers for every backend (csrc/shim/native_kernels.cpp).
_SHIM_KERNELS = frozenset({"empty.memory_format", "empty_strided", "as_strided", "view", "_reshape_alias", "resize_",
                           "set_.source_Storage_storage_offset", "set_.source_Storage", "set_.source_Tensor", "set_",
                           "_copy_from", "_copy_from_and_resize", "_local_scalar_dense"})


def _is_composite(op_name: str) -> bool:
    # Ops with only composite kernels never reach a backend: on deeplink, as on CUDA, they run as
    # compositions of other ops. An op with a CPU kernel counts as a kernel op (its composite is
    # the structured functional -> out= default). CUDA kernels are not consulted, so the answer is
    # the same on a CPU-only and a CUDA build of torch (on a CUDA build `_foreach_*` have CUDA
    # kernels and would otherwise show as CPU fallbacks of the cpu backend in `deeplink info`).
    if has_kernel(op_name, "CPU"):
        return False
    return any(has_kernel(op_name, k) for k in ("CompositeImplicitAutograd", "CompositeExplicitAutograd",
                                                "CompositeExplicitAutogradNonFunctional"))


def ops_to_claim(rec) -> list[str]:
    """Ops of the backend's kernel table that a composite kernel would otherwise intercept before
    the router (structured functional/in-place forms like add.Tensor, which default to add.out).
    CompositeImplicitAutograd ops are never claimed: they must decompose above autograd."""
    if getattr(rec, "_claims", None) is None:
        has = has_kernel
        claims = []
        for name in rec.kernels():
            if name in _SHIM_KERNELS:
                continue
            if not exists(name):
                continue
            if has(name, "CompositeImplicitAutograd"):
                continue
            if has(name, "CompositeExplicitAutograd") or has(name, "CompositeExplicitAutogradNonFunctional"):
                claims.append(name)
        if rec.backend.aten_device is None and rec.backend.decompositions_allowed():
            # Structured functional ops the backend lacks would default to their .out form (no
            # decomposition for out=); claim those with a decomposition so it gets a chance.
            from torch._decomp import decomposition_table
            kernels = rec.kernels()
            for op in decomposition_table:
                if op.namespace != "aten" or not hasattr(op, "_schema"):  # higher-order ops have no schema
                    continue
                name = from_op(op)
                if (name not in kernels and not op._schema.is_mutable
                        and has(name, "CompositeExplicitAutogradNonFunctional")
                        and not has(name, "CompositeImplicitAutograd")):
                    claims.append(name)
        # ATen's hooks for unknown devices have a composite kernel that only raises; claimed, they
        # reach the router, which falls back for them through the generic op (router.cpp).
        claims += [name for name in DEVICE_HOOKS if name not in claims]
        rec._claims = claims
    return rec._claims


#: ATen's entry points for devices it does not know, whose default kernel raises NotImplementedError.
DEVICE_HOOKS = ("convolution_overrideable", "convolution_backward_overrideable")


_EFFICIENT = ("_scaled_dot_product_efficient_attention", "_scaled_dot_product_efficient_attention_backward")
_OVERRIDEABLE = ("_scaled_dot_product_fused_attention_overrideable",
                 "_scaled_dot_product_fused_attention_overrideable_backward")


def sdp_choice(rec) -> tuple[int, int]:
    """Fused attention for scaled_dot_product_attention on this backend (sdp::SDPBackend values):
    (choice, choice for a learnable mask). The choice: -1 asks, per call, the backend's
    `_fused_sdp_choice` kernel (Passthrough backends: their ATen device's; others may implement it
    to pick per shape, dropout and head layout); without one, the PrivateUse1 "overrideable" kernel
    when the backend implements it with its backward, else the memory-efficient one likewise, else
    math (0). A mask that requires grad needs a kernel whose backward returns its gradient: the
    overrideable or memory-efficient kernel when the backend has them, else math."""
    kernels = rec.kernels()
    has = lambda names: all(k in kernels for k in names)  # noqa: E731
    learnable = 4 if has(_OVERRIDEABLE) else 2 if has(_EFFICIENT) else 0
    if rec.backend.aten_device is not None or "_fused_sdp_choice" in kernels:
        return -1, learnable
    if has(_OVERRIDEABLE):
        return 4, learnable
    if has(_EFFICIENT):
        return 2, learnable
    return 0, learnable
