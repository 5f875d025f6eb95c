"""Variance and weight-norm gradients in plain ops. torch._decomp's variance goes through
prims.var, whose own implementation calls aten::var again, so on a backend without a variance
kernel it cannot run; group norm (speech and vision models) needs it. torch._decomp has no
decomposition of _weight_norm_interface_backward (nn.utils.weight_norm, Wav2Vec2's positional
convolution)."""
from __future__ import annotations

import math


def _dims(x, dim):
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        return list(range(x.dim()))
    return [dim] if isinstance(dim, int) else list(dim)


def var_mean(self, dim=None, *, correction=None, keepdim=False):
    dims = _dims(self, dim)
    mean = self.mean(dims, keepdim=True)
    centred = self - mean
    squares = centred.abs().square() if centred.is_complex() else centred * centred
    count = math.prod(self.size(d) for d in dims) if self.dim() else 1
    divisor = max(count - (1 if correction is None else correction), 0)
    var = squares.sum(dims, keepdim=keepdim) / divisor
    return var, mean if keepdim else mean.squeeze(dims)


def var(self, dim=None, *, correction=None, keepdim=False):
    return var_mean(self, dim, correction=correction, keepdim=keepdim)[0]


def weight_norm_interface_backward(grad_w, saved_v, saved_g, saved_norms, dim):
    """w = g * v / ||v|| (norm over every dim but `dim`): gradients for v and g."""
    reduce = [d for d in range(saved_v.dim()) if d != dim]
    dot = (grad_w * saved_v).sum(reduce, keepdim=True) if reduce else grad_w * saved_v
    grad_g = (dot / saved_norms).reshape(saved_g.shape)
    grad_v = saved_g / saved_norms * (grad_w - saved_v * (dot / (saved_norms * saved_norms)))
    return grad_v, grad_g


STATISTICS = {"var.correction": var, "var_mean.correction": var_mean,
              "_weight_norm_interface_backward": weight_norm_interface_backward}
