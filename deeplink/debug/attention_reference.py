"""The CPU reference of the fused attention ops (flash, efficient, cuDNN, privateuse1's
"overrideable"), which ATen's CPU has no kernel for, so autocompare can judge them: the attention
a backend fuses is where a new chip's bugs are likely, and an LLM step on a backend with fused
attention runs its whole attention through these ops.

The reference is attention's definition in float64 (conformance/llm_cases.py, shared with the
conformance suite's cases of these ops), rounded to the call's dtype. What is compared: the
output and, where the kernel returned one in a layout we know, the logsumexp (forward); the
gradients the kernel returned (backward; the backward is judged against the exact gradients of
q, k, v and the bias, not against the forward's saved output). Calls with dropout are random and
not compared.
"""
from __future__ import annotations

import torch

from deeplink.conformance.compare import Comparison, compare_leaf
from deeplink.conformance.llm_cases import _lse_rows, attention_reference, attention_reference_grads
from deeplink.conformance.tolerance import Tolerance, for_case

FORWARD = frozenset({"_scaled_dot_product_efficient_attention", "_scaled_dot_product_flash_attention",
                     "_scaled_dot_product_cudnn_attention", "_scaled_dot_product_fused_attention_overrideable"})
BACKWARD = frozenset(f"{name}_backward" for name in FORWARD)
REFERENCE = "float64 attention by definition (conformance/llm_cases.py)"
_GRAD_NAMES = ("grad_query", "grad_key", "grad_value", "grad_attn_bias")


def is_fused_attention(name: str) -> bool:
    return name.split(".", 1)[0] in FORWARD | BACKWARD


def bind(func, args, kwargs) -> dict:
    """{schema argument name: value} of a call, defaults filled in."""
    bound = {}
    for i, a in enumerate(func._schema.arguments):
        if a.name in kwargs:
            bound[a.name] = kwargs[a.name]
        elif i < len(args) and not a.kwarg_only:
            bound[a.name] = args[i]
        else:
            bound[a.name] = a.default_value if a.has_default_value() else None
    return bound


def has_dropout_argument(func) -> bool:
    return any(a.name == "dropout_p" for a in func._schema.arguments)


def has_dropout(func, args, kwargs) -> bool:
    return bool(bind(func, args, kwargs).get("dropout_p") or 0.0)


def _defined(t) -> bool:
    return isinstance(t, torch.Tensor) and t.numel() > 0


def compare(func, name: str, cpu_inputs, actual_outputs, tol: Tolerance) -> Comparison:
    """The device's outputs of a fused attention call (copied to the CPU) against the reference
    computed from `cpu_inputs` (a CPU copy of (args, kwargs))."""
    b = bind(func, *cpu_inputs)
    q, k, v = b["query"], b["key"], b["value"]
    bias = b.get("attn_bias") if _defined(b.get("attn_bias")) else None
    causal, scale = bool(b.get("is_causal")), b.get("scale")
    outs = list(actual_outputs) if isinstance(actual_outputs, (tuple, list)) else [actual_outputs]
    c = Comparison()
    if name.split(".", 1)[0] in FORWARD:
        out64, lse64 = attention_reference(q, k, v, bias, causal, scale)
        c.merge(compare_leaf(outs[0], out64.to(outs[0].dtype), tol, "output"))
        if len(outs) > 1 and _defined(outs[1]):
            try:
                lse = _lse_rows(outs[1], q.shape[0], q.shape[1], q.shape[2])
            except ValueError:
                return c   # a logsumexp layout of this backend's own: the backward judges its effect
            c.merge(compare_leaf(lse.float(), lse64.float(), for_case(torch.float32, [name], kind="forward"),
                                 "logsumexp"))
        return c
    grad_out = b["grad_out"] if "grad_out" in b else b["grad_out_"]
    expected = attention_reference_grads(q, k, v, bias, grad_out, causal, scale)
    for label, got, want in zip(_GRAD_NAMES, outs, expected):
        if _defined(got):
            c.merge(compare_leaf(got, want.to(got.dtype), tol, label))
    return c
