"""Convolution (1-D/2-D/3-D, grouped, dilated, transposed) and its backward, as ONNX Conv and
ConvTranspose. deeplink tensors reach ATen's `convolution_overrideable` / its backward (the hook
ATen leaves for out-of-tree devices) or, claimed from the composite, `convolution` itself; both
names map to the same kernels.

Backward, non-transposed (transposed swaps the roles):
  grad_input  = ConvTranspose(grad_output, weight), output_padding chosen to restore the size;
  grad_weight = a convolution of the input with grad_output as its kernel: batch and channel
                axes exchanged, the forward's stride used as dilation and its dilation as stride,
                groups kept apart by folding them into the channel axis; cropped to the kernel;
  grad_bias   = grad_output summed over batch and space.
fp16/bf16 run in float32 (ORT's CPU Conv has float and fp16 kernels, no bf16).
"""
from __future__ import annotations

from .._vendor.execute import run
from .common import empty, opmath
from .registry import FLOATS_NO_F64, kernel


def _expand(values, k):
    values = list(values)
    return values * k if len(values) == 1 else values


def _conv_out(i, k, s, p, d):
    return (i + 2 * p - d * (k - 1) - 1) // s + 1


def _convt_out(i, k, s, p, d, op):
    return (i - 1) * s - 2 * p + d * (k - 1) + op + 1


def _params(input, weight, stride, padding, dilation, output_padding):
    k = input.dim() - 2
    return (_expand(stride, k), _expand(padding, k), _expand(dilation, k),
            _expand(output_padding, k), list(weight.shape[2:]))


def conv_transpose(g, x, w, b, strides, pads, dilations, output_padding, groups):
    """ConvTranspose with ATen's output_padding, which may reach max(stride, dilation) - 1; ORT's
    own attribute must stay below the stride, so the extra rows come from asymmetric pads
    (begin p, end p - output_padding) and, past the full extent, zero rows plus the bias."""
    k = len(strides)
    end = [p - o for p, o in zip(pads, output_padding)]
    beyond = [max(0, -e) for e in end]
    y = g.op("ConvTranspose", x, w, strides=strides, dilations=dilations, group=groups,
             pads=list(pads) + [max(0, e) for e in end])
    if any(beyond):
        y = g.op("Pad", y, g.ints([0] * (k + 2) + [0, 0] + beyond), mode="constant")
    if b is not None:
        y = g.op("Add", y, g.op("Reshape", b, g.ints([1, -1] + [1] * k)))
    return y


@kernel("convolution", "convolution_overrideable", dtypes=FLOATS_NO_F64,
        impl="onnx:Conv/ConvTranspose")
def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
                groups):
    if input.dim() < 3:
        raise RuntimeError(f"convolution: expected a batched input with spatial dims, got shape "
                           f"{list(input.shape)}")
    s, p, d, op, ks = _params(input, weight, stride, padding, dilation, output_padding)
    sp = list(input.shape[2:])
    if transposed:
        out_c = weight.shape[1] * groups
        out_sp = [_convt_out(i, kk, ss, pp, dd, oo) for i, kk, ss, pp, dd, oo in
                  zip(sp, ks, s, p, d, op)]
    else:
        out_c = weight.shape[0]
        out_sp = [_conv_out(i, kk, ss, pp, dd) for i, kk, ss, pp, dd in zip(sp, ks, s, p, d)]
    if any(o <= 0 for o in out_sp):
        raise RuntimeError(f"convolution: output size {out_sp} is too small for input {sp}, "
                           f"kernel {ks}")
    out = empty([input.shape[0], out_c] + out_sp, input.dtype, input.device)
    cdt = opmath(input.dtype)
    attrs = dict(strides=s, pads=p + p, dilations=d, group=groups)
    if transposed:
        attrs["output_padding"] = op

    def build(g, x, w, b):
        x, w, b = g.cast(x, cdt), g.cast(w, cdt), (g.cast(b, cdt) if b is not None else None)
        if transposed:
            return conv_transpose(g, x, w, b, s, p, d, op, groups)
        return g.op("Conv", *([x, w] + ([b] if b is not None else [])), **attrs)
    run("convolution", (bool(transposed), tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                                                       for k, v in attrs.items()))),
        [input, weight, bias], [out], build)
    return out


