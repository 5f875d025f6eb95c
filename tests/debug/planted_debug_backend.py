"""Backends with one deliberately wrong kernel each, for the debugging kit's tests (the CPU reference
backend otherwise). Importing this file registers them:

    planted-gelu      gelu ignores `approximate` (always the exact erf form)
    planted-softmax   _softmax normalises over the wrong dimension when dim is the last one
    planted-gelu-backward   gelu_backward ignores `approximate` (the forward is right)
    planted-attention   has memory-efficient fused attention (so SDPA runs through it); its
                      forward is right, its backward ignores `is_causal`
"""
from __future__ import annotations

from collections import ChainMap

import torch

import deeplink
from deeplink.backends.cpu import CpuBackend
from deeplink.conformance.llm_cases import attention_reference, attention_reference_grads
from deeplink.kernels import PythonKernel


# The kernels compute with ATen CPU on zero-copy views of the deeplink tensors (deeplink.aten_view)
# and adopt the result (deeplink.from_aten), as kernels of ATen-device backends may.
def gelu_ignoring_approximate(x, approximate="none"):
    return deeplink.from_aten(torch.ops.aten.gelu.default(deeplink.aten_view(x)))


def gelu_backward_ignoring_approximate(grad, x, approximate="none"):
    return deeplink.from_aten(torch.ops.aten.gelu_backward.default(deeplink.aten_view(grad), deeplink.aten_view(x)))


def choose_efficient_attention(*args, **kwargs):
    return 2   # sdp::SDPBackend::efficient_attention


def efficient_attention(q, k, v, bias, compute_log_sumexp, dropout_p=0.0, is_causal=False, *, scale=None):
    out, lse = attention_reference(q.cpu(), k.cpu(), v.cpu(), None if bias is None else bias.cpu(), is_causal, scale)
    seed = torch.zeros((), dtype=torch.int64, device="deeplink")
    return out.to(q.dtype).to("deeplink"), lse.float().to("deeplink"), seed, seed.clone()


def efficient_attention_backward_ignoring_causal(grad_out, q, k, v, bias, out, lse, seed, offset, dropout_p,
                                                 grad_input_mask, is_causal=False, *, scale=None):
    grads = attention_reference_grads(q.cpu(), k.cpu(), v.cpu(), None if bias is None else bias.cpu(),
                                      grad_out.cpu(), False, scale)
    grads = [g.to(q.dtype).to("deeplink") for g in grads]
    return (*grads[:3], grads[3] if len(grads) > 3 else None)


def softmax_wrong_axis(x, dim, half_to_float):
    dim = dim % x.dim()
    if x.dim() >= 2 and dim == x.dim() - 1:
        dim = dim - 1
    return deeplink.from_aten(torch.ops.aten._softmax.default(deeplink.aten_view(x), dim, half_to_float))


class _Planted(CpuBackend):
    priority = -100
    verified_on = "test fixture"
    planted: dict = {}

    def kernels(self):
        return ChainMap({op: PythonKernel(fn, impl="planted") for op, fn in self.planted.items()},
                        super().kernels())


class PlantedGelu(_Planted):
    name = "planted-gelu"
    description = "CPU backend whose gelu ignores approximate (debugging-kit tests only)"
    planted = {"gelu": gelu_ignoring_approximate}


class PlantedSoftmax(_Planted):
    name = "planted-softmax"
    description = "CPU backend whose softmax normalises over the wrong axis (debugging-kit tests only)"
    planted = {"_softmax": softmax_wrong_axis}


class PlantedGeluBackward(_Planted):
    name = "planted-gelu-backward"
    description = "CPU backend whose gelu_backward ignores approximate (debugging-kit tests only)"
    planted = {"gelu_backward": gelu_backward_ignoring_approximate}


class PlantedAttention(_Planted):
    name = "planted-attention"
    description = "CPU backend whose fused attention backward ignores is_causal (debugging-kit tests only)"
    planted = {"_fused_sdp_choice": choose_efficient_attention,
               "_scaled_dot_product_efficient_attention": efficient_attention,
               "_scaled_dot_product_efficient_attention_backward": efficient_attention_backward_ignoring_causal}


def register() -> None:
    known = {b["name"] for b in deeplink.list_backends()}
    for cls in (PlantedGelu, PlantedSoftmax, PlantedGeluBackward, PlantedAttention):
        if cls.name not in known:
            deeplink.register_backend(cls())


register()
