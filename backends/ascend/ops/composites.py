"""Kernels built from several aclnn calls: dropout, the foreach (multi-tensor)
optimizer ops and slice_backward. Each is referenced from an op-table entry (`run=`), which also
lists the aclnn functions it calls."""
from __future__ import annotations

import torch

from .._vendor.aclnn import acl_dtype


def native_dropout(b):
    """aten native_dropout: out = input * keep / (1 - p) with keep ~ Bernoulli(1 - p); mask = keep.
    The random stream is the device's (aclnnInplaceBernoulli seeded from the deeplink generator),
    so masks are reproducible under torch.manual_seed but differ from CPU/CUDA masks."""
    r = b.runner
    x, p, train = b.args["input"], float(b.args["p"]), b.args.get("train")
    out, mask = r.empty_like(x), r.empty_like(x, torch.bool)
    if x.numel() == 0:
        return out, mask
    if train is not None and not train:
        r.copy_(out, x)
        r.fill(mask, True)
        return out, mask
    if p >= 1.0:
        r.zero(out)
        r.fill(mask, False)
        return out, mask
    keep = r.empty_like(x)
    seed, offset = r.random_seed(None, b.device)
    r.launch("aclnnInplaceBernoulli", b.device,
             lambda c: [c.tensor(keep, "keep"), c.scalar(1.0 - p, what="prob"), seed, offset], b.describe)
    r.launch("aclnnMul", b.device, lambda c: [c.tensor(x, "input"), c.tensor(keep, "keep"), c.tensor(out, "out")],
             b.describe)
    r.launch("aclnnInplaceMuls", b.device, lambda c: [c.tensor(out, "out"), c.scalar(1.0 / (1.0 - p), what="scale")],
             b.describe)
    r.launch("aclnnCast", b.device, lambda c: [c.tensor(keep, "keep"), acl_dtype(torch.bool), c.tensor(mask, "mask")],
             b.describe)
    return out, mask


def native_dropout_backward(b):
    r = b.runner
    g, mask, scale = b.args["grad_output"], b.args["mask"], float(b.args["scale"])
    out = r.empty_like(g)
    if g.numel():
        r.launch("aclnnMul", b.device, lambda c: [c.tensor(g, "grad_output"), c.tensor(mask, "mask"), c.tensor(out, "out")],
                 b.describe)
        r.launch("aclnnInplaceMuls", b.device, lambda c: [c.tensor(out, "out"), c.scalar(scale, what="scale")], b.describe)
    return out


def slice_backward(b):
    """Zeros of input_sizes with grad_output written into the sliced window (a strided view)."""
    r = b.runner
    g = b.args["grad_output"]
    out = r.empty(b.args["input_sizes"], g.dtype, b.device)
    r.zero(out)
    window = torch.ops.aten.slice.Tensor(out, b.args["dim"], b.args["start"], b.args["end"], b.args["step"])
    r.copy_(window, g)
    return out


def slice_scatter(b):
    """A copy of self with src written into self[start:end:step] along dim."""
    r = b.runner
    out = r.copy_(r.empty_like(b.args["self"]), b.args["self"])
    window = torch.ops.aten.slice.Tensor(out, b.args["dim"], b.args["start"], b.args["end"], b.args["step"])
    r.copy_(window, b.args["src"])
    return out


def select_scatter(b):
    r = b.runner
    out = r.copy_(r.empty_like(b.args["self"]), b.args["self"])
    r.copy_(torch.ops.aten.select.int(out, b.args["dim"], b.args["index"]), b.args["src"])
    return out


# -- foreach (multi-tensor) ops: one aclnn launch per tensor, as the optimizers call them ----------

def _each(b, aclnn, build):
    r = b.runner
    for i, t in enumerate(b.args["self"]):
        if t.numel():
            r.launch(aclnn, r.ctx.device_of(t), lambda c, i=i, t=t: build(c, i, t), b.describe)