def _weight_grad(g, source, kernel_src, groups, fstride, fdilation, padding, ksize, cdt):
    """d(weight) for y = conv(source, w): a conv of `source` with `kernel_src` (the other
    operand) as its kernel, batch and channel axes exchanged, per group.
    source (N, g*Cs, *in), kernel_src (N, g*Ck, *out) -> (g*Ck, Cs, *ksize)."""
    k = len(ksize)
    zeros = [0] * k
    src = g.op("Reshape", g.cast(source, cdt), g.op("Concat", g.ints([0, groups, -1]),
                                                    _spatial(g, source, k), axis=0))
    src = g.op("Transpose", src, perm=[2, 1, 0] + list(range(3, 3 + k)))       # (Cs, g, N, *)
    src = g.op("Reshape", src, g.op("Concat", g.ints([0, -1]), _spatial(g, src, k, 3), axis=0))
    ker = g.op("Reshape", g.cast(kernel_src, cdt), g.op("Concat", g.ints([0, groups, -1]),
                                                        _spatial(g, kernel_src, k), axis=0))
    ker = g.op("Transpose", ker, perm=[1, 2, 0] + list(range(3, 3 + k)))       # (g, Ck, N, *)
    ker = g.op("Reshape", ker, g.op("Concat", g.ints([-1]), _dims(g, ker, [2]),
                                    _spatial(g, ker, k, 3), axis=0))
    r = g.op("Conv", src, ker, strides=fdilation, dilations=fstride, pads=padding + padding,
             group=groups)                                                     # (Cs, g*Ck, *k')
    r = g.op("Slice", r, g.ints(zeros), g.ints(ksize), g.ints(list(range(2, 2 + k))))
    return g.op("Transpose", r, perm=[1, 0] + list(range(2, 2 + k)))


def _spatial(g, x, k, start=2):
    return g.op("Slice", g.op("Shape", x), g.ints([start]), g.ints([start + k]))


def _dims(g, x, axes):
    return g.op("Gather", g.op("Shape", x), g.ints(axes), axis=0)


@kernel("convolution_backward", "convolution_backward_overrideable", dtypes=FLOATS_NO_F64,
        impl="onnx:ConvTranspose,Conv,ReduceSum")
def convolution_backward(grad_output, input, weight, bias_sizes, stride, padding, dilation,
                         transposed, output_padding, groups, output_mask):
    s, p, d, op, ks = _params(input, weight, stride, padding, dilation, output_padding)
    k = len(ks)
    cdt = opmath(input.dtype)
    want = [bool(m) for m in output_mask]
    outs = []
    if want[0]:
        outs.append(empty(input.shape, input.dtype, input.device))
    if want[1]:
        outs.append(empty(weight.shape, weight.dtype, weight.device))
    if want[2]:
        outs.append(empty((grad_output.shape[1],), grad_output.dtype, grad_output.device))
    if not outs:
        return None, None, None
    sp, gsp = list(input.shape[2:]), list(grad_output.shape[2:])
    restore = [i - _convt_out(o, kk, ss, pp, dd, 0) for i, o, kk, ss, pp, dd in
               zip(sp, gsp, ks, s, p, d)]

    def build(g, gy, x, w):
        gy, w = g.cast(gy, cdt), g.cast(w, cdt)
        res = []
        if want[0]:
            if transposed:
                # an output_padding >= stride leaves extra rows past the input: crop them
                gi = g.op("Conv", gy, w, strides=s, pads=p + p, dilations=d, group=groups)
                res.append(g.op("Slice", gi, g.ints([0] * k), g.ints(sp),
                                g.ints(list(range(2, 2 + k)))))
            else:
                res.append(conv_transpose(g, gy, w, None, s, p, d, restore, groups))
        if want[1]:
            if transposed:
                res.append(_weight_grad(g, gy, x, groups, s, d, p, ks, cdt))
            else:
                res.append(_weight_grad(g, x, gy, groups, s, d, p, ks, cdt))
        if want[2]:
            res.append(g.op("ReduceSum", gy, g.ints([0] + list(range(2, 2 + k))), keepdims=0))
        return res
    run("convolution_backward", (bool(transposed), tuple(s), tuple(p), tuple(d), tuple(ks),
                                 tuple(restore), tuple(sp) if transposed else (), groups,
                                 tuple(want)),
        [grad_output, input, weight], outs, build)
    it = iter(outs)
    return tuple(next(it) if w_ else None for w_ in want)

