"""histc and masked_select in ops every backend has: backends whose vendor library has no
histogram or data-dependent selection (ONNX Runtime, Ascend's aclnn set emulated here) still run
mixture-of-experts routing (`torch.histc` of expert indices) and masked selects on the device."""
from __future__ import annotations

import math

import torch

_EXACT_IN_FLOAT64 = (torch.float64, torch.int64, torch.int32)


def histc(self, bins=100, min=0, max=0):
    """Counts per bin, as ATen's kernels count: values outside [min, max] and NaN are ignored, a
    value equal to max falls in the last bin, min == max means the data's range."""
    compute = torch.float64 if self.dtype in _EXACT_IN_FLOAT64 else \
        self.dtype if self.dtype in (torch.float32,) else torch.float32
    x = self.reshape(-1).to(compute)
    lo, hi = float(min), float(max)
    if lo == hi and x.numel():
        lo, hi = x.min().item(), x.max().item()
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"torch.histc: max must be larger than min (got min={lo}, max={hi})")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo}, {hi}] is not finite")
    keep = (x >= lo) & (x <= hi)  # false for NaN
    pos = torch.where(keep, (x - lo) * bins / (hi - lo), 0).floor().clamp(0, bins - 1).to(torch.int64)
    counts = torch.zeros(bins, dtype=compute, device=self.device).scatter_add(0, pos, keep.to(compute))
    return counts.to(self.dtype)


def masked_select(self, mask):
    values, keep = torch.broadcast_tensors(self, mask)
    return values.reshape(-1).index_select(0, keep.reshape(-1).nonzero().squeeze(1))


SELECTION = {"histc": histc, "masked_select": masked_select}