def foreach_add_scalar_(b):
    alpha = b.args["scalar"]
    _each(b, "aclnnInplaceAdds", lambda c, i, t: [c.tensor(t), c.scalar(alpha), c.scalar(1)])


def foreach_add_tensor_(b):
    other, alpha = b.args["other"], b.args.get("alpha", 1)
    if b.is_host_scalar(other):
        value = other.item()
        _each(b, "aclnnInplaceAdds", lambda c, i, t: [c.tensor(t), c.scalar(value), c.scalar(alpha)])
    else:
        _each(b, "aclnnInplaceAdd", lambda c, i, t: [c.tensor(t), c.tensor(other), c.scalar(alpha)])


def foreach_add_list_(b):
    others, alpha = b.args["other"], b.args.get("alpha", 1)
    _each(b, "aclnnInplaceAdd", lambda c, i, t: [c.tensor(t), c.tensor(others[i]), c.scalar(alpha)])


def foreach_mul_scalar_(b):
    s = b.args["scalar"]
    _each(b, "aclnnInplaceMuls", lambda c, i, t: [c.tensor(t), c.scalar(s)])


def foreach_mul_tensor_(b):
    other = b.args["other"]
    if b.is_host_scalar(other):
        value = other.item()
        _each(b, "aclnnInplaceMuls", lambda c, i, t: [c.tensor(t), c.scalar(value)])
    else:
        _each(b, "aclnnInplaceMul", lambda c, i, t: [c.tensor(t), c.tensor(other)])


def foreach_mul_list_(b):
    others = b.args["other"]
    _each(b, "aclnnInplaceMul", lambda c, i, t: [c.tensor(t), c.tensor(others[i])])


def foreach_div_scalar_(b):
    s = b.args["scalar"]
    _each(b, "aclnnInplaceDivs", lambda c, i, t: [c.tensor(t), c.scalar(s)])


def foreach_div_scalarlist_(b):
    ss = b.args["scalars"]
    _each(b, "aclnnInplaceDivs", lambda c, i, t: [c.tensor(t), c.scalar(ss[i])])


def foreach_div_list_(b):
    others = b.args["other"]
    _each(b, "aclnnInplaceDiv", lambda c, i, t: [c.tensor(t), c.tensor(others[i])])


def _addc(aclnn, per_item: bool):
    def run(b):
        t1, t2 = b.args["tensor1"], b.args["tensor2"]
        if per_item:
            ss = b.args["scalars"]
            _each(b, aclnn, lambda c, i, t: [c.tensor(t), c.tensor(t1[i]), c.tensor(t2[i]), c.scalar(ss[i])])
        else:
            v = b.args.get("value", 1)
            _each(b, aclnn, lambda c, i, t: [c.tensor(t), c.tensor(t1[i]), c.tensor(t2[i]), c.scalar(v)])
    return run


foreach_addcdiv_scalar_ = _addc("aclnnInplaceAddcdiv", per_item=False)
foreach_addcdiv_scalarlist_ = _addc("aclnnInplaceAddcdiv", per_item=True)
foreach_addcmul_scalar_ = _addc("aclnnInplaceAddcmul", per_item=False)
foreach_addcmul_scalarlist_ = _addc("aclnnInplaceAddcmul", per_item=True)


def foreach_lerp_scalar_(b):
    ends, w = b.args["tensors1"], b.args["weight"]
    _each(b, "aclnnInplaceLerps", lambda c, i, t: [c.tensor(t), c.tensor(ends[i]), c.scalar(w)])


def foreach_sqrt(b):
    r = b.runner
    outs = [r.empty_like(t) for t in b.args["self"]]
    _each(b, "aclnnSqrt", lambda c, i, t: [c.tensor(t), c.tensor(outs[i])])
    return outs


def foreach_sqrt_(b):
    _each(b, "aclnnSqrt", lambda c, i, t: [c.tensor(t), c.tensor(t)])
