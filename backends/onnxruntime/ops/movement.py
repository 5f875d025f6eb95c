"""Ops that move or place data without arithmetic: cat, constant_pad_nd, flip, roll, repeat,
tril/triu, slice/select backward and scatter, sort/topk, nonzero.

Where ORT's CPU EP lacks a kernel for a dtype (Pad, Tile, Trilu, TopK have no bf16; some have no
int16/bool), values travel through a wider type that holds them exactly (float32, int64) and are
cast back: bit-identical results, one extra pass.
"""
from __future__ import annotations

import numpy as np
import torch

from .._vendor.execute import Scalar, run
from .common import empty, run_into, wrap_dim
from .pointwise import result_type
from .registry import ALL, FLOATS, INTS, kernel

# wider carrier dtypes for kernels that lack a dtype on ORT's CPU EP
_EXACT_WIDE = {torch.bfloat16: torch.float32, torch.int16: torch.int32, torch.int8: torch.int32,
               torch.uint8: torch.int32, torch.bool: torch.int32}


def _carrier(dtype, supported=(torch.float32, torch.float64, torch.float16, torch.int64,
                               torch.int32)):
    return dtype if dtype in supported else _EXACT_WIDE.get(dtype, dtype)


def _shape_arr(shape):
    return np.asarray(list(shape), dtype=np.int64)


# -- cat --------------------------------------------------------------------------------------
@kernel("cat.default", dtypes=ALL, impl="onnx:Concat")
def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    # ATen skips legacy empty 1-D tensors (shape [0]) when other inputs have more dims
    kept = [t for t in tensors if not (t.dim() == 1 and t.shape[0] == 0)] or tensors[:1]
    ref = kept[0]
    axis = wrap_dim(dim, ref.dim())
    for t in kept:
        if t.dim() != ref.dim() or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref.shape))
                                       if i != axis):
            raise RuntimeError(f"Sizes of tensors must match except in dimension {axis}. "
                               f"Expected size {ref.shape} but got size {t.shape} for a tensor in "
                               f"the list.")
    dtype = result_type(*tensors)
    shape = list(ref.shape)
    shape[axis] = sum(t.shape[axis] for t in kept)
    out = empty(shape, dtype, ref.device)
    nonempty = [t for t in kept if t.numel() > 0]
    if not nonempty:
        return out
    run("cat", (axis, len(nonempty)), nonempty, [out],
        lambda g, *xs: g.op("Concat", *[g.cast(x, dtype) for x in xs], axis=axis))
    return out


