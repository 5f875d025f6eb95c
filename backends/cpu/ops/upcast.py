"""Dtypes CUDA supports that ATen's CPU kernels lack, for the ops of the CUDA tier: the cpu backend
computes them in a wider dtype and casts the results back (csrc/shim/upcast.cpp), so a model that
runs on CUDA runs here natively (mixture-of-experts routing calls `torch.histc` on integer expert
indices, for one). `deeplink ops` lists these ops with the dtypes they widen.

Measured by scripts/cpu_dtype_coverage.py (docs/backends/cpu.md has the figures).
"""
from __future__ import annotations

import torch

from deeplink.kernels import Passthrough
from deeplink.opset.names import exists, from_op, has_kernel

C32, C64 = torch.complex32, torch.complex64
F16, BF16, F32, F64 = torch.float16, torch.bfloat16, torch.float32, torch.float64

# (aten op packets, or overload names where only some overloads lack the dtype; (lacking dtype,
# computed in) pairs)
WIDENED = [
    (("histc",), tuple((d, F64) for d in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64))),
    (("abs", "trace"), ((torch.bool, torch.uint8),)),
    (("acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "sin", "sinh", "tan", "tanh", "exp", "log",
      "sqrt", "rsqrt", "sigmoid", "pow", "div", "true_divide", "lerp", "logaddexp", "angle", "diag", "sum", "prod",
      "trace"),
     ((C32, C64),)),
    (("_fft_r2c", "_fft_c2r", "_fft_c2c"), ((F16, F32), (C32, C64))),
    (("polygamma", "rrelu_with_noise", "round.decimals", "round.decimals_out", "round_.decimals"), ((F16, F32),)),
    (("_upsample_bilinear2d_aa", "_upsample_bilinear2d_aa_backward", "avg_pool3d", "avg_pool3d_backward",
      "multi_margin_loss", "multi_margin_loss_backward", "multilabel_margin_loss_forward",
      "multilabel_margin_loss_backward"), ((F16, F32), (BF16, F32))),
]


def _overloads(entries):
    for entry in entries:
        if "." in entry:
            yield entry
            continue
        for packet in (entry, entry + "_"):
            ops = getattr(torch.ops.aten, packet, None)
            for overload in ops.overloads() if ops is not None else ():
                yield from_op(getattr(ops, overload))


def widened_kernels() -> dict:
    """{overload name: Passthrough("cpu", upcast=pairs)} for every CPU overload of those packets and
    of their in-place twins (exp_ of exp), and for the overloads named."""
    table = {}
    for entries, pairs in WIDENED:
        for name in _overloads(entries):
            if exists(name) and has_kernel(name, "CPU"):
                earlier = table[name].upcast if name in table else ()
                table[name] = Passthrough("cpu", upcast=earlier + pairs)
    return table
