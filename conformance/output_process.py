"""Recover a golden sample's `output_process_fn_grad` (which the golden file cannot store).

The golden `out` of some OpInfos went through that function (e.g. `svd` keeps `U.abs()` to remove
the sign ambiguity), so the backend's output must go through the same function before comparing.
We draw the OpInfo's samples again exactly as the recorder did (same seed, same subsampling) and
take the function of the regenerated sample whose inputs equal the stored ones:

* `torch.equal` on every tensor and `==` on every other argument: "regenerated (inputs equal)";
* else, same structure and every tensor within 1e-5 relative: "regenerated (inputs equal up to
  <max diff>)". Factorisation samples are built with CPU linear algebra, which differs in the last
  ulp between the recording machine's and this machine's BLAS; the function depends only on the
  sample's structure (which outputs to keep, how to normalise), so it is still the right one.
  The report labels such cases so.
* otherwise the case is skipped with the reason (no silent guess).
"""
from __future__ import annotations

import functools

import torch
from torch.utils._pytree import tree_flatten

from .opinfo_db import draw_samples, get_opinfo, has_identity_output_process

NEAR_RTOL = 1e-5


class NotRecoverable(Exception):
    """No regenerated sample matches the stored inputs."""


@functools.lru_cache(maxsize=64)
def _regenerated(key: str, dtype: torch.dtype, requires_grad: bool) -> tuple:
    return tuple(draw_samples(get_opinfo(key), key, dtype, requires_grad))


def _distance(stored, sample) -> float | None:
    """0.0 when bitwise equal, the largest relative tensor difference when only close,
    None when the structure or a non-tensor argument differs."""
    a, _ = tree_flatten(stored)
    b, _ = tree_flatten((sample.input, sample.args, sample.kwargs))
    if len(a) != len(b):
        return None
    worst = 0.0
    for x, y in zip(a, b):
        if isinstance(x, torch.Tensor) != isinstance(y, torch.Tensor):
            return None
        if not isinstance(x, torch.Tensor):
            if x != y and not (x != x and y != y):   # NaN scalars compare unequal
                return None
            continue
        if x.shape != y.shape or x.dtype != y.dtype or x.layout != y.layout:
            return None
        if x.layout != torch.strided:
            x, y = x.to_dense(), y.to_dense()
        if torch.equal(x, y) or x.numel() == 0:
            continue
        xd, yd = x.detach().to(torch.float64 if not x.is_complex() else torch.complex128), \
            y.detach().to(torch.float64 if not y.is_complex() else torch.complex128)
        same_nan = xd.isnan() & yd.isnan()
        diff = torch.where(same_nan, torch.zeros_like(xd.abs()), (xd - yd).abs())
        scale = max(1.0, float(yd.abs().nan_to_num(0.0, 0.0, 0.0).max()))
        rel = float(diff.max()) / scale
        if not rel <= NEAR_RTOL:
            return None
        worst = max(worst, rel)
    return worst


def recover(key: str, dtype: torch.dtype, requires_grad: bool, index: int, stored) -> tuple:
    """(fn, how) for the golden sample `index` of `key` whose inputs are `stored`
    ((input, args, kwargs) as CPU values)."""
    samples = _regenerated(key, dtype, requires_grad)
    best, best_d = None, None
    # Try the sample at the same index first: it is the usual match and breaks ties.
    order = ([index] if index < len(samples) else []) + [i for i in range(len(samples)) if i != index]
    for i in order:
        d = _distance(stored, samples[i])
        if d is None:
            continue
        if best_d is None or d < best_d:
            best, best_d = samples[i], d
        if d == 0.0:
            break
    if best is None:
        raise NotRecoverable(
            f"{key} sample {index}: no sample drawn by this torch ({torch.__version__}) has the stored "
            "inputs, so its output_process_fn_grad cannot be recovered; re-record the golden data "
            "with `deeplink conformance record` on this torch version")
    fn = None if has_identity_output_process(best) else best.output_process_fn_grad
    how = "regenerated (inputs equal)" if best_d == 0.0 else \
        f"regenerated (inputs equal up to {best_d:.1e} relative)"
    return fn, how
