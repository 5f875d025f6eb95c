"""The PrivateUse1 fused-attention hook (`_scaled_dot_product_fused_attention_overrideable` and its
backward) on ATen's fused CPU kernel (`_scaled_dot_product_flash_attention_for_cpu`), and the
backend's `_fused_sdp_choice`, which sends scaled_dot_product_attention there wherever ATen's CPU
choice would take that kernel.

ATen's CPU flash kernel returns no gradient for the attention mask; a mask that requires grad never
reaches it (the shim's choice for a learnable mask is the memory-efficient kernel, whose backward
returns the bias gradient, ops/attention.py). The backward here still computes that gradient from
the probabilities when asked, so a direct call with grad_input_mask[3] gets a correct one.
"""
from __future__ import annotations

import torch

import deeplink
from deeplink.dtypes import FLOATS
from deeplink.kernel_table import KernelTable

from .attention import _scores

SDP_MATH, SDP_FLASH, SDP_OVERRIDEABLE = 0, 1, 4


def fused_sdp_choice(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, *, scale=None,
                     enable_gqa=False):
    if dropout_p:  # the CPU kernel would draw from the CPU generator, not deeplink's
        return SDP_MATH
    views = [deeplink.aten_view(t) for t in (query, key, value)]
    mask = deeplink.aten_view(attn_mask) if attn_mask is not None else None
    choice = torch.ops.aten._fused_sdp_choice(*views, mask, dropout_p, is_causal, scale=scale, enable_gqa=enable_gqa)
    return SDP_OVERRIDEABLE if choice == SDP_FLASH else choice


def _repeat_kv(query, t):
    """Grouped key/value heads repeated to the query's head count (the CPU kernel wants equal heads)."""
    groups = query.size(1) // t.size(1)
    return t if groups == 1 else t.repeat_interleave(groups, dim=1)


def _bias(attn_bias):
    return attn_bias if attn_bias is not None and attn_bias.numel() else None


def overrideable(query, key, value, attn_bias=None, dropout_p=0.0, is_causal=False, return_debug_mask=False, *,
                 scale=None):
    if dropout_p:
        raise NotImplementedError("deeplink cpu backend: fused attention with dropout (use dropout_p=0, or let "
                                  "scaled_dot_product_attention pick the math path)")
    out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
        query, _repeat_kv(query, key), _repeat_kv(query, value), 0.0, is_causal, attn_mask=_bias(attn_bias),
        scale=scale)
    dev = query.device
    empty = torch.empty(0, dtype=torch.int32, device=dev)
    zero = torch.zeros((), dtype=torch.long, device=dev)
    return (out, lse, empty, empty, query.size(2), key.size(2), zero, zero.clone(),
            torch.empty(0, dtype=query.dtype, device=dev))


def overrideable_backward(grad_out, query, key, value, attn_bias, grad_input_mask, out, logsumexp, cum_seq_q,
                          cum_seq_k, max_q, max_k, dropout_p, is_causal, philox_seed, philox_offset, *, scale=None):
    bias = _bias(attn_bias)
    k, v = _repeat_kv(query, key), _repeat_kv(query, value)
    dq, dk, dv = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward(
        grad_out, query, k, v, out, logsumexp, 0.0, is_causal, attn_mask=bias, scale=scale)
    if k is not key:  # sum the repeated heads' gradients back onto the grouped heads
        dk = dk.unflatten(1, (key.size(1), -1)).sum(2)
        dv = dv.unflatten(1, (value.size(1), -1)).sum(2)
    dbias = None
    if bias is not None and grad_input_mask[3]:
        s, _ = _scores(query, k, bias, is_causal, scale)
        p = torch.exp(s - logsumexp.float().unsqueeze(-1))
        dp = torch.matmul(grad_out.float(), v.float().transpose(-2, -1))
        delta = (grad_out.float() * out.float()).sum(-1, keepdim=True)
        dbias = (p * (dp - delta)).sum_to_size(bias.shape).to(bias.dtype)
    return dq, dk, dv, dbias


FUSED_ATTENTION_KERNELS = KernelTable("cpu")
FUSED_ATTENTION_KERNELS.add("_fused_sdp_choice", fused_sdp_choice, None, "ATen CPU choice, flash -> overrideable")
FUSED_ATTENTION_KERNELS.add("_scaled_dot_product_fused_attention_overrideable", overrideable, FLOATS,
                            "ATen CPU flash attention")
FUSED_ATTENTION_KERNELS.add("_scaled_dot_product_fused_attention_overrideable_backward", overrideable_backward,
                            FLOATS, "ATen CPU flash attention backward")