# -- padding ----------------------------------------------------------------------------------
@kernel("constant_pad_nd.default", dtypes=ALL, impl="onnx:Pad")
def constant_pad_nd(self, pad, value=0):
    pad = list(pad)
    if len(pad) % 2 or len(pad) // 2 > self.dim():
        raise RuntimeError(f"Length of pad must be even but instead it equals {len(pad)}")
    n = self.dim()
    begins, ends = [0] * n, [0] * n
    for i in range(len(pad) // 2):
        d = n - 1 - i
        begins[d], ends[d] = pad[2 * i], pad[2 * i + 1]
    shape = [s + b + e for s, b, e in zip(self.shape, begins, ends)]
    if any(s < 0 for s in shape):
        raise RuntimeError(f"The input size {list(self.shape)}, plus negative padding "
                           f"{pad} resulted in a negative output size")
    out = empty(shape, self.dtype, self.device)
    cdt = _carrier(self.dtype)
    if self.numel() == 0 or out.numel() == 0:
        return fill_(out, value) if out.numel() else out

    def build(g, x, v):
        return g.op("Pad", g.cast(x, cdt), g.ints(begins + ends), v, mode="constant")
    return run_into(out, "pad", (tuple(begins), tuple(ends)),
                    [self, Scalar(_convert(value, self.dtype), cdt)], build)


def _pad_source(size, begin, n, mode):
    """ATen's source index for each of the n outputs along one padded dim (negative pads crop)."""
    i = np.arange(n, dtype=np.int64) - begin
    if mode == "edge":
        return np.clip(i, 0, size - 1)
    i = np.abs(i)                                      # reflect about the first element ...
    return np.where(i > size - 1, 2 * (size - 1) - i, i)   # ... and about the last


def _mode_pad(mode):
    def fn(self, padding):
        padding = list(padding)
        n = self.dim()
        begins, ends = [0] * n, [0] * n
        for i in range(len(padding) // 2):
            d = n - 1 - i
            begins[d], ends[d] = padding[2 * i], padding[2 * i + 1]
            if mode == "reflect" and (padding[2 * i] >= self.shape[d] or
                                      padding[2 * i + 1] >= self.shape[d]):
                raise RuntimeError(f"Argument #4: Padding size should be less than the "
                                   f"corresponding input dimension, but got: padding "
                                   f"({padding[2 * i]}, {padding[2 * i + 1]}) at dimension {d} "
                                   f"of input {list(self.shape)}")
        shape = [s + b + e for s, b, e in zip(self.shape, begins, ends)]
        out = empty(shape, self.dtype, self.device)
        if out.numel() == 0:
            return out
        if self.numel() == 0:
            raise RuntimeError(f"{mode} padding of an empty dimension: input {list(self.shape)}")
        # a Gather per padded dim with ATen's index map: exact for negative pads too, and
        # Gather moves every dtype (ORT's Pad has no bf16 and refuses edge-padding empty dims)
        dims = [d for d in range(n) if begins[d] or ends[d]]
        maps = [_pad_source(self.shape[d], begins[d], shape[d], mode) for d in dims]

        def build(g, x, *idx):
            for d, i in zip(dims, idx):
                x = g.op("Gather", x, i, axis=d)
            return x
        return run_into(out, f"pad.{mode}", tuple(dims), [self] + maps, build)
    return fn


for _dims in (1, 2, 3):
    kernel(f"reflection_pad{_dims}d.default", dtypes=ALL, impl="onnx:Gather (reflect map)")(
        _mode_pad("reflect"))
    kernel(f"replication_pad{_dims}d.default", dtypes=ALL, impl="onnx:Gather (edge map)")(
        _mode_pad("edge"))


def _convert(value, dtype):
    """A Python number converted the way ATen converts a Scalar into `dtype`."""
    if dtype == torch.bool:
        return bool(value)
    if dtype.is_floating_point:
        return torch.tensor(float(value), dtype=dtype).item()
    return int(value)


# -- fill / factories live in factory.py; fill_ is used here for empty-input padding ----------
def fill_(out, value):
    from .factory import fill_scalar_
    return fill_scalar_(out, value)


# -- flip / roll / repeat / tril / triu -------------------------------------------------------
@kernel("flip.default", dtypes=ALL, impl="onnx:Slice")
def flip(self, dims):
    dims = sorted({wrap_dim(d, self.dim()) for d in dims})
    out = empty(self.shape, self.dtype, self.device)
    if not dims or self.numel() == 0:
        return run_into(out, "identity", (), [self], lambda g, x: g.op("Identity", x))
    big = np.iinfo(np.int64).min
    return run_into(out, "flip", tuple(dims), [self], lambda g, x: g.op(
        "Slice", x, g.ints([-1] * len(dims)), g.ints([big] * len(dims)), g.ints(dims),
        g.ints([-1] * len(dims))))


@kernel("roll.default", dtypes=ALL, impl="onnx:Gather")
def roll(self, shifts, dims=()):
    shifts, dims = list(shifts), list(dims)
    if not dims:      # roll the flattened tensor
        flat = self.reshape(-1)
        return roll(flat, shifts, [0]).view(self.shape)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:"
                           f"{len(dims)}")
    dims = [wrap_dim(d, self.dim()) for d in dims]
    out = empty(self.shape, self.dtype, self.device)
    index_arrays = []
    for d, s in zip(dims, shifts):
        n = self.shape[d]
        index_arrays.append((np.arange(n, dtype=np.int64) - s) % max(n, 1))

    def build(g, x, *idx):
        for d, i in zip(dims, idx):
            x = g.op("Gather", x, i, axis=d)
        return x
    return run_into(out, "roll", tuple(dims), [self] + index_arrays, build)


@kernel("repeat.default", dtypes=ALL, impl="onnx:Tile")
def repeat(self, repeats):
    repeats = list(repeats)
    if len(repeats) < self.dim():
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of "
                           "dimensions of tensor")
    lead = len(repeats) - self.dim()
    padded = [1] * lead + list(self.shape)
    shape = [s * r for s, r in zip(padded, repeats)]
    out = empty(shape, self.dtype, self.device)
    if out.numel() == 0:
        return out
    cdt = _carrier(self.dtype, (torch.float32, torch.float64, torch.float16, torch.int64,
                                torch.int32, torch.int8, torch.uint8, torch.bool))

    def build(g, x, shp, reps):
        return g.op("Tile", g.op("Reshape", g.cast(x, cdt), shp), reps)
    return run_into(out, "repeat", (len(padded),), [self, _shape_arr(padded), _shape_arr(repeats)],
                    build)


