"""Convolution for backends built on an ATen device (the CPU reference, cuda).

ATen sends a convolution on a device it does not know (PrivateUse1) to `convolution_overrideable`
and its backward, which no ATen device implements, so Passthrough alone cannot run conv1d/2d/3d.
These kernels call the ATen device's own convolution (oneDNN or the reference loops on the CPU,
cuDNN on CUDA) on zero-copy views of the deeplink memory and adopt its outputs without a copy."""
from __future__ import annotations

import torch

import deeplink
from deeplink.kernel_table import KernelTable


def _view(t):
    return deeplink.aten_view(t) if isinstance(t, torch.Tensor) and t.device.type == "deeplink" else t


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    res = torch.ops.aten.convolution.default(_view(input), _view(weight), _view(bias), stride, padding, dilation,
                                              transposed, output_padding, groups)
    return deeplink.from_aten(res)


def convolution_backward(grad_output, input, weight, stride, padding, dilation, transposed, output_padding, groups,
                         output_mask):
    bias_sizes = [weight.size(1) * groups if transposed else weight.size(0)]
    grads = torch.ops.aten.convolution_backward.default(_view(grad_output), _view(input), _view(weight), bias_sizes,
                                                        stride, padding, dilation, transposed, output_padding, groups,
                                                        output_mask)
    return tuple(deeplink.from_aten(g) if m and g is not None else None for g, m in zip(grads, output_mask))


def convolution_kernels(device: str) -> KernelTable:
    table = KernelTable(device)
    impl = f"ATen {device} convolution on zero-copy views"
    table.add("convolution_overrideable", convolution, impl=impl)
    table.add("convolution_backward_overrideable", convolution_backward, impl=impl)
    return table
