"""Convolution on the CPU reference backend.

ATen sends convolutions on devices it does not know (PrivateUse1) to `convolution_overrideable`
and its backward, which have no CPU kernel. These kernels run ATen's CPU convolution on zero-copy
host views of the deeplink memory and write the results into deeplink tensors (one copy out)."""
from __future__ import annotations

import torch

import deeplink
from deeplink.kernels import PythonKernel


def _host(t):
    return deeplink.host_view(t) if isinstance(t, torch.Tensor) and t.device.type == "deeplink" else t


def _to_device(res, like):
    if res is None:
        return None
    out = torch.empty_strided(res.shape, res.stride(), dtype=res.dtype, device=like.device)
    deeplink.host_view(out).copy_(res)
    return out


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    res = torch.ops.aten.convolution.default(_host(input), _host(weight), _host(bias), stride, padding, dilation,
                                              transposed, output_padding, groups)
    return _to_device(res, input)


def convolution_backward(grad_output, input, weight, stride, padding, dilation, transposed, output_padding, groups,
                         output_mask):
    bias_sizes = [weight.size(1) * groups if transposed else weight.size(0)]
    grads = torch.ops.aten.convolution_backward.default(_host(grad_output), _host(input), _host(weight), bias_sizes,
                                                        stride, padding, dilation, transposed, output_padding, groups,
                                                        output_mask)
    return tuple(_to_device(g, input) if m else None for g, m in zip(grads, output_mask))


CONVOLUTION_KERNELS = {
    "convolution_overrideable": PythonKernel(convolution, impl="ATen CPU on host views"),
    "convolution_backward_overrideable": PythonKernel(convolution_backward, impl="ATen CPU on host views"),
}
