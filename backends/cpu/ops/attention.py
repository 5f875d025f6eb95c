"""The CUDA-only fused attention kernels of the LLM tier, for the CPU reference backend.

A model traced on CUDA calls `_scaled_dot_product_efficient_attention` / `_cudnn_attention` and
their backward; ATen has no CPU kernel for them. These kernels compute the same outputs (and the
same output layouts and log-sum-exp shapes as the CUDA kernels) from plain tensor math, which runs
on the device through the backend's own kernels. Accumulation is float32 for reduced precision
inputs, as on CUDA. Dropout inside the fused kernel is not supported (it needs CUDA's Philox
stream to be reproducible): such calls raise.
"""
from __future__ import annotations

import math

import torch

from deeplink.dtypes import FLOATS
from deeplink.kernel_table import KernelTable


def _scores(q, k, bias, is_causal, scale):
    scale = scale if scale is not None else 1.0 / math.sqrt(q.size(-1))
    s = torch.matmul(q.float(), k.float().transpose(-2, -1)) * scale
    if bias is not None:
        s = s + bias.float()
    if is_causal:
        lq, lk = s.size(-2), s.size(-1)
        keep = torch.ones(lq, lk, dtype=torch.bool, device=s.device).tril()
        s = s.masked_fill(~keep, float("-inf"))
    return s, scale


def _no_dropout(op, dropout_p):
    if dropout_p:
        raise NotImplementedError(f"deeplink cpu backend: aten::{op} with dropout_p={dropout_p} is not supported "
                                  "(fused-attention dropout follows CUDA's Philox stream); use dropout_p=0")


def _forward(q, k, v, bias, dropout_p, is_causal, scale, op):
    _no_dropout(op, dropout_p)
    s, _ = _scores(q, k, bias, is_causal, scale)
    lse = torch.logsumexp(s, dim=-1)  # [B, H, Lq]
    p = torch.exp(s - lse.unsqueeze(-1))
    out = torch.matmul(p, v.float()).to(q.dtype)
    return out, lse


def _backward(grad_out, q, k, v, bias, out, lse, is_causal, scale):
    s, scale = _scores(q, k, bias, is_causal, scale)
    p = torch.exp(s - lse.unsqueeze(-1))
    go = grad_out.float()
    dv = torch.matmul(p.transpose(-2, -1), go)
    dp = torch.matmul(go, v.float().transpose(-2, -1))
    delta = (go * out.float()).sum(-1, keepdim=True)
    ds = p * (dp - delta)
    dq = torch.matmul(ds, k.float()) * scale
    dk = torch.matmul(ds.transpose(-2, -1), q.float()) * scale
    return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), ds


def _philox(device):
    # CUDA returns the RNG seed/offset it used for dropout; with dropout off they carry no meaning.
    return torch.zeros((), dtype=torch.long, device=device), torch.zeros((), dtype=torch.long, device=device)


def efficient_attention(query, key, value, attn_bias, compute_log_sumexp, dropout_p=0.0, is_causal=False, *,
                        scale=None):
    out, lse = _forward(query, key, value, attn_bias, dropout_p, is_causal, scale,
                        "_scaled_dot_product_efficient_attention")
    b, h, lq = lse.shape
    if compute_log_sumexp:
        padded = math.ceil(lq / 32) * 32  # CUDA's kernel pads the LSE rows to a multiple of 32
        lse_out = torch.full((b, h, padded), float("inf"), dtype=torch.float32, device=query.device)
        lse_out[:, :, :lq] = lse
    else:
        lse_out = torch.empty((b, h, 0), dtype=torch.float32, device=query.device)
    seed, offset = _philox(query.device)
    return out, lse_out, seed, offset


def efficient_attention_backward(grad_out_, query, key, value, attn_bias, out, logsumexp, philox_seed,
                                 philox_offset, dropout_p, grad_input_mask, is_causal=False, *, scale=None):
    _no_dropout("_scaled_dot_product_efficient_attention_backward", dropout_p)
    lq = query.size(2)
    bias = attn_bias if attn_bias is not None and attn_bias.numel() else None
    dq, dk, dv, ds = _backward(grad_out_, query, key, value, bias, out, logsumexp[:, :, :lq], is_causal, scale)
    dbias = None
    if bias is not None and grad_input_mask[3]:
        dbias = ds.sum_to_size(bias.shape).to(bias.dtype)
    return dq, dk, dv, dbias


def cudnn_attention(query, key, value, attn_bias, compute_log_sumexp, dropout_p=0.0, is_causal=False,
                    return_debug_mask=False, *, scale=None):
    out, lse = _forward(query, key, value, attn_bias, dropout_p, is_causal, scale,
                        "_scaled_dot_product_cudnn_attention")
    seed, offset = _philox(query.device)
    empty = torch.empty(0, dtype=torch.int32, device=query.device)
    return (out, lse.unsqueeze(-1), empty, empty, query.size(2), key.size(2), seed, offset,
            torch.empty(0, dtype=query.dtype, device=query.device))


def cudnn_attention_backward(grad_out, query, key, value, out, logsumexp, philox_seed, philox_offset, attn_bias,
                             cum_seq_q, cum_seq_k, max_q, max_k, dropout_p, is_causal, *, scale=None):
    _no_dropout("_scaled_dot_product_cudnn_attention_backward", dropout_p)
    bias = attn_bias if attn_bias is not None and attn_bias.numel() else None
    dq, dk, dv, _ = _backward(grad_out, query, key, value, bias, out, logsumexp.squeeze(-1), is_causal, scale)
    return dq, dk, dv


ATTENTION_KERNELS = KernelTable("cpu")
for _name, _fn in (("_scaled_dot_product_efficient_attention", efficient_attention),
                   ("_scaled_dot_product_efficient_attention_backward", efficient_attention_backward),
                   ("_scaled_dot_product_cudnn_attention", cudnn_attention),
                   ("_scaled_dot_product_cudnn_attention_backward", cudnn_attention_backward)):
    ATTENTION_KERNELS.add(_name, _fn, FLOATS, "math (float32 accum)")
