"""Copies and dtype conversions: copy_, clone, _to_copy. (`_copy_from` and `_local_scalar_dense`
belong to deeplink's shim: it moves bytes with the runtime's memcpy for every backend.)

Our memory is host memory, so a CPU tensor and a deeplink tensor can both be bound by pointer:
these kernels serve host<->device copies as well as device<->device ones. Layout cases:
  * same strides, dense (clone/_to_copy of any dense view): one flat Cast over the storage span;
  * contiguous destination: Cast (+Expand for broadcasting) of the source as `execute` binds it;
  * strided destination: convert into a contiguous temporary, then scatter it into the view.
Cast follows ATen: float -> uint8 goes through int64 (ATen's static_cast_with_inter_type), so
negative values wrap instead of hitting the undefined direct conversion.
"""
from __future__ import annotations

import numpy as np
import torch

from .._vendor.execute import LAYOUT_STATS, _dense_order, run
from .._vendor.graph import ONNX_TYPE
from .._vendor.layout import flat, gather_complex, gather_into, is_dense, scatter_from, span
from .common import empty
from .registry import ALL, kernel

COMPLEX = frozenset({torch.complex64, torch.complex128})


EXPAND_SAFE = {torch.bfloat16: torch.float32, torch.int16: torch.int32}


def cast(g, x, dtype):
    src = g.dtype(x)
    if dtype == torch.uint8 and src.is_floating_point:
        x = g.cast(x, torch.int64)
    return g.cast(x, dtype)


def _bindable(t: torch.Tensor) -> bool:
    """Can `execute` bind this view without a copy (contiguous, permuted, broadcast)?"""
    if t.is_contiguous() or t.numel() == 0:
        return True
    dense = _dense_order(t)
    return dense is not None and not (dense[1] and t.dtype in EXPAND_SAFE)


def _overlaps(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.numel() == 0 or b.numel() == 0:
        return False
    a0, b0 = a.data_ptr(), b.data_ptr()
    a1 = a0 + span(a) * a.element_size()
    b1 = b0 + span(b) * b.element_size()
    return a0 < b1 and b0 < a1


def contiguous_copy(src: torch.Tensor, dtype: torch.dtype | None = None,
                    device=None) -> torch.Tensor:
    """A new contiguous tensor with src's values (any layout), optionally cast."""
    out = empty(src.shape, dtype or src.dtype, device or src.device)
    if _bindable(src):
        _convert_contiguous(out, src)
    else:
        gather_into(out, src)
    return out


def _convert_contiguous(dst: torch.Tensor, src: torch.Tensor) -> None:
    """dst contiguous; src bindable, broadcastable to dst."""
    expand = tuple(src.shape) != tuple(dst.shape)
    inputs = [src] + ([np.asarray(dst.shape, dtype=np.int64)] if expand else [])
    to = dst.dtype

    def build(g, x, shape=None):
        if shape is not None:
            # Expand has no bf16/int16 CPU kernel: widen exactly first
            x = g.cast(x, EXPAND_SAFE.get(g.dtype(x), g.dtype(x)))
            x = g.op("Expand", x, shape)
        return cast(g, x, to)
    run("copy", (expand,), inputs, [dst], build)


def convert(dst: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """dst[...] = src, with broadcasting and dtype conversion, any layouts on either side."""
    if torch.broadcast_shapes(dst.shape, src.shape) != dst.shape:
        raise RuntimeError(f"The size of tensor a ({list(dst.shape)}) must match the size of "
                           f"tensor b ({list(src.shape)}) for copy_ (destination cannot broadcast)")
    if dst.numel() == 0:
        return dst
    if _overlaps(dst, src) and not (dst.data_ptr() == src.data_ptr() and
                                    dst.stride() == src.stride() and dst.dtype == src.dtype):
        src = contiguous_copy(src, device=dst.device)
    if tuple(dst.shape) == tuple(src.shape) and dst.stride() == src.stride() and is_dense(dst):
        if dst.data_ptr() == src.data_ptr() and dst.dtype == src.dtype:
            return dst
        to = dst.dtype
        run("copy.flat", (), [flat(src)], [flat(dst)], lambda g, x: cast(g, x, to))
        return dst
    if not _bindable(src):
        LAYOUT_STATS.contiguous_copies += 1
        src = contiguous_copy(src)
    if dst.is_contiguous():
        _convert_contiguous(dst, src)
        return dst
    tmp = empty(dst.shape, dst.dtype, dst.device)
    _convert_contiguous(tmp, src)
    scatter_from(dst, tmp)
    return dst


def _preserving_empty(self: torch.Tensor, dtype, device, memory_format):
    """ATen's memory_format=preserve: dense inputs keep their strides, others get the dense strides
    ATen infers from theirs (asked of ATen itself, on the meta device)."""
    if memory_format in (None, torch.preserve_format):
        if self.is_contiguous():
            return torch.empty(self.shape, dtype=dtype, device=device)
        like = torch.empty_like(torch.empty_strided(self.shape, self.stride(), device="meta"))
        return torch.empty_strided(self.shape, like.stride(), dtype=dtype, device=device)
    return torch.empty(self.shape, dtype=dtype, device=device, memory_format=memory_format)


@kernel("clone.default", dtypes=ALL | COMPLEX, impl="onnx:Identity/Gather")
def clone(self, *, memory_format=None):
    if self.dtype.is_complex:
        # complex views (e.g. FFT's conjugate inputs) are copied as float pairs; the op must not
        # decline, as the dispatcher's CPU fallback itself clones
        return gather_complex(torch.empty(self.shape, dtype=self.dtype, device=self.device), self)
    out = _preserving_empty(self, self.dtype, self.device, memory_format)
    if out.is_contiguous() and not _bindable(self):
        return gather_into(out, self)
    return convert(out, self)


@kernel("_to_copy.default", dtypes=ALL, impl="onnx:Cast")
def to_copy(self, *, dtype=None, layout=None, device=None, pin_memory=None, non_blocking=False,
            memory_format=None):
    if layout not in (None, torch.strided):
        raise NotImplementedError(f"onnxruntime backend: _to_copy to layout {layout} "
                                  f"(only strided tensors are supported)")
    if dtype is not None and dtype not in ONNX_TYPE:
        return NotImplemented     # complex etc.: ONNX Runtime has no such tensor type; decline
    device = torch.device(device) if device is not None else self.device
    out = _preserving_empty(self, dtype or self.dtype, device, memory_format)
    if out.is_contiguous() and not _bindable(self):
        return gather_into(out, self)
    return convert(out, self)


@kernel("copy_.default", dtypes=ALL, impl="onnx:Cast/ScatterElements")
def copy_(self, src, non_blocking=False):
    return convert(self, src)