def _trilu(upper):
    def fn(self, diagonal=0):
        if self.dim() < 2:
            raise RuntimeError(f"{'triu' if upper else 'tril'}: input tensor must have at least 2 "
                               f"dimensions")
        cdt = _carrier(self.dtype, (torch.float32, torch.float64, torch.float16, torch.int64,
                                    torch.int32, torch.bool))
        out = empty(self.shape, self.dtype, self.device)
        if out.numel() == 0:
            return out
        return run_into(out, "trilu", (upper,), [self, Scalar(int(diagonal), torch.int64)],
                        lambda g, x, k: g.op("Trilu", g.cast(x, cdt), k, upper=int(upper)))

    def fn_(self, diagonal=0):
        res = fn(self, diagonal)
        self.copy_(res)
        return self
    return fn, fn_


for _n, _up in (("tril", False), ("triu", True)):
    _f, _f_ = _trilu(_up)
    kernel(f"{_n}.default", dtypes=ALL, impl="onnx:Trilu")(_f)
    kernel(f"{_n}_.default", dtypes=ALL, impl="onnx:Trilu")(_f_)


# -- slice / select: backward and scatter -----------------------------------------------------
def _slice_range(size, start, end, step):
    """ATen's clamping of slice bounds."""
    start = 0 if start is None else start
    end = size if end is None else end
    if start < 0:
        start += size
    if end < 0:
        end += size
    start = min(max(start, 0), size)
    end = min(max(end, start), size)
    return start, end, step


def _place(name, base, src, dim, start, end, step, out):
    """out = base with `src` written into base[start:end:step] along `dim` (base None: zeros)."""
    n = src.shape[dim] if src.dim() else 1
    index = (start + step * np.arange(n, dtype=np.int64))
    idx_shape = [1] * src.dim()
    if src.dim():
        idx_shape[dim] = -1
    full = _shape_arr(out.shape)
    src_shape = _shape_arr(src.shape)
    dtype = out.dtype
    cdt = torch.int32 if dtype == torch.int16 else dtype    # ScatterElements lacks int16

    def build(g, b, s, i, shp, sshp):
        s = g.cast(s, cdt)
        b = g.fill(shp, 0, cdt) if b is None else g.cast(b, cdt)
        ii = g.op("Expand", g.op("Reshape", i, g.ints(idx_shape)), sshp)
        return g.op("ScatterElements", b, ii, s, axis=dim)
    return run_into(out, name, (dim, base is None, src.dim()), [base, src, index, full, src_shape],
                    build)


@kernel("slice_backward.default", dtypes=ALL, impl="onnx:ScatterElements")
def slice_backward(grad_output, input_sizes, dim, start, end, step):
    dim = wrap_dim(dim, len(input_sizes))
    start, end, step = _slice_range(input_sizes[dim], start, end, step)
    out = empty(input_sizes, grad_output.dtype, grad_output.device)
    return _place("slice_backward", None, grad_output, dim, start, end, step, out)


@kernel("slice_scatter.default", dtypes=ALL, impl="onnx:ScatterElements")
def slice_scatter(self, src, dim=0, start=None, end=None, step=1):
    dim = wrap_dim(dim, self.dim())
    start, end, step = _slice_range(self.shape[dim], start, end, step)
    out = empty(self.shape, self.dtype, self.device)
    return _place("slice_scatter", self, src, dim, start, end, step, out)


@kernel("select_backward.default", dtypes=ALL, impl="onnx:ScatterElements")
def select_backward(grad_output, input_sizes, dim, index):
    dim = wrap_dim(dim, len(input_sizes))
    index = index + input_sizes[dim] if index < 0 else index
    out = empty(input_sizes, grad_output.dtype, grad_output.device)
    return _place("select_backward", None, grad_output.unsqueeze(dim), dim, index, index + 1, 1,
                  out)


@kernel("select_scatter.default", dtypes=ALL, impl="onnx:ScatterElements")
def select_scatter(self, src, dim, index):
    dim = wrap_dim(dim, self.dim())
    index = index + self.shape[dim] if index < 0 else index
    out = empty(self.shape, self.dtype, self.device)
    return _place("select_scatter", self, src.unsqueeze(dim), dim, index, index + 1, 1, out)


# -- sort / topk / nonzero --------------------------------------------------------------------
_TOPK_TYPES = (torch.float32, torch.float64, torch.float16, torch.int64, torch.int32,
               torch.int8, torch.uint8)


def _topk_graph(g, x, k, axis, largest, dtype):
    """Values and int64 indices of TopK along `axis`; NaN ranks above +inf like ATen's sort."""
    cdt = _carrier(dtype, _TOPK_TYPES)
    xc = g.cast(x, cdt)
    key = xc
    if cdt.is_floating_point:
        big = g.const(float("inf"), cdt)
        key = g.op("Where", g.op("IsNaN", xc), big, xc)
    _, idx = g.op("TopK", key, k, outputs=2, axis=axis, largest=int(largest), sorted=1)
    values = g.op("GatherElements", x, idx, axis=axis)
    return values, idx


def _sort(self, stable, dim, descending):
    axis = wrap_dim(dim, self.dim()) if self.dim() else 0
    values = empty(self.shape, self.dtype, self.device)
    indices = empty(self.shape, torch.int64, self.device)
    if self.numel() == 0:
        return values, indices
    if self.dim() == 0:
        values.copy_(self)
        indices.zero_()
        return values, indices
    k = np.asarray([self.shape[axis]], dtype=np.int64)
    run("sort", (axis, bool(descending)), [self, k], [values, indices],
        lambda g, x, kk: list(_topk_graph(g, x, kk, axis, descending, self.dtype)))
    return values, indices


@kernel("sort.default", dtypes=FLOATS | INTS, impl="onnx:TopK")
def sort(self, dim=-1, descending=False):
    return _sort(self, None, dim, descending)


@kernel("sort.stable", dtypes=FLOATS | INTS, impl="onnx:TopK")
def sort_stable(self, *, stable=None, dim=-1, descending=False):
    # ORT's TopK keeps equal keys in index order (ONNX spec), so every sort here is stable
    return _sort(self, stable, dim, descending)


@kernel("topk.default", dtypes=FLOATS | INTS, impl="onnx:TopK")
def topk(self, k, dim=-1, largest=True, sorted=True):
    axis = wrap_dim(dim, self.dim()) if self.dim() else 0
    size = self.shape[axis] if self.dim() else 1
    if not 0 <= k <= size:
        raise RuntimeError("selected index k out of range")
    shape = list(self.shape)
    if self.dim():
        shape[axis] = k
    values = empty(shape, self.dtype, self.device)
    indices = empty(shape, torch.int64, self.device)
    if values.numel() == 0:
        return values, indices
    if self.dim() == 0:
        values.copy_(self)
        indices.zero_()
        return values, indices
    kk = np.asarray([k], dtype=np.int64)
    run("topk", (axis, bool(largest)), [self, kk], [values, indices],
        lambda g, x, kv: list(_topk_graph(g, x, kv, axis, largest, self.dtype)))
    return values, indices


@kernel("nonzero.default", dtypes=ALL, impl="onnx:NonZero")
def nonzero(self):
    """Two runs: count the nonzeros (the output shape depends on data), then NonZero into an
    output of that shape."""
    count = torch.zeros((), dtype=torch.int64)     # host scalar
    run("nonzero.count", (), [self], [count],
        lambda g, x: g.op("ReduceSum", g.cast(g.cast(x, torch.bool), torch.int64), keepdims=0))
    n = int(count.item())
    out = empty((n, self.dim()), torch.int64, self.device)
    if n == 0:
        return out

    def build(g, x):
        x = g.cast(x, torch.bool)
        if self.dim() == 0:
            return g.op("Reshape", g.op("NonZero", x), g.ints([n, 0]))
        return g.op("Transpose", g.op("NonZero", x), perm=[1, 0])
    run("nonzero", (), [self], [out], build)
    return out

